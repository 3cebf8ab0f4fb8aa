"""Struct drift between our cffi declarations and darknet.h is a build error.

The extension is built in cffi's API mode: the generated C includes the real darknet.h
and checks each declared field's type; CMakeLists.txt compiles it with
-Werror=incompatible-pointer-types.  Here we generate the extension source from the
shipped declarations (must compile) and from drifted copies (must not)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLAGS = ["-Werror=incompatible-pointer-types", "-Werror=int-conversion",
         "-Werror=implicit-function-declaration"]  # fmt: skip


def _builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_ffi", REPO / "tools" / "build_ffi.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _compiles(tmp_path: Path, darknet_dir: Path, replace: tuple[str, str] | None) -> bool:
    mod = _builder()
    cdef_dir = tmp_path / "cdef"
    shutil.copytree(mod.CDEF_DIR, cdef_dir)
    if replace:
        path = cdef_dir / "darknet.h"
        text = path.read_text()
        assert replace[0] in text
        path.write_text(text.replace(replace[0], replace[1], 1))
    mod.CDEF_DIR = cdef_dir
    out = tmp_path / "gen.c"
    mod.make_ffi().emit_c_code(str(out))
    cmd = ["cc", "-fsyntax-only", *FLAGS, f"-I{sysconfig.get_paths()['include']}",
           f"-I{darknet_dir / 'include'}", f"-I{REPO / 'csrc'}", str(out)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True).returncode == 0


@pytest.fixture
def darknet_include(darknet_dir: Path) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    return darknet_dir


def test_shipped_declarations_compile(tmp_path, darknet_include) -> None:  # type: ignore[no-untyped-def]
    assert _compiles(tmp_path, darknet_include, None)


@pytest.mark.parametrize(
    "drift",
    [
        ("    float *data;\n} image;", "    double *data;\n} image;"),  # wrong field type
        (
            "    int outputs;\n    int h, w, c;\n    int gpu_index;",
            "    int outputs;\n    float h, w, c;\n    int gpu_index;",
        ),
        ("    layer *layers;", "    layer *layers;\n    int no_such_field;"),  # field gone
    ],
    ids=["image.data", "network.hwc", "network.missing"],
)
def test_drifted_declarations_fail_to_build(tmp_path, darknet_include, drift) -> None:  # type: ignore[no-untyped-def]
    assert not _compiles(tmp_path, darknet_include, drift)
