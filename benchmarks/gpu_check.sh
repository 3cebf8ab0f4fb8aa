#!/usr/bin/env bash
# benchmarks/gpu_check.sh [WHEEL...] - the GPU check, on a machine with a CUDA GPU.
#
#   1. Builds the GPU wheel from this checkout (CMAKE_ARGS="-DDARKNET_GPU=ON
#      -DDARKNET_CUDNN=ON"), or takes the WHEEL files given (pydarknet's plus any it
#      needs that the machine lacks, e.g. cffi), and installs them into a fresh folder.
#      The release wheels: benchmarks/gpu_check.sh dist/pydarknet-*.whl
#      dist/pydarknet_cu13-*.whl (tools/build_wheels.py dist; GPU networks then run on
#      the plugin, whose NVIDIA libraries are loaded from PYTHON's nvidia wheels).
#   2. Runs the test suite (tests/): the GPU tests run on GPU 0.
#   3. Runs the fork cfgs of the AlexeyAB dialect again, on their own, for the record
#      (tests/test_alexeyab_layers.py: yolov4-tiny, yolov7-tiny,
#      yolov4-sam-mish-csp-reorg-bfm and every other fork option against AlexeyAB's
#      own library on the CPU; then yolov4-tiny, yolov7-tiny and the fork-options cfg
#      on GPU 0 (csrc/ab/ab_cuda.cu) against the CPU: every layer's output, and the
#      detections alone, as a batch and at batch 1 again, |dp| <= 0.02, IoU >= 0.97).
#   4. Runs benchmarks/gpu_bench.py: GPU detections vs CPU ones (|dp| <= 0.02,
#      IoU >= 0.97) and per-image latency / throughput of yolov3-tiny and yolov3 at
#      batch 1 and 8.
#
# Environment: PYTHON (python3), IMAGES (darknet/data), REPEAT (20), GPU_CHECK_DIR (a new
# temporary folder).  The NVIDIA libraries come from the wheels importable by PYTHON
# (nvidia-cuda-runtime, nvidia-cublas, nvidia-curand, nvidia-cudnn-cu13) or the system.
# Exit status: non-zero when the build, a test or the GPU/CPU agreement fails.
set -euo pipefail
PY=${PYTHON:-python3}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${GPU_CHECK_DIR:-$(mktemp -d)}
IMAGES=${IMAGES:-$REPO/darknet/data}
export PYTHONUNBUFFERED=1

if [ $# -eq 0 ]; then
  echo "== building the GPU wheel"
  start=$(date +%s)
  CMAKE_ARGS="-DDARKNET_GPU=ON -DDARKNET_CUDNN=ON" "$PY" -m pip wheel -q --no-deps \
    --no-build-isolation -w "$WORK/wheel" "$REPO"
  echo "built in $(( $(date +%s) - start )) s"
  set -- "$WORK"/wheel/pydarknet-*.whl
fi
"$PY" -m pip install -q --no-deps --no-index --no-compile --target "$WORK/site" "$@"
export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"

echo "== machine"
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not available"
cd "$WORK"  # not the checkout, whose pydarknet/ has no compiled extension
"$PY" -c "import pydarknet; print(pydarknet.cuda_info())"

echo "== test suite"
status=0
"$PY" -m pytest -q -p no:cacheprovider --import-mode=importlib -rs "$REPO/tests" || status=1

echo "== AlexeyAB dialect (fork cfgs)"
"$PY" -m pytest -q -p no:cacheprovider --import-mode=importlib -rs \
  "$REPO/tests/test_alexeyab_layers.py" || status=1

echo "== GPU vs CPU, speed"
"$PY" "$REPO/benchmarks/gpu_bench.py" --images "$IMAGES" --repeat "${REPEAT:-20}" || status=1
exit $status
