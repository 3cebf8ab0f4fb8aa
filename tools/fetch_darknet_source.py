#!/usr/bin/env python3
"""Fetch the pinned Darknet source without GitHub, from Debian's source package.

pjreddie/darknet at 61c9d02ec461e30d55762ec7669d6a1d3c356fb2 is packaged by Debian as
``darknet 0.0.0+git20180914.61c9d02e``; its orig tarball is that commit's tree.  This
script downloads the tarball with ``apt-get source --download-only`` using a *private*
sources list and state folder (the system's apt configuration is not touched), checks
its sha256 and unpacks it.

    python tools/fetch_darknet_source.py DEST        # DEST/src/network.c etc.

Exit status 0 on success; otherwise a message says what to do instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "darknet"
VERSION = "0.0.0+git20180914.61c9d02e"
ORIG = f"{PACKAGE}_{VERSION}.orig.tar.xz"
SHA256 = "ec536ae11853846aab96183d8ec18730a46cce71f7d935768d235029329f9e93"

HELP = f"""\
pydarknet: the Darknet source is missing and could not be fetched.
Do one of:
  * git submodule update --init darknet         (needs access to GitHub)
  * on Debian/Ubuntu with network access to the Debian archive, make sure
    `apt-get` works; the build fetches '{ORIG}' by itself
  * download {ORIG} (sha256 {SHA256}) yourself and set
    PYDARKNET_DARKNET_TARBALL=/path/to/it, or unpack it and set
    PYDARKNET_DARKNET_SRC=/path/to/darknet (the folder holding src/ and include/)
"""


def _deb_entries() -> list[str]:
    """The system's own 'deb' entries, turned into 'deb-src' ones (deb822 and one-line)."""
    out: list[str] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        text = path.read_text()
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Types:.*\bdeb\b", stanza, re.M):
                out.append(re.sub(r"^Types:.*$", "Types: deb-src", stanza, flags=re.M) + "\n")
    lists = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]
    one_line = []
    for path in lists:
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip().startswith("deb "):
                    one_line.append("deb-src " + line.strip()[4:])
    if one_line:
        out.append("\n".join(one_line) + "\n")
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_tarball(workdir: Path) -> Path:
    """Download the orig tarball into workdir through apt with a private configuration."""
    if not shutil.which("apt-get"):
        raise RuntimeError("apt-get is not available on this machine")
    entries = _deb_entries()
    if not entries:
        raise RuntimeError(
            "no Debian 'deb' entries found in /etc/apt to derive a deb-src entry from"
        )
    parts = workdir / "sources.list.d"
    lists = workdir / "lists"
    (lists / "partial").mkdir(parents=True)
    parts.mkdir()
    (parts / "pydarknet-src.sources").write_text("\n".join(e for e in entries if "Types:" in e))
    one_line = [e for e in entries if "Types:" not in e]
    (parts / "pydarknet-src.list").write_text("".join(one_line))
    opts = [
        "-o",
        "Dir::Etc::SourceList=/dev/null",
        "-o",
        f"Dir::Etc::SourceParts={parts}",
        "-o",
        f"Dir::State::Lists={lists}",
        "-o",
        "APT::Sandbox::User=root",
        "-o",
        "Debug::NoLocking=1",
    ]
    dl = workdir / "dl"
    dl.mkdir()
    for cmd in (
        ["apt-get", *opts, "update"],
        ["apt-get", *opts, "source", "--download-only", f"{PACKAGE}={VERSION}-2"],
    ):
        res = subprocess.run(cmd, cwd=dl, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd[:1] + cmd[-3:])} failed:\n{res.stderr.strip()[-2000:]}"
            )
    tarball = dl / ORIG
    if not tarball.is_file():
        raise RuntimeError(f"apt-get did not produce {ORIG}")
    return tarball


def unpack(tarball: Path, dest: Path) -> None:
    digest = sha256(tarball)
    if digest != SHA256:
        raise RuntimeError(f"{tarball}: sha256 {digest} does not match the pinned {SHA256}")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp, tarfile.open(tarball) as tf:
        tf.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(tmp)
        top = Path(tmp) / "darknet"
        for item in top.iterdir():
            target = dest / item.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            shutil.move(str(item), target)


def _try_submodule(dest: Path) -> bool:
    """``git submodule update --init`` when dest is this checkout's darknet/ submodule."""
    repo = Path(__file__).resolve().parent.parent
    if dest != repo / "darknet" or not (repo / ".git").exists() or not shutil.which("git"):
        return False
    try:
        subprocess.run(["git", "submodule", "update", "--init", "darknet"], cwd=repo,
                       capture_output=True, timeout=120, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return False
    return (dest / "src" / "network.c").is_file()


def fetch(dest: Path) -> None:
    tarball_env = os.environ.get("PYDARKNET_DARKNET_TARBALL")
    if tarball_env:
        unpack(Path(tarball_env), dest)
        return
    if _try_submodule(dest):
        return
    with tempfile.TemporaryDirectory(prefix="pydarknet-src-") as tmp:
        unpack(download_tarball(Path(tmp)), dest)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dest = Path(argv[1]).resolve()
    if (dest / "src" / "network.c").is_file() and (dest / "include" / "darknet.h").is_file():
        print(f"pydarknet: Darknet source already present in {dest}")
        return 0
    try:
        fetch(dest)
    except Exception as exc:
        print(f"pydarknet: fetching the Darknet source failed: {exc}\n\n{HELP}", file=sys.stderr)
        return 1
    print(f"pydarknet: Darknet source {VERSION} (sha256 verified) unpacked into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
