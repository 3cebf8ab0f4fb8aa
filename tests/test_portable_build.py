"""The portable build (CMake -DDARKNET_PORTABLE=ON: csrc/fast without the x86 SIMD versions,
the code that ARM and other CPUs run, see csrc/fast/arch.h) detects what the default build
and the original program detect.

The library is built a second time, portable (CMake, libdarknet only: seconds), put beside
a copy of the installed package, and run in a subprocess on every image of darknet/data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import reference
from helpers.compare import NEAR, assert_reproduced
from helpers.cpu_features import expected_kernels

import pydarknet
from pydarknet import cpu
from pydarknet.api import raw_detect
from pydarknet.images import load_image

REPO = Path(__file__).resolve().parent.parent
THRESH = 0.25
LIB = "libdarknet.so"

pytestmark = pytest.mark.skipif(
    not cpu.fast_build()
    or shutil.which("cmake") is None
    or not (REPO / "CMakeLists.txt").is_file(),
    reason="needs the DARKNET_FAST build, CMake and the source checkout",
)

_DETECT = r"""
import json, sys
import pydarknet
from pydarknet.api import raw_detect
from pydarknet.images import load_image
site, cfg, weights, thresh = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
assert pydarknet.__file__.startswith(site), pydarknet.__file__
maps = open("/proc/self/maps").read()
assert site + "/pydarknet/libdarknet.so" in maps, "the portable library is not the one loaded"
out = {}
with pydarknet.load_net(cfg, weights) as net:
    for path in sys.argv[5:]:
        raw = raw_detect(net, load_image(path), thresh)
        rows, cols = raw.pairs()
        out[path] = [(int(j), float(raw.probs[i, j]), [float(v) for v in raw.boxes[i]])
                     for i, j in zip(rows, cols)]
print("JSON" + json.dumps(out))
"""


Dets = dict[str, list[tuple[int, float, list[float]]]]


def detections(net: pydarknet.Network, images: list[str]) -> Dets:
    """What the installed (default) build detects, in the subprocess' format."""
    out = {}
    for path in images:
        raw = raw_detect(net, load_image(path), THRESH - NEAR)
        rows, cols = raw.pairs()
        out[path] = [(int(j), float(raw.probs[i, j]), [float(v) for v in raw.boxes[i]])
                     for i, j in zip(rows, cols, strict=True)]  # fmt: skip
    return out


@pytest.fixture(scope="module")
def portable_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed package with a portable libdarknet.so."""
    tmp = tmp_path_factory.mktemp("portable")
    build = tmp / "build"
    subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
         "-DDARKNET_PORTABLE=ON", f"-DPython_EXECUTABLE={sys.executable}"],
        check=True, capture_output=True,
    )  # fmt: skip
    jobs = str(os.cpu_count() or 1)
    subprocess.run(
        ["cmake", "--build", str(build), "--target", "darknet", "-j", jobs],
        check=True, capture_output=True,
    )  # fmt: skip
    installed = Path(pydarknet.__file__).parent
    site = tmp / "site"
    shutil.copytree(installed, site / "pydarknet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(build / LIB, site / "pydarknet" / LIB)
    # The library's RPATH finds OpenBLAS at $ORIGIN/../scipy_openblas32/lib.
    import scipy_openblas32

    (site / "scipy_openblas32").symlink_to(Path(scipy_openblas32.__file__).parent)
    return site


def test_kernels_follow_the_cpu_and_the_switch(portable_site: Path) -> None:
    """The default build picks its kernels from the CPU at run time (AVX-512 where the
    CPU and the OS have it, else AVX2 with FMA), the portable one runs plain C only."""
    assert cpu.kernels() == expected_kernels()
    env = {**os.environ, "PYTHONPATH": str(portable_site)}
    code = "from pydarknet import cpu; print(cpu.kernels())"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=portable_site, check=True)  # fmt: skip
    assert run.stdout.strip() == "portable"


@pytest.mark.usefixtures("needs_reference")
def test_portable_build_detects_what_the_default_build_and_darknet_detect(
    portable_site: Path, net: pydarknet.Network, data_dir: Path, tiny_cfg: str, tiny_weights: str
) -> None:
    images = reference.data_images(data_dir)
    env = {**os.environ, "PYTHONPATH": str(portable_site)}
    run = subprocess.run(
        [sys.executable, "-c", _DETECT, str(portable_site), tiny_cfg, tiny_weights,
         str(THRESH - NEAR), *images],
        capture_output=True, text=True, env=env, cwd=portable_site, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("JSON"))
    portable: Dets = json.loads(line[4:])
    default = detections(net, images)
    ref = reference.library_detections(tiny_cfg, tiny_weights, images, 80, THRESH - NEAR)
    checked = 0
    for path in images:
        # The same kernels' plain C: the same detections up to rounding.
        assert [d[0] for d in portable[path]] == [d[0] for d in default[path]], path
        np.testing.assert_allclose([d[1] for d in portable[path]], [d[1] for d in default[path]],
                                   atol=1e-4)  # fmt: skip
        np.testing.assert_allclose([d[2] for d in portable[path]], [d[2] for d in default[path]],
                                   rtol=1e-4, atol=1e-3)  # fmt: skip
        checked += assert_reproduced(ref[path], portable[path], THRESH)
    assert checked >= 20  # 24 with yolov3-tiny on the 7 images
