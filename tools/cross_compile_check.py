"""Cross-compile every C file of libdarknet for other CPUs (default: 64-bit ARM and POWER).

The default build must compile on non-x86 CPUs (Jetson boards, Raspberry Pis), so CI checks
it here on x86 with zig's clang (the `ziglang` package from PyPI, a complete cross compiler).
Two targets: ARM and POWER, where x86-only code (target attributes, <immintrin.h>,
<cpuid.h>; csrc/fast/arch.h keeps it behind PYDN_X86_SIMD) must not reach the compiler.

1. CMake configures this project on this machine (configure only, Release as pip builds it)
   and writes compile_commands.json: the exact flags and defines of every C file of the
   library, the force-included csrc/pydn_trap.h included.
2. Each command is run again with `python -m ziglang cc -target TARGET`, compile only.
   OpenBLAS's headers come from the scipy-openblas32 wheel for the target CPU (`pip
   download`), since its openblas_config.h differs per CPU.
3. Each target's own microkernels (csrc/fast/arch/kernel_neon.c on ARM) must have been
   compiled, not left an empty unit by their #if: the object defines their table.
4. With --link, the objects are also linked into the target's libdarknet.so against that
   wheel's libscipy_openblas.so, as CMakeLists.txt links it.

Usage: python tools/cross_compile_check.py [--target aarch64-linux-gnu ...] [--link]
Exit status 0 when every file compiles (and links) for every target; else the compiler's
errors and 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import scipy_openblas32  # CMake's configure needs it too (DARKNET_FAST)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGETS = ["aarch64-linux-gnu", "powerpc64le-linux-gnu"]
# The wheel platform of each zig target (those scipy-openblas32 has wheels for; glibc
# only: csrc/pydn_trap.h replaces glibc's __assert_fail).
WHEEL_PLATFORMS = {
    "aarch64-linux-gnu": "manylinux2014_aarch64",
    "powerpc64le-linux-gnu": "manylinux2014_ppc64le",
    "s390x-linux-gnu": "manylinux2014_s390x",
}

# The microkernels each target compiles (csrc/fast/arch/kernel_<isa>.c).
TARGET_KERNELS = {"aarch64-linux-gnu": "neon"}


def compile_commands(build: Path) -> list[dict]:
    """The library's C compile commands, from a CMake configure of this project."""
    subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
         "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", f"-DPython_EXECUTABLE={sys.executable}"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    entries = json.loads((build / "compile_commands.json").read_text())
    # Generated files (the cffi extension's source) are not ours to port.
    return [e for e in entries if not Path(e["file"]).is_relative_to(build)]


def target_openblas(target: str, into: Path) -> Path:
    """The scipy-openblas32 package of the target CPU, unpacked; returns its folder."""
    platform = WHEEL_PLATFORMS[target]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--platform", platform, "-d", str(into), "scipy-openblas32"],
        check=True,
    )  # fmt: skip
    (wheel,) = into.glob("scipy_openblas32-*.whl")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(into)
    return into / "scipy_openblas32"


def cross_command(entry: dict, target: str, obj: Path, openblas_include: Path) -> list[str]:
    """The entry's command with zig's clang for `target`, writing `obj`."""
    args = entry.get("arguments") or shlex.split(entry["command"])
    out = args.index("-o")
    args = args[1:out] + args[out + 2 :]  # drop the host compiler and its -o
    host_include = scipy_openblas32.get_include_dir()
    args = [a.replace(host_include, str(openblas_include)) for a in args]
    # zig cc adds UBSan traps to unoptimized code; the CMake build does not.
    return [sys.executable, "-m", "ziglang", "cc", "-target", target, "-fno-sanitize=all",
            *args, "-o", str(obj)]  # fmt: skip


def kernels_compiled(target: str, entries: list[dict], objs: list[Path]) -> bool:
    """The target's kernel file defines its table (pydn_kernels_<isa>)."""
    isa = TARGET_KERNELS.get(target)
    if isa is None:
        return True
    (obj,) = [o for e, o in zip(entries, objs, strict=True)
              if e["file"].endswith(f"arch/kernel_{isa}.c")]  # fmt: skip
    symbols = subprocess.run(["readelf", "-Ws", str(obj)], capture_output=True, text=True,
                             check=True).stdout.splitlines()  # fmt: skip
    if any(ln.split()[-1:] == [f"pydn_kernels_{isa}"] and " UND " not in ln for ln in symbols):
        print(f"{target}: {isa} kernels compiled")
        return True
    print(f"{target}: FAILED arch/kernel_{isa}.c defines no pydn_kernels_{isa}")
    return False


def check(target: str, entries: list[dict], tmp: Path, link: bool, jobs: int) -> bool:
    """Compile (and link) for one target; print what failed.  True when all passed."""
    openblas = target_openblas(target, tmp / "openblas")
    objs = [tmp / f"{i}.o" for i in range(len(entries))]

    def build(i: int) -> subprocess.CompletedProcess:
        cmd = cross_command(entries[i], target, objs[i], openblas / "include")
        return subprocess.run(cmd, cwd=entries[i]["directory"], capture_output=True, text=True)

    with ThreadPoolExecutor(jobs) as pool:
        runs = list(pool.map(build, range(len(entries))))
    failed = [(e, r) for e, r in zip(entries, runs, strict=True) if r.returncode]
    for entry, run in failed:
        print(f"{target}: FAILED {os.path.relpath(entry['file'], ROOT)}\n{run.stderr}")
    print(f"{target}: {len(entries) - len(failed)} of {len(entries)} C files compile")
    if failed or not kernels_compiled(target, entries, objs):
        return False
    if not link:
        return True
    lib = tmp / "libdarknet.so"
    run = subprocess.run(
        [sys.executable, "-m", "ziglang", "cc", "-target", target, "-shared", "-o", str(lib),
         *map(str, objs), f"-L{openblas / 'lib'}", "-lscipy_openblas", "-lm", "-lpthread",
         "-Wl,-Bsymbolic"],
        capture_output=True, text=True,
    )  # fmt: skip
    if run.returncode:
        print(f"{target}: link FAILED\n{run.stderr}")
        return False
    print(f"{target}: libdarknet.so links ({lib.stat().st_size // 1024} KiB)")
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--target",
        action="append",
        choices=sorted(WHEEL_PLATFORMS),
        help=f"zig target triple, repeatable (default: {' '.join(DEFAULT_TARGETS)})",
    )
    ap.add_argument("--link", action="store_true", help="also link libdarknet.so")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    opts = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="pydn-cross-") as tmp:
        entries = compile_commands(Path(tmp) / "cmake")
        ok = [
            check(t, entries, Path(tmp) / t, opts.link, opts.jobs)
            for t in opts.target or DEFAULT_TARGETS
        ]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
