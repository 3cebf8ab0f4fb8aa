"""The aarch64 wheel, installed and run under qemu-aarch64.

``tools/build_wheels.py --arch aarch64`` cross-builds it here (zig's clang); an aarch64
CPython (tools/qemu_python.py: Debian's libpython3.X:arm64 and a two-line program) runs
under Debian's qemu-aarch64 and does, emulated:

1. makes a venv and installs the wheel with pip, ``--only-binary :all:``, from the
   aarch64 wheels of its dependencies (numpy, OpenCV, cffi, scipy-openblas32, tqdm;
   downloaded by this machine's pip for manylinux aarch64);
2. ``pydarknet detect dog.jpg`` with yolov3-tiny: the lines must be those of
   ``./darknet detect`` (Debian's original program, on this x86-64 machine);
3. the microkernels' check of test_microkernels.py (every edge size against numpy),
   NEON and portable;
4. the kernel tests of test_packed_kernels.py (a small network of every kind of
   convolution the packed GEMM runs, and one of Winograd layers of each tile size)
   with the NEON kernels, the portable loops (``PYDN_KERNEL=portable``) and OpenBLAS
   (``PYDN_GEMM=openblas``), each against upstream's layers in the same process.

qemu is slow (a yolov3-tiny pass takes 13 s), so the emulated work is kept that small:
3.3 minutes in all on 2 cores at load 7, 4.7 at load 13 (the wheel's build, a minute,
not counted; the setup, pip under qemu included, is a third of it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import reference
from test_microkernels import run_check
from test_packed_kernels import GEMM_CFG
from test_wheels import TOOLS_PYTHON, auditwheel_show, build
from test_winograd import WINO_CFG, ran, run_modes

REPO = Path(__file__).resolve().parent.parent
QEMU = shutil.which("qemu-aarch64")
LIBPYTHON = sorted(Path("/usr/lib/aarch64-linux-gnu").glob("libpython3.*.so.1.0"))

NO_PYTHON = "no aarch64 libpython3.X: python3 tools/qemu_python.py --apt (tests/run.sh does)"
pytestmark = [
    pytest.mark.skipif(not (REPO / "tools" / "build_wheels.py").exists(), reason="no checkout"),
    pytest.mark.skipif(QEMU is None, reason="no qemu-aarch64 (apt-get install qemu-user)"),
    pytest.mark.skipif(not LIBPYTHON, reason=NO_PYTHON),
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("aarch64"), "--cpu", "--arch", "aarch64")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A venv of the aarch64 Python with the wheel installed by pip, under qemu."""
    tmp = tmp_path_factory.mktemp("qemu")
    made = subprocess.run([str(TOOLS_PYTHON), str(REPO / "tools" / "qemu_python.py"),
                           str(tmp / "python")], capture_output=True, text=True)  # fmt: skip
    if made.returncode:
        pytest.skip(made.stderr.strip())
    python = made.stdout.strip()
    version = Path(python).name.removeprefix("python")
    deps = tmp / "wheels"  # the dependencies' aarch64 wheels, and pip's
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:",
                    "--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_28_aarch64",
                    "--python-version", version, "--implementation", "cp", "-d", str(deps),
                    str(wheel), "pip"], check=True, timeout=600)  # fmt: skip
    (pip,) = deps.glob("pip-*.whl")
    venv = tmp / "venv"
    subprocess.run([QEMU, python, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([QEMU, str(venv / "bin" / "python"), f"{pip}/pip", "install", "-q",
                    "--no-index", "--find-links", str(deps), "--only-binary", ":all:",
                    str(wheel)], check=True, timeout=900)  # fmt: skip
    return venv


def emulated(venv: Path, *args: str) -> tuple[str, ...]:
    """The command that runs the venv's aarch64 Python under qemu."""
    assert QEMU is not None
    return (QEMU, str(venv / "bin" / "python"), *args)


def test_aarch64_wheel_is_manylinux2014(wheel: Path, tmp_path: Path) -> None:
    assert wheel.name.endswith("manylinux_2_17_aarch64.whl"), wheel.name
    assert auditwheel_show(wheel) == "manylinux_2_17_aarch64"
    with zipfile.ZipFile(wheel) as z:
        assert not [n for n in z.namelist() if "openblas" in n.lower()]
        z.extract("pydarknet/libdarknet.so", tmp_path)
    header = subprocess.run(["readelf", "-h", str(tmp_path / "pydarknet" / "libdarknet.so")],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "AArch64" in header


@pytest.mark.usefixtures("needs_reference")
def test_aarch64_wheel_detects_like_darknet_under_qemu(
    venv: Path, tmp_path: Path, dog: str, tiny_cfg: str, tiny_weights: str
) -> None:
    shutil.copy(dog, tmp_path / "dog.jpg")
    env = dict(os.environ, PYDARKNET_HOME=str(Path(tiny_weights).parent))
    env.pop("PYTHONPATH", None)
    cli = str(venv / "bin" / "pydarknet")  # the console script pip wrote
    res = subprocess.run(emulated(venv, cli, "detect", "dog.jpg"), cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert lines[0].startswith("dog.jpg: Predicted in ")
    assert lines[1:] == reference.cli_lines(tiny_cfg, tiny_weights, dog)
    code = ("import platform, pydarknet as p; from pydarknet import cpu; "
            "print(platform.machine(), cpu.kernels(), p.__file__)")  # fmt: skip
    out = subprocess.run(emulated(venv, "-c", code), cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert out[:2] == ["aarch64", "neon"] and out[2].startswith(str(venv))


def test_neon_gemm_kernel_computes_what_upstream_computes_under_qemu(
    venv: Path, tmp_path: Path, dog: str
) -> None:
    modes = {  # PYDN_GEMM=packed: the kernels even where the set's table says OpenBLAS
        "neon": {"PYDN_GEMM": "packed"},
        "portable": {"PYDN_KERNEL": "portable", "PYDN_GEMM": "packed"},
        "openblas": {"PYDN_GEMM": "openblas"},
    }
    results = run_modes(tmp_path, dog, GEMM_CFG, modes, emulated(venv))
    upstream = results["openblas"][1]
    assert np.isfinite(upstream).all() and upstream.std() > 0.05
    for mode, (fast, up) in results.items():
        np.testing.assert_array_equal(up, upstream)  # upstream's layers, whatever the mode
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)
        convs = [k for k in ran(tmp_path, mode) if k]
        assert convs == [f"gemm/{mode}" if mode != "openblas" else "openblas"] * 5, mode
    # the NEON kernel and the portable loops (one FMA per row in order, each) may agree
    # bit for bit; OpenBLAS sums in another order
    assert not np.array_equal(results["neon"][0], results["openblas"][0])


def test_neon_winograd_kernel_computes_what_upstream_computes_under_qemu(
    venv: Path, tmp_path: Path, dog: str
) -> None:
    modes = {f"{level}{m}": {"PYDN_WINOGRAD": m, "PYDN_KERNEL": level}
             for level in ("neon", "portable") for m in ("2", "4")}  # fmt: skip
    modes["im2col"] = {"PYDN_WINOGRAD": "0"}
    results = run_modes(tmp_path, dog, WINO_CFG, modes, emulated(venv))
    upstream = results["im2col"][1]
    assert np.isfinite(upstream).all() and upstream.std() > 0.05
    for mode, (fast, up) in results.items():
        np.testing.assert_array_equal(up, upstream)
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)
        if mode != "im2col":  # every 3x3 stride-1 layer on that level's product
            winograd = [k for k in ran(tmp_path, mode) if k.startswith("winograd")]
            assert len(winograd) == 5 and set(winograd) == {f"winograd{mode[-1]}/{mode[:-1]}"}
            assert not np.array_equal(fast, results["im2col"][0]), mode
    assert not [k for k in ran(tmp_path, "im2col") if k.startswith("winograd")]


@pytest.mark.parametrize("level", ["neon", "portable"])
def test_microkernels_at_every_edge_size_under_qemu(venv: Path, level: str) -> None:
    assert run_check(emulated(venv), level)[:2] == ["ok", level]
