"""The release wheels (tools/build_wheels.py): built, audited, installed with no build step.

The CPU wheel is built as a release is (zig's clang for glibc 2.28, auditwheel repair),
its platform tag checked with plain ``auditwheel show``, then installed with
``--only-binary :all:`` into a fresh venv of the oldest Python it is for (3.10):
``pydarknet detect dog.jpg`` run from a folder outside the checkout must print
``./darknet detect``'s lines.  Where nvcc exists, the CUDA plugin wheel is built too and
checked: it uses NVIDIA's libraries from their wheels (none bundled) and stays small.
Neither library names the other wheels' libraries in NEEDED: pydarknet loads them before
the extension (pydarknet/_wheel_libs.py), so auditwheel counts no outside library.  The
first run installs the build tools into build/wheel-tools (about a minute); the CPU wheel
builds in about a minute on 2 cores, the plugin in about ten (all .cu files for six GPU
architectures).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import reference
from helpers.cpu_features import expected_kernels

REPO = Path(__file__).resolve().parent.parent
TOOLS_PYTHON = REPO / "build" / "wheel-tools" / "bin" / "python"
VERSION = re.search(r'(?m)^version = "(.+)"', (REPO / "pyproject.toml").read_text())[1]
CUDA_SONAMES = {"libcudart.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9"}

pytestmark = [
    pytest.mark.skipif(not (REPO / "tools" / "build_wheels.py").exists(), reason="no checkout"),
    pytest.mark.skipif(shutil.which("readelf") is None, reason="no readelf (binutils)"),
]


def python310() -> str | None:
    """A Python 3.10 that runs (pyenv's shims exist for versions not selected)."""
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))
    for candidate in [*map(str, pyenv), shutil.which("python3.10")]:
        if (
            candidate
            and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0
        ):
            return candidate
    return None


def build(dest: Path, *which: str) -> Path:
    subprocess.run([sys.executable, str(REPO / "tools" / "build_wheels.py"), str(dest), *which],
                   check=True, timeout=3600)  # fmt: skip
    (wheel,) = dest.glob("*.whl")
    return wheel


def auditwheel_show(wheel: Path) -> str:
    """The platform tag plain ``auditwheel show`` reports (tools env of build_wheels.py)."""
    out = subprocess.run([str(TOOLS_PYTHON), "-m", "auditwheel", "show", str(wheel)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    match = re.search(r'platform tag:\s*"([^"]+)"', out)
    assert match, out
    return match[1]


def undefined_symbols(path: Path) -> set[str]:
    out = subprocess.run(["nm", "-D", "--undefined-only", str(path)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def dynamic_section(path: Path) -> tuple[set[str], str]:
    """(NEEDED sonames, RUNPATH or RPATH) of an ELF file."""
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\).*\[(.+)\]", out))
    rpath = re.findall(r"\((?:RUNPATH|RPATH)\).*\[(.+)\]", out)
    return needed, rpath[0] if rpath else ""


@pytest.fixture(scope="module")
def cpu_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("cpu"), "--cpu", "--arch", platform.machine())


@pytest.fixture(scope="module")
def venv310(tmp_path_factory: pytest.TempPathFactory, cpu_wheel: Path) -> Path:
    python = python310()
    if python is None:
        pytest.skip("no Python 3.10 (the oldest the abi3 wheel is for)")
    venv = tmp_path_factory.mktemp("venv") / "py310"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--only-binary", ":all:", str(cpu_wheel)], check=True)  # fmt: skip
    return venv


def test_cpu_wheel_is_abi3_manylinux(cpu_wheel: Path, tmp_path: Path) -> None:
    assert re.fullmatch(rf"pydarknet-{re.escape(VERSION)}-cp310-abi3-(\S+)\.whl", cpu_wheel.name)
    assert "manylinux_2_28_x86_64" in cpu_wheel.name or "aarch64" in cpu_wheel.name
    assert re.fullmatch(r"manylinux_2_(1[0-9]|2[0-8])_\w+", auditwheel_show(cpu_wheel))
    with zipfile.ZipFile(cpu_wheel) as z:
        names = z.namelist()
        z.extractall(tmp_path)
    assert not [n for n in names if "openblas" in n.lower()], "OpenBLAS must not be bundled"
    assert "pydarknet/_darknet.abi3.so" in names
    # OpenBLAS comes from the scipy-openblas32 wheel, loaded by pydarknet before the
    # extension: its symbols are undefined in libdarknet, and no NEEDED entry names it.
    library = tmp_path / "pydarknet" / "libdarknet.so"
    needed, rpath = dynamic_section(library)
    assert not [n for n in needed if "openblas" in n] and "scipy_openblas32" not in rpath
    assert "scipy_cblas_sgemm" in undefined_symbols(library)
    listed = (tmp_path / "pydarknet" / "_wheel_libs_list.py").read_text()
    assert '("scipy_openblas32/lib", "libscipy_openblas.so", "scipy-openblas32")' in listed


def test_installed_wheel_detects_like_darknet(
    venv310: Path, tmp_path: Path, dog: str, tiny_cfg: str, tiny_weights: str
) -> None:
    if not reference.available():
        pytest.skip("Debian's darknet (the reference) is not installed")
    shutil.copy(dog, tmp_path / "dog.jpg")
    env = dict(os.environ, PYDARKNET_HOME=str(Path(tiny_weights).parent))
    env.pop("PYTHONPATH", None)
    res = subprocess.run([str(venv310 / "bin" / "pydarknet"), "detect", "dog.jpg"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert lines[0].startswith("dog.jpg: Predicted in ")
    assert lines[1:] == reference.cli_lines(tiny_cfg, tiny_weights, dog)
    code = ("import pydarknet as p, sys; from pydarknet import cpu; "
            "print(p.__version__, p.__file__, cpu.kernels(), sys.version_info[:2])")  # fmt: skip
    out = subprocess.run([str(venv310 / "bin" / "python"), "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert out[0] == VERSION and out[1].startswith(str(venv310)) and out[3:] == ["(3,", "10)"]
    # the wheel's kernels are picked at run time: the CPU's best, with zig's clang too
    assert out[2] == expected_kernels()
    version = subprocess.run([str(venv310 / "bin" / "pydarknet"), "--version"], env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert version.strip() == f"pydarknet {VERSION}"


def test_missing_openblas_wheel_is_named_at_import(venv310: Path, tmp_path: Path) -> None:
    """Without scipy-openblas32 the import says which wheel to install; without the
    preload, the extension alone cannot load (libdarknet's cblas symbols are undefined)."""
    python = str(venv310 / "bin" / "python")
    load_alone = (  # libdarknet.so by itself, pydarknet's __init__ not run
        "import ctypes, importlib.util\n"
        "folder = importlib.util.find_spec('pydarknet').submodule_search_locations[0]\n"
        "ctypes.CDLL(folder + '/libdarknet.so')\n"
    )
    alone = subprocess.run([python, "-c", load_alone], cwd=tmp_path, capture_output=True,
                           text=True)  # fmt: skip
    assert "undefined symbol: scipy_" in alone.stderr, alone.stderr
    pip = [python, "-m", "pip", "-q"]
    subprocess.run([*pip, "uninstall", "-y", "scipy-openblas32"], check=True)
    try:
        res = subprocess.run([python, "-c", "import pydarknet"], cwd=tmp_path,
                             capture_output=True, text=True)  # fmt: skip
        assert "ImportError" in res.stderr and "pip install scipy-openblas32" in res.stderr
    finally:
        subprocess.run([*pip, "install", "--only-binary", ":all:", "scipy-openblas32"], check=True)


def foreign_wheel(folder: Path) -> Path:
    """A wheel of another distribution ("other-darknet") that writes into pydarknet/, as
    wbia-pydarknet does."""
    files = {
        "pydarknet/_pydarknet.py": b"# another project's module\n",
        "other_darknet-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: other-darknet\n"
        b"Version: 1.0\n",
        "other_darknet-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()
    )
    files["other_darknet-1.0.dist-info/RECORD"] = (
        record + "other_darknet-1.0.dist-info/RECORD,,\n"
    ).encode()
    wheel = folder / "other_darknet-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


def test_foreign_pydarknet_files_are_named_at_import(venv310: Path, tmp_path: Path) -> None:
    python = str(venv310 / "bin" / "python")
    pip = [python, "-m", "pip", "-q"]
    subprocess.run([*pip, "install", "--no-index", str(foreign_wheel(tmp_path))], check=True)
    try:
        res = subprocess.run([python, "-c", "import pydarknet"], cwd=tmp_path,
                             capture_output=True, text=True)  # fmt: skip
        assert res.returncode != 0
        assert "ImportError" in res.stderr and "other-darknet 1.0" in res.stderr, res.stderr
        assert "pydarknet/_pydarknet.py" in res.stderr
    finally:
        subprocess.run([*pip, "uninstall", "-y", "other-darknet"], check=True)
    ok = subprocess.run([python, "-c", "import pydarknet"], cwd=tmp_path, capture_output=True)
    assert ok.returncode == 0, ok.stderr


def nvcc() -> str | None:
    return shutil.which("nvcc") or (
        "/usr/local/cuda/bin/nvcc" if os.access("/usr/local/cuda/bin/nvcc", os.X_OK) else None
    )


needs_nvcc = pytest.mark.skipif(nvcc() is None, reason="no nvcc: the plugin wheel is not built")


@pytest.fixture(scope="module")
def plugin_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("cu13"), "--cuda")


@needs_nvcc
def test_cuda_plugin_wheel_links_nvidia_wheels(
    plugin_wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wheel = plugin_wheel
    assert re.fullmatch(rf"pydarknet_cu13-{re.escape(VERSION)}-cp310-abi3-\S+\.whl", wheel.name)
    assert wheel.stat().st_size < 60 * 2**20, f"{wheel.stat().st_size} bytes: CUDA libs bundled?"
    assert re.fullmatch(r"manylinux_2_(1[0-9]|2[0-8])_\w+", auditwheel_show(wheel))
    folder = tmp_path_factory.mktemp("cu13-files")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(folder)
        metadata = z.read(f"pydarknet_cu13-{VERSION}.dist-info/METADATA").decode()
    assert all(n.startswith(("pydarknet_cu13/", "pydarknet_cu13-")) for n in names), names
    assert not [n for n in names if re.search(r"lib(cudart|cublas|curand|cudnn)", n)]
    # NVIDIA's libraries are loaded by pydarknet before the plugin's extension: the
    # library has their symbols undefined and names none of them in NEEDED.
    library = folder / "pydarknet_cu13" / "libdarknet_cu13.so"
    needed, rpath = dynamic_section(library)
    assert not CUDA_SONAMES & needed and "nvidia" not in rpath
    assert not {n for n in needed if "stdc++" in n}
    wanted = {"cudaMalloc", "cublasSgemm_v2", "curandCreateGenerator", "cudnnCreate"}
    assert wanted <= undefined_symbols(library)
    listed = (folder / "pydarknet_cu13" / "_wheel_libs_list.py").read_text()
    assert all(f'"{soname}"' in listed for soname in CUDA_SONAMES), listed
    assert '"nvidia/cudnn/lib", "libcudnn.so.9", "nvidia-cudnn-cu13"' in listed
    assert f"Requires-Dist: pydarknet=={VERSION}" in metadata
    assert "Requires-Dist: nvidia-cudnn-cu13" in metadata


PLUGIN_CHECK = """
import json, warnings, pydarknet
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    auto = pydarknet.Detector("yolov3-tiny")
cpu = pydarknet.Detector("yolov3-tiny", device="cpu")
try:
    pydarknet.Detector("yolov3-tiny", device="cuda:0")
    error = ""
except pydarknet.GPUError as exc:
    error = str(exc)
print(json.dumps({
    "gpus": pydarknet.gpu_count(), "gpu_build": pydarknet.cuda_info().gpu_build,
    "device": auto.net.device, "warnings": [str(w.message) for w in caught],
    "same": [d.to_dict() for d in auto.detect("dog.jpg")]
            == [d.to_dict() for d in cpu.detect("dog.jpg")],
    "error": error,
}))
"""


@needs_nvcc
def test_cu13_extra_installs_the_plugin_which_falls_back_without_gpu(
    venv310: Path, cpu_wheel: Path, plugin_wheel: Path, tmp_path: Path, dog: str, tiny_weights: str
) -> None:
    """pip install "pydarknet[cu13]" brings the plugin and NVIDIA's wheels; without a
    GPU the default device warns and detects like the CPU, cuda:0 raises GPUError."""
    python = str(venv310 / "bin" / "python")
    links = [a for w in (cpu_wheel, plugin_wheel) for a in ("--find-links", str(w.parent))]
    subprocess.run([python, "-m", "pip", "install", "-q", "--only-binary", ":all:", *links,
                    "pydarknet[cu13]"], check=True)  # fmt: skip
    shutil.copy(dog, tmp_path / "dog.jpg")
    env = dict(os.environ, PYDARKNET_HOME=str(Path(tiny_weights).parent))
    res = subprocess.run([python, "-c", PLUGIN_CHECK], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.splitlines()[-1])
    assert got["gpu_build"], "cuda_info() must describe the plugin's build"
    if got["gpus"]:
        assert got["device"] == "cuda:0" and not got["error"]
    else:
        assert got["device"] == "cpu" and got["same"]
        assert len(got["warnings"]) == 1 and "cannot use a GPU" in got["warnings"][0]
        assert got["error"].startswith("GPU 0 was asked for, but CUDA reports")
