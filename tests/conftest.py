"""Shared fixtures: the real yolov3-tiny weights, the Darknet data images, references."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests' own helper modules

from helpers import reference

from pydarknet import models

REPO = Path(__file__).resolve().parent.parent


def darknet_tree() -> Path:
    """The Darknet source tree: the submodule, else the build's fetched copy."""
    import os

    candidates = [REPO / "darknet", Path.home() / ".cache/pydarknet/darknet-src-61c9d02e"]
    if os.environ.get("PYDARKNET_DARKNET_SRC"):  # the tree the build used (worktrees)
        candidates.append(Path(os.environ["PYDARKNET_DARKNET_SRC"]))
    for candidate in candidates:
        if (candidate / "data" / "dog.jpg").is_file():
            return candidate
    pytest.skip("no Darknet tree (run tools/fetch_darknet_source.py darknet)")


@pytest.fixture(scope="session")
def darknet_dir() -> Path:
    return darknet_tree()


@pytest.fixture(scope="session")
def data_dir(darknet_dir: Path) -> Path:
    return darknet_dir / "data"


@pytest.fixture(scope="session")
def dog(data_dir: Path) -> str:
    return str(data_dir / "dog.jpg")


@pytest.fixture(scope="session")
def tiny_weights() -> str:
    return str(models.weights_path("yolov3-tiny", quiet=True))


@pytest.fixture(scope="session")
def tiny_cfg() -> str:
    return str(models.data_file("yolov3-tiny.cfg"))


@pytest.fixture(scope="session")
def coco_names() -> str:
    return str(models.data_file("coco.names"))


@pytest.fixture(scope="session")
def net(tiny_cfg: str, tiny_weights: str):  # type: ignore[no-untyped-def]
    import pydarknet

    with pydarknet.load_net(tiny_cfg, tiny_weights) as n:
        yield n


@pytest.fixture(scope="session")
def meta(coco_names: str):  # type: ignore[no-untyped-def]
    import pydarknet

    return pydarknet.load_meta(coco_names)


@pytest.fixture(scope="session")
def needs_reference() -> None:
    if not reference.available():
        pytest.skip("Debian's reference darknet is not installed (apt-get install darknet)")


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    """The default zoo Detector (yolov3-tiny)."""
    import pydarknet

    with pydarknet.Detector("yolov3-tiny") as det:
        yield det
