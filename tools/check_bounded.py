"""The done-when checks of issue 18 (bounded work), reproducible:

  python tools/check_bounded.py mutate --count 350 --seed 18   # random yolov3-tiny cfgs
  python tools/check_bounded.py memory                         # 4096x4096 under ulimit -v
  python tools/check_bounded.py sigint --window 300            # Ctrl-C in a long detection

``mutate``: each cfg is yolov3-tiny.cfg with 1-3 numeric options multiplied (x2 .. x1000),
negated, set to 0 or to a huge number, loaded (no weights) and run on dog.jpg in its own
interpreter, which must exit cleanly within --limit seconds with either detections or a
DarknetError: anything else (a signal, another exception, the limit) is a failure.
``--detect-timeout`` passes ``timeout=`` to detect (0: none).  Run it niced.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pydarknet
from pydarknet import models

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers.slow_net import write_slow_tiny

TINY = models.data_file("yolov3-tiny.cfg").read_text()
NAMES = str(models.data_file("coco.names"))
HUGE = ["2147483647", "99999999999", "1000000", "65536"]

MUTATE_CHILD = """
import sys, pydarknet
cfg, names, dog, timeout = sys.argv[1:5]
try:
    net = pydarknet.load_net(cfg)
    found = pydarknet.detect(net, pydarknet.load_meta(names), dog, thresh=0.1,
                             timeout=float(timeout) or None)
    print("detected", len(found))
except pydarknet.DarknetError as exc:
    print("error", type(exc).__name__, str(exc)[:200].replace(chr(10), " "))
    sys.exit(3)
"""


def mutate(text: str, rng: random.Random) -> tuple[str, list[str]]:
    lines = text.splitlines()
    numeric = [i for i, line in enumerate(lines)
               if re.fullmatch(r"\s*\w+\s*=\s*[-\d., ]+", line)]  # fmt: skip
    done = []
    for index in rng.sample(numeric, rng.randint(1, 3)):
        key, value = (p.strip() for p in lines[index].split("=", 1))
        parts = [p.strip() for p in value.split(",")]
        k = rng.randrange(len(parts))
        how = rng.choice(["x2", "x3", "x10", "x100", "x1000", "neg", "zero", "huge"])
        number = float(parts[k]) if "." in parts[k] else int(parts[k])
        if how.startswith("x"):
            parts[k] = str(number * int(how[1:]))
        elif how == "neg":
            parts[k] = str(-number)
        elif how == "zero":
            parts[k] = "0"
        else:
            parts[k] = rng.choice(HUGE)
        lines[index] = f"{key}={','.join(parts)}"
        done.append(f"line {index + 1} {key}: {value} -> {','.join(parts)}")
    return "\n".join(lines) + "\n", done


def cmd_mutate(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="pydarknet-mutate-"))
    outcomes: Counter[str] = Counter()
    failures, slowest = [], (0.0, "")
    for n in range(args.count):
        text, what = mutate(TINY, rng)
        cfg = folder / f"m{n}.cfg"
        cfg.write_text(text)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", MUTATE_CHILD, cfg, NAMES, args.dog,
                 str(args.detect_timeout)],
                capture_output=True, text=True, timeout=args.limit,
            )  # fmt: skip
            seconds, rc, out = time.monotonic() - t0, proc.returncode, proc.stdout.strip()
            err = proc.stderr[-300:]
        except subprocess.TimeoutExpired:
            seconds, rc, out, err = time.monotonic() - t0, None, "ran past the limit", ""
        slowest = max(slowest, (seconds, f"#{n} {'; '.join(what)}"))
        if rc == 0:
            outcomes["detected"] += 1
        elif rc == 3:
            outcomes[out.split()[1]] += 1
        else:
            failures.append(f"#{n} rc={rc} {out} {err} {what}")
            outcomes["FAILED"] += 1
        if args.verbose:
            print(f"#{n} {seconds:5.1f}s rc={rc} {out[:100]} | {'; '.join(what)}", flush=True)
    print(f"{args.count} mutations (seed {args.seed}): {dict(outcomes)}")
    print(f"slowest: {slowest[0]:.1f} s ({slowest[1]})")
    print(f"failures (crash, non-Darknet exception or past {args.limit} s): {len(failures)}")
    for f in failures:
        print("  " + f)
    return 1 if failures else 0


def _limit_as() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3_000_000 * 1024,) * 2)  # ulimit -v 3000000


MEMORY_CHILD = """
import json, sys, pydarknet
from pydarknet import models
big, names, dog, weights = sys.argv[1:5]
out = {}
try:
    pydarknet.load_net(big)
except MemoryError as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
net = pydarknet.load_net(models.data_file("yolov3-tiny.cfg"), weights)
out["dog"] = pydarknet.detect(net, pydarknet.load_meta(names), dog)
print(json.dumps(out))
"""


def reference(dog: str) -> list:  # type: ignore[type-arg]
    net = pydarknet.load_net(models.data_file("yolov3-tiny.cfg"), weights())
    found = pydarknet.detect(net, pydarknet.load_meta(NAMES), dog)
    return json.loads(json.dumps(found))  # type: ignore[no-any-return]


def weights() -> str:
    return str(models.weights_path("yolov3-tiny", quiet=True))


def cmd_memory(args: argparse.Namespace) -> int:
    big = Path(tempfile.mkdtemp()) / "tiny-4096.cfg"
    big.write_text(TINY.replace("width=416", "width=4096").replace("height=416", "height=4096"))
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, big, NAMES, args.dog, weights()],
                          capture_output=True, text=True, preexec_fn=_limit_as)  # fmt: skip
    print(f"child exit status {proc.returncode} {proc.stderr[-500:]}")
    out = json.loads(proc.stdout.splitlines()[-1])
    print(out.get("error", "NO MemoryError"))
    same = out["dog"] == reference(args.dog)
    print(
        f"then dog.jpg at 416 in the same interpreter: {len(out['dog'])} detections, "
        f"{'identical to' if same else 'DIFFERENT from'} an unconstrained run"
    )
    return 0 if same and "error" in out and proc.returncode == 0 else 1


SIGINT_CHILD = """
import json, sys, time, pydarknet
cfg, weights, names, dog = sys.argv[1:5]
net, meta = pydarknet.load_net(cfg, weights), pydarknet.load_meta(names)
print("ready", flush=True)
sys.stdin.readline()
try:
    pydarknet.detect(net, meta, dog)
    out = {"finished": True}
except KeyboardInterrupt:
    out = {"interrupted_at": time.monotonic()}
t0 = time.monotonic()
out["again"] = pydarknet.detect(net, meta, dog)
out["full_pass_s"] = time.monotonic() - t0
print(json.dumps(out), flush=True)
"""


def cmd_sigint(args: argparse.Namespace) -> int:
    cfg = write_slow_tiny(Path(tempfile.mkdtemp()), args.window)
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, cfg, weights(), NAMES, args.dog],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(args.after)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out = json.loads(proc.stdout.readline())
    proc.wait()
    if "interrupted_at" not in out:
        print("the detection finished: no KeyboardInterrupt")
        return 1
    latency = out["interrupted_at"] - sent
    same = out["again"] == reference(args.dog)
    print(
        f"SIGINT {args.after:g} s into a detection whose full pass takes "
        f"{out['full_pass_s']:.1f} s: KeyboardInterrupt after {latency * 1000:.0f} ms; "
        f"the next detection on the same network is {'right' if same else 'WRONG'} "
        f"({len(out['again'])} detections, as yolov3-tiny's)"
    )
    return 0 if same and latency < 1 else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    dog = Path(__file__).resolve().parent.parent / "darknet/data/dog.jpg"
    p.add_argument("--dog", default=str(dog))
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mutate")
    m.add_argument("--count", type=int, default=350)
    m.add_argument("--seed", type=int, default=18)
    m.add_argument("--limit", type=float, default=60.0, help="seconds per interpreter")
    m.add_argument("--detect-timeout", type=float, default=0.0)
    m.add_argument("-v", "--verbose", action="store_true")
    sub.add_parser("memory")
    s = sub.add_parser("sigint")
    s.add_argument("--window", type=int, default=300, help="the slow maxpool's window")
    s.add_argument("--after", type=float, default=2.0, help="seconds before the SIGINT")
    args = p.parse_args()
    return {"mutate": cmd_mutate, "memory": cmd_memory, "sigint": cmd_sigint}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
