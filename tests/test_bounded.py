"""Bounded work (issue 18): a cfg that would exhaust memory raises pydarknet.MemoryError
(estimated before Darknet allocates, or trapped inside Darknet's C), windows beyond
their input are refused, and Ctrl-C or a timeout stops a long detection within a
fraction of a second, the network staying usable.  Each bad case runs in a child
interpreter under a 3 GB address-space limit (resource.setrlimit), so that a crash or
an OOM ends the child, not the test run."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.slow_net import write_slow_tiny

import pydarknet
from pydarknet import models
from pydarknet.cfg import check_cfg_bytes
from pydarknet.cfg.budget import estimate

TESTS = Path(__file__).resolve().parent
LIMIT = 3_000_000 * 1024  # ulimit -v 3000000
TINY = models.data_file("yolov3-tiny.cfg").read_text()

# The child: optional setup lines, then load `cfg` (an exception's class and message
# are the result), then yolov3-tiny on dog.jpg in the same interpreter.
CHILD = """
import json, sys, pydarknet
from pydarknet import models
cfg, weights, names, dog = sys.argv[1:5]
{setup}
out = {{}}
try:
    pydarknet.load_net(cfg)
    out["loaded"] = True
except BaseException as exc:
    out["error"] = [c.__name__ for c in type(exc).__mro__]
    out["message"] = str(exc)
net = pydarknet.load_net(models.data_file("yolov3-tiny.cfg"), weights)
out["dog"] = pydarknet.detect(net, pydarknet.load_meta(names), dog)
print(json.dumps(out))
"""


def limited() -> None:
    """The child's limits; and SIGINT's default disposition, so that Python installs its
    KeyboardInterrupt handler even where the test run was started with SIGINT ignored
    (in the background of a non-interactive shell, or under nohup)."""
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_child(cfg_text: str, tmp_path: Path, tiny_weights: str, coco_names: str, dog: str,
              setup: str = "") -> dict:  # type: ignore[type-arg]  # fmt: skip
    cfg = tmp_path / "case.cfg"
    cfg.write_text(cfg_text)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(setup=setup), cfg, tiny_weights, coco_names, dog],
        capture_output=True, text=True, timeout=300, preexec_fn=limited,
    )  # fmt: skip
    assert proc.returncode == 0, f"the child died ({proc.returncode}): {proc.stderr[-2000:]}"
    out: dict = json.loads(proc.stdout.splitlines()[-1])  # type: ignore[type-arg]
    return out


def tiny_with(**changes: str) -> str:
    text = TINY
    for key, value in changes.items():
        text = text.replace(key, value)
    return text


BLOWUPS = {
    "4096x4096": tiny_with(**{"width=416": "width=4096", "height=416": "height=4096"}),
    "filters x30": tiny_with(**{"filters=1024\n": "filters=30720\n"}),
    "batch 64": tiny_with(**{"batch=1\n": "batch=64\n", "subdivisions=1\n": "subdivisions=1\n"}),
    "width 16384": tiny_with(**{"width=416": "width=16384"}),
}


@pytest.mark.parametrize("case", sorted(BLOWUPS))
def test_blowups_raise_memory_error_and_the_child_detects_after(
    case: str, tmp_path: Path, tiny_weights: str, coco_names: str, dog: str
) -> None:
    out = run_child(BLOWUPS[case], tmp_path, tiny_weights, coco_names, dog)
    assert "DarknetMemoryError" in out["error"] and "MemoryError" in out["error"], out
    assert "needs about" in out["message"] and "RLIMIT_AS" in out["message"]
    assert [d[0] for d in out["dog"]][:3] == ["car", "bicycle", "dog"]


def test_an_allocation_failing_in_darknet_is_a_memory_error_and_frees_the_rest(
    tmp_path: Path, tiny_weights: str, coco_names: str, dog: str
) -> None:
    """With the estimate switched off, upstream's calloc fails under the limit: the trap
    turns it into MemoryError (not SIGSEGV), three times over without growing."""
    setup = """
from pydarknet.cfg.budget import _status_kib
pydarknet.set_memory_limit("off")
sizes = []
for _ in range(3):
    try:
        pydarknet.load_net(cfg)
    except pydarknet.MemoryError:
        sizes.append(_status_kib("VmSize"))
print(json.dumps(sizes))
"""
    out = run_child(BLOWUPS["4096x4096"], tmp_path, tiny_weights, coco_names, dog, setup)
    assert "DarknetMemoryError" in out["error"] and "calloc" in out["message"], out
    assert [d[0] for d in out["dog"]][:3] == ["car", "bicycle", "dog"]


def test_memory_limit_by_environment_and_function(tiny_cfg: str) -> None:
    shape = check_cfg_bytes(TINY.encode())
    assert shape.bytes_needed == estimate(shape).bytes > 50 << 20
    try:
        pydarknet.set_memory_limit("10M")
        assert pydarknet.memory_limit() == (10 << 20, "set_memory_limit()")
        with pytest.raises(pydarknet.MemoryError, match=r"needs about .* 10\.0 MiB"):
            pydarknet.load_net(tiny_cfg)
        pydarknet.set_memory_limit("off")
        pydarknet.load_net(tiny_cfg).close()
        with pytest.raises(pydarknet.DarknetValueError):
            pydarknet.set_memory_limit("lots")
    finally:
        pydarknet.set_memory_limit(None)
    env = dict(os.environ, PYDARKNET_MEMORY_LIMIT="1M")
    code = (f"import pydarknet\ntry:\n    pydarknet.load_net({tiny_cfg!r})\n"
            "except MemoryError as e:\n    print(e)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "PYDARKNET_MEMORY_LIMIT" in proc.stdout, proc.stderr


CONV0 = "filters=16\nsize=3\nstride=1\npad=1"
WINDOWS = {
    "[maxpool] size=99999999999": ("size=2\nstride=2", "size=99999999999\nstride=2"),
    "[maxpool] size=1000000": ("size=2\nstride=1", "size=1000000\nstride=1"),
    "[convolutional] size=900 pad=1": (CONV0, CONV0.replace("size=3", "size=900")),
    "[convolutional] size=420 pad=0": (CONV0, "filters=16\nsize=420\nstride=1\npad=0"),
}


@pytest.mark.parametrize("case", sorted(WINDOWS))
def test_windows_beyond_their_input_are_refused_naming_the_line(case: str) -> None:
    old, new = WINDOWS[case]
    assert old in TINY
    text = TINY.replace(old, new, 1)
    line = text[: text.index(new)].count("\n") + 1 + new[: new.index("size=")].count("\n")
    with pytest.raises(pydarknet.CfgError, match=r"size=\d+ is larger than its") as err:
        check_cfg_bytes(text.encode(), "case.cfg")
    assert err.value.line == line and err.value.option == "size"


# --- stopping long work --------------------------------------------------------------

SIGINT_CHILD = """
import json, sys, time, pydarknet
cfg, weights, names, dog = sys.argv[1:5]
net = pydarknet.load_net(cfg, weights)
meta = pydarknet.load_meta(names)
print("ready", flush=True)
sys.stdin.readline()
t0 = time.monotonic()
try:
    pydarknet.detect(net, meta, dog)
    out = {"finished": time.monotonic() - t0}
except KeyboardInterrupt:
    out = {"interrupted_at": time.monotonic()}
out["again"] = pydarknet.detect(net, meta, dog)
print(json.dumps(out), flush=True)
"""


def test_sigint_stops_a_long_detection_and_the_next_one_is_right(
    tmp_path: Path, tiny_weights: str, coco_names: str, dog: str, net, meta  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    slow = write_slow_tiny(tmp_path, 300)  # 4.6 s a pass on an idle Zen 5 (120: 0.8 s)
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGINT_CHILD, slow, tiny_weights, coco_names, dog],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=limited,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(0.8)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out = json.loads(proc.stdout.readline())
    assert proc.wait(120) == 0
    assert "interrupted_at" in out, out
    assert out["interrupted_at"] - sent < 0.5
    assert out["again"] == json.loads(json.dumps(pydarknet.detect(net, meta, dog)))


def test_timeout_stops_a_long_detection_and_the_detector_stays_usable(
    tmp_path: Path, tiny_weights: str, coco_names: str, dog: str, detector  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    slow = pydarknet.Detector(cfg=write_slow_tiny(tmp_path, 300), weights=tiny_weights,
                              names=coco_names)  # fmt: skip
    t0 = time.monotonic()
    with pytest.raises(pydarknet.TimeoutError, match="deadline") as err:
        slow.detect(dog, timeout=0.3)
    assert isinstance(err.value, TimeoutError) and isinstance(err.value, pydarknet.DarknetError)
    assert time.monotonic() - t0 < 0.9
    assert slow.detect(dog, timeout=120) == detector.detect(dog)
    with pytest.raises(pydarknet.DarknetValueError, match="timeout"):
        slow.detect(dog, timeout=-1)


def test_service_answers_503_past_its_request_timeout_and_stays_up(
    tmp_path: Path, tiny_weights: str, coco_names: str, dog: str
) -> None:
    """Each request past --request-timeout gets a 503 JSON message at that time, and the
    network's work for it stops: the second request does not wait for the first one's
    pass to finish (about 4 s)."""
    pytest.importorskip("fastapi")
    import httpx
    from helpers.serve_server import Server

    slow = write_slow_tiny(tmp_path, 300)  # 4.6 s a pass on an idle Zen 5
    server = Server(["--cfg", str(slow), "--weights", tiny_weights, "--data", coco_names,
                     "--request-timeout", "1", "--max-batch", "1"])  # fmt: skip
    try:
        body = Path(dog).read_bytes()
        for _ in range(2):
            t0 = time.monotonic()
            r = httpx.post(server.url + "/detect", content=body, timeout=60, trust_env=False,
                           headers={"Content-Type": "image/jpeg"})  # fmt: skip
            assert r.status_code == 503, r.text
            assert "--request-timeout" in r.json()["detail"]
            assert time.monotonic() - t0 < 2.0
        assert httpx.get(server.url + "/health", timeout=10, trust_env=False).status_code == 200
        assert server.alive()
    finally:
        server.stop()


def cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pydarknet.cli", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limited)  # fmt: skip


def test_the_command_line_bounds_time_and_memory_and_stops_on_ctrl_c(
    tmp_path: Path, tiny_weights: str, coco_names: str, dog: str
) -> None:
    """``pydarknet detect --timeout S`` makes a slow image an error (exit 1, the others
    still detected), ``--memory-limit`` refuses a network over it before building it,
    and Ctrl-C ends a long detection with exit status 130 instead of a traceback."""
    slow = str(write_slow_tiny(tmp_path, 300))  # 4.6 s a pass on an idle Zen 5
    model = ["--cfg", slow, "--weights", tiny_weights, "--data", coco_names]
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / name).write_bytes(Path(dog).read_bytes())
    t0 = time.monotonic()
    proc = cli("detect", str(folder), *model, "--timeout", "0.3", "--no-progress", cwd=tmp_path)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert time.monotonic() - t0 < 8  # two 4.6 s passes would take longer
    records = [json.loads(line) for line in (tmp_path / "predictions" / "results.jsonl")
               .read_text().splitlines()]  # fmt: skip
    assert len(records) == 2 and all("deadline" in r["error"] for r in records), records

    proc = cli("detect", dog, *model, "--memory-limit", "20M", cwd=tmp_path)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "needs about" in err and "pydarknet: error:" in err, err

    proc = cli("detect", dog, *model, "--no-save", cwd=tmp_path)
    time.sleep(2.0)  # started, network loaded, inside the first (4.6 s) pass
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "pydarknet: interrupted" in err and "Traceback" not in err and out == "", (out, err)
    assert time.monotonic() - sent < 1.5


THREAD_CHILD = """
import json, os, signal, sys, threading, time, pydarknet
cfg, weights, names, dog = sys.argv[1:5]
net, meta = pydarknet.load_net(cfg, weights), pydarknet.load_meta(names)
out = {}
def work():
    try:
        pydarknet.detect(net, meta, dog)
    except pydarknet.DarknetInterruptedError:
        out["worker"] = time.monotonic()
def interrupt():
    out["sent"] = time.monotonic()
    os.kill(os.getpid(), signal.SIGINT)
worker = threading.Thread(target=work)
worker.start()
threading.Timer(0.8, interrupt).start()
try:
    while worker.is_alive():
        time.sleep(0.01)
except KeyboardInterrupt:
    out["main"] = time.monotonic()
while worker.is_alive():
    time.sleep(0.01)
out["again"] = pydarknet.detect(net, meta, dog)
print(json.dumps(out))
"""


def test_sigint_stops_a_detection_in_another_thread_too(
    tmp_path: Path, tiny_weights: str, coco_names: str, dog: str, net, meta  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    """The main thread gets KeyboardInterrupt, the thread detecting gets
    DarknetInterruptedError (a signal stops every call in progress)."""
    slow = write_slow_tiny(tmp_path, 300)  # 4.6 s a pass on an idle Zen 5
    child = [sys.executable, "-c", THREAD_CHILD, slow, tiny_weights, coco_names, dog]
    proc = subprocess.run(child, capture_output=True, text=True, timeout=120, preexec_fn=limited)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["main"] - out["sent"] < 0.5 and out["worker"] - out["sent"] < 0.5, out
    assert out["again"] == json.loads(json.dumps(pydarknet.detect(net, meta, dog)))


def test_the_work_estimate_is_darknets_count(
    tiny_cfg: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Per convolution, the estimate's operations and window are what Darknet itself
    prints while building it ("conv 16 3 x 3 / 1 ... 0.150 BFLOPs", parser.c)."""
    pydarknet.set_verbose(True)
    try:
        with caplog.at_level("INFO", "pydarknet.darknet"):
            pydarknet.load_net(tiny_cfg).close()
    finally:
        pydarknet.set_verbose(False)
    said = [m.split() for m in caplog.messages if m.split()[1:2] == ["conv"]]
    shape = check_cfg_bytes(TINY.encode())
    est = estimate(shape)
    ours = [(c.window, c.flops) for s, c in zip(shape.layers, est.layers, strict=True)
            if s.kind == "convolutional"]  # fmt: skip
    assert len(said) == len(ours) == 13
    for words, (window, flops) in zip(said, ours, strict=True):
        assert int(words[3]) == window
        assert flops / 1e9 == pytest.approx(float(words[-2]), abs=6e-4)
