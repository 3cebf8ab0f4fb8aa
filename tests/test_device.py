"""Device selection: gpu_available(), load_net(gpu=/device=), CPU fallback, GPU runs.

Tests that need a GPU skip (with the reason CUDA gave) where none can be used; the CPU
and no-GPU behaviour is checked for whichever build is installed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from helpers.compare import mismatches

import pydarknet
import pydarknet.models
from pydarknet import DarknetValueError, GPUError, device
from pydarknet.images import read_image

INFO = pydarknet.cuda_info()
needs_gpu = pytest.mark.skipif(
    not pydarknet.gpu_available(), reason=f"no usable GPU: {INFO.problem}"
)
gpu_build_only = pytest.mark.skipif(not INFO.gpu_build, reason="a CPU build of pydarknet")
cpu_build_only = pytest.mark.skipif(INFO.gpu_build, reason="a GPU build of pydarknet")


def test_gpu_available_agrees_with_cuda_info() -> None:
    assert pydarknet.gpu_available() == bool(INFO.devices) == (pydarknet.gpu_count() > 0)
    assert (INFO.problem == "") == pydarknet.gpu_available()
    if not INFO.gpu_build:
        assert not INFO.cudnn_build and INFO.runtime_version == 0


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("cpu", -1), (-1, -1), ("CPU", -1), (" cpu ", -1)],
)
def test_cpu_device_names(arg: object, expected: int) -> None:
    assert pydarknet.resolve_device(arg) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("arg", ["tpu", "cuda:x", "cuda:-1", -2, True, 1.0, ["cpu"]])
def test_bad_device_arguments(arg: object) -> None:
    with pytest.raises(DarknetValueError):
        pydarknet.resolve_device(arg)  # type: ignore[arg-type]


def test_conflicting_device_and_gpu() -> None:
    with pytest.raises(DarknetValueError, match="different devices"):
        pydarknet.resolve_device("cpu", gpu=0)


def test_cpu_network_detects_like_default(tiny_cfg: str, tiny_weights: str, meta, dog) -> None:  # type: ignore[no-untyped-def]
    with pydarknet.load_net(tiny_cfg, tiny_weights, device="cpu") as net:
        assert net.device == "cpu" and net.gpu == -1
        got = pydarknet.detect(net, meta, dog)
    labels = {d[0] for d in got}
    assert {"dog", "bicycle"} <= labels


@cpu_build_only
@pytest.mark.parametrize("arg", [{"gpu": 0}, {"device": "cuda"}, {"device": "cuda:1"}])
def test_cpu_build_refuses_gpus(tiny_cfg: str, arg: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(GPUError, match="built without CUDA"):
        pydarknet.load_net(tiny_cfg, **arg)


@cpu_build_only
def test_cpu_build_default_is_cpu_without_warning(tiny_cfg: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pydarknet.load_net(tiny_cfg) as net:
            assert net.device == "cpu"


@pytest.mark.skipif(pydarknet.gpu_available(), reason="a GPU can be used here")
def test_an_explicit_cpu_never_warns_where_a_gpu_build_has_no_gpu(
    tiny_weights: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cu13 plugin installed on a machine without a GPU (what gpu_expected() says
    there): device="cpu" must not warn, the model zoo's own checks included."""
    monkeypatch.setattr(device, "gpu_expected", lambda: True)
    monkeypatch.setattr(device, "_fallback_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pydarknet.models.verify(pydarknet.models.get_model("yolov3-tiny"), Path(tiny_weights))
        with pydarknet.Detector("yolov3-tiny", device="cpu") as det:
            assert det.net.device == "cpu"
    with pytest.warns(RuntimeWarning, match="Pass device='cpu' to silence this"):
        pydarknet.load_net(pydarknet.models.data_file("yolov3-tiny.cfg")).close()


@gpu_build_only
@pytest.mark.skipif(pydarknet.gpu_available(), reason="a GPU can be used here")
def test_gpu_build_without_gpu_falls_back(
    tiny_cfg: str, tiny_weights: str, meta, dog, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(device, "_fallback_warned", False)
    with pytest.warns(RuntimeWarning, match="networks run on the CPU"):
        net = pydarknet.load_net(tiny_cfg, tiny_weights)
    with net:
        assert net.device == "cpu"
        assert {"dog", "bicycle"} <= {d[0] for d in pydarknet.detect(net, meta, dog)}
    with pytest.raises(GPUError, match="CUDA"):
        pydarknet.load_net(tiny_cfg, tiny_weights, gpu=0)


@needs_gpu
def test_gpu_detections_match_cpu(tiny_cfg: str, tiny_weights: str, meta, data_dir) -> None:  # type: ignore[no-untyped-def]
    with (
        pydarknet.load_net(tiny_cfg, tiny_weights, gpu=0) as gpu_net,
        pydarknet.load_net(tiny_cfg, tiny_weights, gpu=-1) as cpu_net,
    ):
        assert gpu_net.device == "cuda:0"
        for name in ("dog.jpg", "horses.jpg", "person.jpg", "giraffe.jpg"):
            path = str(data_dir / name)
            on_gpu = pydarknet.detect(gpu_net, meta, path, thresh=0.25)
            on_cpu = pydarknet.detect(cpu_net, meta, path, thresh=0.25)
            assert on_cpu, name
            assert mismatches(on_gpu, on_cpu, 0.25) == [], name


@needs_gpu
def test_default_device_is_gpu_0(tiny_cfg: str) -> None:
    with pydarknet.load_net(tiny_cfg) as net:
        assert net.device == "cuda:0"


@needs_gpu
def test_missing_gpu_index_raises(tiny_cfg: str) -> None:
    with pytest.raises(GPUError, match="no GPU"):
        pydarknet.load_net(tiny_cfg, device=f"cuda:{pydarknet.gpu_count()}")


@needs_gpu
def test_gpu_batch_matches_single(tiny_cfg: str, tiny_weights: str, meta, data_dir) -> None:  # type: ignore[no-untyped-def]
    """detect_batch on the GPU (the network's buffers grown for the batch) vs batch 1."""
    names = ("dog.jpg", "horses.jpg", "dog.jpg")
    arrays = [read_image(data_dir / n) for n in names]
    with pydarknet.load_net(tiny_cfg, tiny_weights, gpu=0) as net:
        expected = [pydarknet.detect(net, meta, str(data_dir / n), thresh=0.25) for n in names]
        got = pydarknet.detect_batch(net, meta, arrays, thresh=0.25)
        again = pydarknet.detect(net, meta, str(data_dir / names[0]), thresh=0.25)
    for name, want, have in zip(names, expected, got, strict=True):
        assert want, name
        assert mismatches(have, want, 0.25) == [], name
    assert mismatches(again, expected[0], 0.25) == []  # back at batch 1, still right
