#!/usr/bin/env bash
# The test command (README): installs what the tests need on a fresh machine, then runs
# pytest.  Needs: Debian/Ubuntu apt (for the reference `darknet` package), a C compiler,
# CMake, Python >= 3.10 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# 1. The original program and library, as references (Debian's package of the same commit).
if [ ! -x /usr/bin/darknet ] || [ ! -f /usr/lib/darknet/libdarknet.so ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq darknet >/dev/null
fi
# 1b. A headless browser for the web page's test (test_serve_browser.py skips without it).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      chromium chromium-driver >/dev/null; } || echo "run.sh: no chromium; the browser test skips" >&2
fi
# 1c. An aarch64 Python for the aarch64 wheel's test under qemu (test_wheel_aarch64.py
# skips without it): Debian's qemu-user and arm64 libpython (tools/qemu_python.py).
"$PY" tools/qemu_python.py --apt >/dev/null || echo "run.sh: no aarch64 Python; the qemu test skips" >&2
# 2. Darknet's source tree (its data/ images are the test images).
"$PY" tools/fetch_darknet_source.py darknet
# 3. pydarknet itself, with the test extras, and the real yolov3-tiny weights.
# (Run from tests/ so that the installed package, not the source folder, is imported.)
"$PY" -m pip install -q ".[test]"
cd tests
"$PY" -m pydarknet.cli download yolov3-tiny >/dev/null
# 4. The tests.
exec "$PY" -m pytest -q -p no:cacheprovider "$@" .
