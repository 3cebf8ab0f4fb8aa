"""AlexeyAB's darknet (the fork, commit 59596d78) as the reference of the AlexeyAB dialect.

Built once per machine, as Debian's package serves for pjreddie's: from the tarball in
``../shared/refs`` beside the repository (or ``$PYDN_ALEXEYAB_TARBALL``), else from a
clone of the fork's repository at the pinned commit, into a cache folder
(``$PYDN_TEST_CACHE``, default ``~/.cache/pydarknet-tests``).  A small C driver
(``alexeyab_driver.c``) compiled against the fork's own ``darknet.h`` runs its code: no
struct of the fork is mirrored here.  Every call runs in a subprocess, so the fork's
``exit()``s and printing cannot hurt pytest.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["COMMIT", "ForkDet", "fork_cfg", "fork_detect", "fork_dir", "fork_layers",
           "fork_weights"]  # fmt: skip

COMMIT = "59596d7880f6504768df41d6daa586f5cb2b932f"
SHA256 = "3cf838136300ab03b956e9553ad08f7581d80aa422661fa651cfd7c5b79f9846"
REPO = "https://github.com/AlexeyAB/darknet"
ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("alexeyab_driver.c")
# the images fork_weights() calibrates the seeded weights on (Darknet's data/, JPEGs)
CALIBRATION = ("dog.jpg", "person.jpg", "horses.jpg", "eagle.jpg", "giraffe.jpg")
TIMEOUT = 1800
# CPU only, no OpenCV; OpenMP for speed (its loops split rows, not sums: same numbers).
# OPTS=-O2, not the Makefile's -Ofast: under -Ofast's finite-math assumption the fork's
# logistic 1/(1+expf(-x)) gives NaN below x = -88 (0 at -O2), which seeded weights reached
# in the swish networks before fork_weights() calibrated them: everything after such a
# layer was NaN, nothing to compare.
MAKE = ["make", "-j2", "GPU=0", "CUDNN=0", "OPENCV=0", "OPENMP=1", "AVX=0", "LIBSO=1",
        "OPTS=-O2"]  # fmt: skip


def _tarball() -> Path | None:
    env = os.environ.get("PYDN_ALEXEYAB_TARBALL")
    path = Path(env) if env else ROOT.parent / "shared/refs/darknet-alexeyab-59596d78.tar.gz"
    if not path.is_file():
        return None
    if hashlib.sha256(path.read_bytes()).hexdigest() != SHA256:
        raise RuntimeError(f"{path}: not the fork at {COMMIT[:8]} (sha256 differs)")
    return path


def _unpack(dest: Path) -> bool:
    """The fork's source into dest: the tarball, else a clone at the pinned commit."""
    tarball = _tarball()
    if tarball is not None:
        with tarfile.open(tarball) as tar:
            tar.extractall(dest.parent, filter="data")
        (dest.parent / tarball.name.removesuffix(".tar.gz")).rename(dest)
        return True
    clone = subprocess.run(["git", "clone", "-q", REPO, str(dest)], capture_output=True,
                           timeout=600)  # fmt: skip
    if clone.returncode != 0:
        return False
    checkout = subprocess.run(["git", "-C", str(dest), "checkout", "-q", COMMIT],
                              capture_output=True)  # fmt: skip
    return checkout.returncode == 0


def _build(dest: Path) -> None:
    (dest / "build.sh").touch()  # the Makefile's last step chmods *.sh
    subprocess.run(MAKE, cwd=dest, check=True, capture_output=True, timeout=TIMEOUT)
    subprocess.run(
        ["cc", "-O2", "-I", "include", "-o", "pydn_driver", str(DRIVER), "-L.", "-ldarknet",
         "-lm", f"-Wl,-rpath,{dest}"],
        cwd=dest, check=True, capture_output=True,
    )  # fmt: skip


_built: Path | None = None


def fork_dir() -> Path | None:
    """The built fork (its ``libdarknet.so``, ``cfg/`` and our ``pydn_driver``), or None
    when neither the tarball nor the fork's repository can be had."""
    global _built
    if _built is not None:
        return _built
    cache = Path(os.environ.get("PYDN_TEST_CACHE", Path.home() / ".cache/pydarknet-tests"))
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(DRIVER.read_bytes() + " ".join(MAKE).encode()).hexdigest()[:12]
    dest = cache / f"alexeyab-{COMMIT[:8]}-{key}"
    with open(cache / "alexeyab.lock", "w") as lock:  # one build at a time per machine
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / "pydn_driver").is_file():
            shutil.rmtree(dest, ignore_errors=True)
            if not _unpack(dest):
                return None
            _build(dest)
    _built = dest
    return dest


def _driver(*args: str | Path) -> str:
    root = fork_dir()
    assert root is not None, "the fork is not available"
    # paths made absolute: the driver runs in the fork's folder
    argv = [str(Path(a).resolve()) if isinstance(a, Path) else a for a in args]
    res = subprocess.run(
        [str(root / "pydn_driver"), *argv],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=root, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, f"fork driver {args[0]} failed: {res.stderr[-2000:]}"
    return res.stdout


def fork_cfg(name: str, dest_dir: Path, size: int | None = None) -> Path:
    """The fork's ``cfg/<name>.cfg`` copied into dest_dir, with [net] width and height
    set to ``size`` when given (the layers' semantics do not depend on it)."""
    root = fork_dir()
    assert root is not None, "the fork is not available"
    text = (root / "cfg" / f"{name}.cfg").read_text()
    if size is not None:
        text = re.sub(r"(?m)^(\s*(?:width|height)\s*=\s*)\d+", rf"\g<1>{size}", text, count=2)
        name = f"{name}-{size}"
    path = Path(dest_dir) / f"{name}.cfg"
    path.write_text(text)
    return path


def fork_weights(cfg: Path, out: Path, seed: int = 0) -> Path:
    """Seeded weights for ``cfg`` in the fork's layout, written by the fork's
    save_weights(): drawn from ``seed``, every convolution then calibrated on the
    CALIBRATION images (alexeyab_driver.c says how)."""
    _driver("seed", cfg, out, str(seed), *(ROOT / "darknet/data" / f for f in CALIBRATION))
    return out


@dataclass(frozen=True)
class ForkDet:
    """One detection of the fork: box relative to the image, per-class probabilities
    (zero where below the threshold or suppressed), objectness."""

    bbox: tuple[float, float, float, float]
    probs: tuple[float, ...]
    objectness: float


def fork_detect(cfg: Path, weights: Path, image: Path | str, thresh: float = 0.25,
                hier_thresh: float = 0.5, nms: float = 0.45) -> list[ForkDet]:  # fmt: skip
    """The fork's ``detector test`` pipeline on one image, its detections in its order."""
    out = _driver("detect", cfg, weights, Path(image), str(thresh), str(hier_thresh), str(nms))
    dets = []
    for line in out.splitlines():
        if line.startswith("DET "):
            v = [float(x) for x in line.split()[1:]]
            dets.append(ForkDet((v[0], v[1], v[2], v[3]), tuple(v[5:]), v[4]))
    return dets


def fork_layers(cfg: Path, weights: Path, image: Path | str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sized input (c, h, w) of that forward pass and every layer's output."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "layers.f32"
        out = _driver("layers", cfg, weights, Path(image), raw)
        data = np.fromfile(raw, np.float32)
    shapes = [tuple(int(x) for x in ln.split()[1:]) for ln in out.splitlines()
              if ln.startswith("SHAPE ")]  # fmt: skip
    arrays, at = [], 0
    for c, h, w in shapes:
        arrays.append(data[at : at + c * h * w].reshape(c, h, w))
        at += c * h * w
    assert at == data.size, "layer dump and shapes disagree"
    return arrays[0], arrays[1:]
