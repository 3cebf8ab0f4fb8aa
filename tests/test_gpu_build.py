"""The GPU wheel builds from a clean clone where nvcc exists, even without a GPU.

Builds both wheels from a `git clone` of this checkout (about 1.5 minutes each on 2
cores): the GPU one (CMAKE_ARGS="-DDARKNET_GPU=ON -DDARKNET_CUDNN=ON") must link the
CUDA runtime, cuBLAS, cuRAND and cuDNN, find them through its RPATH into NVIDIA's
wheels, declare those wheels as dependencies, import, and fall back to the CPU where no
GPU can be used; the CPU one must stay free of all of that.  Skipped without nvcc or
without NVIDIA's CUDA 13 wheels in this Python (pip install nvidia-cuda-runtime
nvidia-cublas nvidia-curand nvidia-cudnn-cu13).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CUDA_LIBS = ("libcudart.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9")


def nvcc() -> str | None:
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc",) if os.access(p, os.X_OK)), None
    )


def nvidia_wheels_present() -> bool:
    code = (
        "import nvidia, pathlib; r=[pathlib.Path(p) for p in nvidia.__path__];"
        "print(any((p/'cudnn/lib/libcudnn.so.9').exists() for p in r) and "
        "any((p/'cu13/lib/libcublas.so.13').exists() for p in r))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return out.stdout.strip() == "True"


pytestmark = [
    pytest.mark.skipif(nvcc() is None, reason="no nvcc (CUDA toolkit) on this machine"),
    pytest.mark.skipif(
        not nvidia_wheels_present(),
        reason="NVIDIA's CUDA 13 wheels are not installed in this Python "
        "(pip install nvidia-cuda-runtime nvidia-cublas nvidia-curand nvidia-cudnn-cu13)",
    ),
    pytest.mark.skipif(
        shutil.which("git") is None or not (REPO / ".git").exists(), reason="not a git checkout"
    ),
    pytest.mark.skipif(shutil.which("readelf") is None, reason="no readelf (binutils)"),
    pytest.mark.skipif(
        importlib.util.find_spec("scikit_build_core") is None,
        reason="scikit-build-core is not installed in this Python (wheels build without isolation)",
    ),
]


def darknet_source() -> dict[str, str]:
    for tree in (
        os.environ.get("PYDARKNET_DARKNET_SRC", ""),
        REPO / "darknet",
        Path.home() / ".cache/pydarknet/darknet-src-61c9d02e",
    ):
        if tree and (Path(tree) / "src" / "network.c").is_file():
            return {"PYDARKNET_DARKNET_SRC": str(tree)}
    return {}


def build_wheel(src: Path, out: Path, cmake_args: str | None) -> Path:
    env = {**os.environ, **darknet_source(), "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
    env.pop("CMAKE_ARGS", None)
    if cmake_args:
        env["CMAKE_ARGS"] = cmake_args
        env["PATH"] = f"{Path(nvcc()).parent}:{env['PATH']}"  # type: ignore[arg-type]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(out),
        str(src),
    ]
    subprocess.run(cmd, env=env, check=True, timeout=1200)
    (wheel,) = out.glob("pydarknet-*.whl")
    return wheel


def dynamic_section(wheel: Path, tmp: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        z.extract("pydarknet/libdarknet.so", tmp)
    lib = tmp / "pydarknet" / "libdarknet.so"
    return subprocess.run(
        ["readelf", "-dS", str(lib)], capture_output=True, text=True, check=True
    ).stdout


def exported(wheel: Path, tmp: Path) -> str:
    """The library's dynamic symbols (readelf --dyn-syms)."""
    with zipfile.ZipFile(wheel) as z:
        z.extract("pydarknet/libdarknet.so", tmp)
    lib = tmp / "pydarknet" / "libdarknet.so"
    return subprocess.run(
        ["readelf", "--dyn-syms", "-W", str(lib)], capture_output=True, text=True, check=True
    ).stdout


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = z.read(name).decode()
    return [
        line.split(":", 1)[1].strip()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("clone") / "pydarknet"
    subprocess.run(["git", "clone", "-q", str(REPO), str(src)], check=True)
    return src


def test_gpu_wheel_links_cuda_and_runs_without_gpu(clone: Path, tmp_path: Path) -> None:
    wheel = build_wheel(clone, tmp_path / "gpu", "-DDARKNET_GPU=ON -DDARKNET_CUDNN=ON")
    elf = dynamic_section(wheel, tmp_path / "x")
    for soname in CUDA_LIBS:
        assert f"[{soname}]" in elf, soname
    assert "$ORIGIN/../nvidia/cu13/lib" in elf and "$ORIGIN/../nvidia/cudnn/lib" in elf
    assert ".nv_fatbin" in elf  # the kernels are in
    # the fork dialect's CUDA forwards (csrc/ab/ab_cuda.cu) are compiled and linked in
    symbols = exported(wheel, tmp_path / "y")
    for name in ("pydn_ab_forward_conv_gpu", "pydn_ab_forward_yolo_gpu", "pydn_ab_gpu_layer"):
        assert name in symbols, name
    reqs = " ".join(requirements(wheel))
    for dist in ("nvidia-cuda-runtime", "nvidia-cublas", "nvidia-curand", "nvidia-cudnn-cu13"):
        assert dist in reqs
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
    )
    # In a --target folder the RPATH finds no nvidia/ beside pydarknet: the import
    # loads NVIDIA's wheels from sys.path instead (pydarknet/_wheel_libs.py).
    script = """
import warnings, pydarknet
from pydarknet import models
info = pydarknet.cuda_info()
assert info.gpu_build and info.cudnn_build, info
print("gpu_available", pydarknet.gpu_available(), info.problem)
cfg = str(models.data_file("yolov3-tiny.cfg"))
if not pydarknet.gpu_available():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = pydarknet.load_net(cfg)
    assert net.device == "cpu" and any("CPU" in str(w.message) for w in caught)
    fork = pydarknet.load_net(cfg, device="cpu", dialect="alexeyab")  # csrc/ab, gpu_index -1
    assert fork.device == "cpu" and fork.dialect == "alexeyab"
    try:
        pydarknet.load_net(cfg, gpu=0)
        raise SystemExit("gpu=0 did not raise")
    except pydarknet.GPUError as exc:
        print("GPUError:", exc)
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "gpu_available" in out.stdout


def test_cpu_wheel_has_no_cuda(clone: Path, tmp_path: Path) -> None:
    wheel = build_wheel(clone, tmp_path / "cpu", None)
    elf = dynamic_section(wheel, tmp_path / "x")
    assert "cuda" not in elf.lower() and "cudnn" not in elf.lower() and "nvidia" not in elf
    assert "pydn_ab_forward_conv_gpu" not in exported(wheel, tmp_path / "y")
    assert not any(r.startswith("nvidia") for r in requirements(wheel))
