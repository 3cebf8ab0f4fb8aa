"""Generate the C source of the cffi extension ``pydarknet._darknet`` (API mode).

Called by CMakeLists.txt:  python tools/build_ffi.py OUTPUT.c [MODULE]
MODULE is the extension's full name: ``pydarknet._darknet`` (default), or the CUDA
plugin's ``pydarknet_cu13._darknet``.
The declarations are the .h files in csrc/cdef/, joined in a fixed order.  In API mode
the generated file includes the real darknet.h, so the C compiler fills in and checks
every struct layout: a drift between our declarations and the library fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

CDEF_DIR = Path(__file__).resolve().parent.parent / "csrc" / "cdef"
CDEF_ORDER = ("darknet.h", "pydn.h", "pydn_device.h")


def make_ffi(module: str = "pydarknet._darknet") -> cffi.FFI:
    ffi = cffi.FFI()
    ffi.cdef("\n".join((CDEF_DIR / name).read_text() for name in CDEF_ORDER))
    headers = ("darknet.h", "pydn.h", "pydn_device.h")
    ffi.set_source(module, "".join(f'#include "{h}"\n' for h in headers))
    return ffi


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    make_ffi(*argv[2:3]).emit_c_code(str(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
