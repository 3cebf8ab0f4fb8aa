"""An aarch64 CPython for qemu-aarch64 on an x86-64 Debian machine.

    python3 tools/qemu_python.py --apt     installs what it needs (root or sudo, apt)
    python3 tools/qemu_python.py DIR       builds DIR/python3.X and prints its path

Debian's ``python3.X:arm64`` cannot be installed beside the machine's own Python (the
same /usr/bin paths), but its library can: with the arm64 architecture added to dpkg,
``libpython3.X:arm64`` goes under /usr/lib/aarch64-linux-gnu, and its standard library's
compiled modules carry the CPU in their names (``*.cpython-3X-aarch64-linux-gnu.so``), so
both CPUs' share /usr/lib/python3.X.  What is missing is the program: DIR/python3.X is
one call of ``Py_BytesMain`` compiled for aarch64 by zig's clang (the ``ziglang``
package, in the Python running this) and linked against that library.  Run it as
``qemu-aarch64 DIR/python3.X ...``; ``-m venv --without-pip`` makes a venv of it, and
pip runs in it from pip's wheel (tests/test_wheel_aarch64.py).

``--apt`` installs qemu-user (qemu-aarch64), libpython3.X:arm64 (X: the newest the
archive has) and libstdc++6:arm64 (numpy's aarch64 wheels need it): about 60 arm64
packages, 40 MB.  Debian only: Ubuntu keeps arm64 packages on another mirror, which
this does not set up.  Exit status 1 with the reason on stderr when something is
missing; the test skips with it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

LIBDIR = Path("/usr/lib/aarch64-linux-gnu")
LAUNCHER = "extern int Py_BytesMain(int, char **);\n" \
    "int main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n"  # fmt: skip


def fail(why: str) -> int:
    print(f"qemu_python: {why}", file=sys.stderr)
    return 1


def installed_library() -> Path | None:
    """The newest aarch64 libpython3.X installed, if any."""
    found = sorted(LIBDIR.glob("libpython3.*.so.1.0"),
                   key=lambda p: int(re.findall(r"python3\.(\d+)", p.name)[0]))  # fmt: skip
    return found[-1] if found else None


def apt_install() -> int:
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        return fail("no apt-get/dpkg: not a Debian machine")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and shutil.which("sudo") is None:
        return fail("apt needs root or sudo")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    if "arm64" not in foreign:
        subprocess.run([*sudo, "dpkg", "--add-architecture", "arm64"], check=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    version = None
    for minor in range(14, 9, -1):  # the newest libpython3.X the archive has
        policy = subprocess.run(["apt-cache", "policy", f"libpython3.{minor}:arm64"],
                                capture_output=True, text=True).stdout  # fmt: skip
        if re.search(r"Candidate: (?!\(none\))", policy):
            version = f"3.{minor}"
            break
    if version is None:
        return fail("the apt archive has no libpython3.X for arm64")
    packages = [f"libpython{version}:arm64", "libstdc++6:arm64", "qemu-user"]
    run = subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *packages], env=env)
    return run.returncode


def build(folder: Path) -> int:
    if shutil.which("qemu-aarch64") is None:
        return fail("no qemu-aarch64 (apt-get install qemu-user, or --apt)")
    library = installed_library()
    if library is None:
        return fail(f"no aarch64 libpython3.X in {LIBDIR} (python3 tools/qemu_python.py --apt)")
    if not (LIBDIR / "libstdc++.so.6").exists():
        return fail("no aarch64 libstdc++6, which numpy needs (--apt)")
    name = "python" + re.findall(r"python(3\.\d+)", library.name)[0]
    folder.mkdir(parents=True, exist_ok=True)
    source, program = folder / "launcher.c", folder / name
    source.write_text(LAUNCHER)
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "aarch64-linux-gnu.2.17", "-O2",
           str(source), str(library), "-o", str(program)]  # fmt: skip
    if subprocess.run(cmd).returncode:
        return fail("zig cc failed (the ziglang package in this Python?)")
    check = subprocess.run(["qemu-aarch64", str(program), "-c",
                            "import platform, sys; print(platform.machine(), sys.version)"],
                           capture_output=True, text=True)  # fmt: skip
    if check.returncode or not check.stdout.startswith("aarch64 "):
        return fail(f"{program} does not run under qemu-aarch64: {check.stderr[-2000:]}")
    print(program)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, nargs="?", help="where to build python3.X")
    ap.add_argument("--apt", action="store_true", help="install the packages it needs")
    args = ap.parse_args()
    if args.apt:
        return apt_install()
    if args.folder is None:
        ap.error("give a folder, or --apt")
    return build(args.folder)


if __name__ == "__main__":
    sys.exit(main())
