"""Two or more builds of pydarknet side by side: each in its own worker process (its own
Python, environment variables, PYTHONPATH), whole detections on one image alternating
between the workers round after round, then per-layer times.

    python benchmarks/ab_builds.py yolov3-tiny 31 \\
        base=/work/venvs/base/bin/python new=.venv/bin/python [--threads 2] [--profile]
    python benchmarks/ab_builds.py yolov3 11 im2col=.venv/bin/python:PYDN_WINOGRAD=0 \\
        default=.venv/bin/python --weights seeded.weights

A contestant is ``name=python[:VAR=value:...]``.  Prints medians of wall time and of
process CPU time per detection (CPU time is the steadier one on a busy machine; with
``--threads 1`` it is the work itself) and their ratios to the first contestant.
``--profile`` adds per-layer medians (``PYDN_PROFILE_CPU=1`` in the environment makes
them CPU times of the calling thread), what each layer runs (``cpu.layer_kernels``, each
contestant's where they differ), and per contestant and kernel the time, the GFLOP/s
(the direct convolution's FLOPs over the kernel's layers' time: Winograd's can pass
100%) and their share of the fp32 FMA peak of the kernels' ISA on as many threads
(``fma_peak.c``; per second of CPU time with ``PYDN_PROFILE_CPU``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKER = r"""
import json, sys, time
import pydarknet
from pydarknet import cpu, models
from pydarknet._lib import lib
from pydarknet.images import read_image

model, weights, image, threads, thresh = sys.argv[1:]
cpu.set_num_threads(int(threads))
cfg = model if model.endswith(".cfg") else str(models.data_file(model + ".cfg"))
net = pydarknet.load_net(cfg,
                         weights or str(models.weights_path(model, quiet=True)))
meta = pydarknet.load_meta(str(models.data_file("coco.names")))
bgr = read_image(image)
for _ in range(2):
    pydarknet.detect_image(net, meta, bgr, thresh=float(thresh))
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "run":
        t0, c0 = time.perf_counter(), time.process_time()
        pydarknet.detect_image(net, meta, bgr, thresh=float(thresh))
        print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]), flush=True)
    elif cmd[0] == "kernels":  # what each layer runs, and its direct-convolution FLOPs
        with net.locked() as p:
            flops = [2.0 * l.nweights * l.out_h * l.out_w if l.type == lib.CONVOLUTIONAL
                     else 0.0 for l in p.layers[0:p.n]]
        ran = (cpu.layer_kernels(net) if hasattr(cpu, "layer_kernels")  # older builds: "conv"
               else ["conv" if f else "" for f in flops])
        print(json.dumps([cpu.kernels(), ran, flops]), flush=True)
    else:
        print(json.dumps(cpu.profile_layers(net, bgr, int(cmd[1]))), flush=True)
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="zoo model name (yolov3-tiny, yolov3, ...) or a .cfg file")
    p.add_argument("rounds", type=int, help="interleaved rounds")
    p.add_argument("builds", nargs="+", help="name=python[:VAR=value...]")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default="", help="weights file (default: the zoo's)")
    p.add_argument("--thresh", type=float, default=0.5, help="detection threshold")
    p.add_argument("--image", default=str(REPO / "darknet" / "data" / "dog.jpg"))
    p.add_argument("--profile", action="store_true", help="per-layer medians too")
    return p.parse_args()


class Worker:
    def __init__(self, spec: str, args: argparse.Namespace) -> None:
        self.name, rest = spec.split("=", 1)
        python, *assignments = rest.split(":")
        env = dict(os.environ)
        env.update(a.split("=", 1) for a in assignments if a)
        worker_args = [args.model, args.weights, args.image, str(args.threads), str(args.thresh)]
        argv = [python, "-c", WORKER, *worker_args]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd="/"
        )
        assert self.proc.stdout and self.proc.stdout.readline().strip() == "ready", spec

    def ask(self, command: str) -> list:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def fma_peak(threads: int, isa: str) -> float | None:
    """fma_peak.c's GFLOP/s for ``isa`` on ``threads`` threads, per second of CPU time
    when the profile is (PYDN_PROFILE_CPU); None: no such ISA here, or no C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or isa == "portable":
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "fma_peak"
        subprocess.run([cc, "-O2", "-march=native", "-pthread", str(REPO / "benchmarks" /
                        "fma_peak.c"), "-o", str(exe)], check=True)  # fmt: skip
        cpu = ["cpu"] if os.environ.get("PYDN_PROFILE_CPU") else []
        out = subprocess.run([str(exe), str(threads), isa, *cpu], capture_output=True, text=True)
    return float(out.stdout) if out.returncode == 0 else None


def print_kernels(workers: list[Worker], profiles: dict[str, list[list]], threads: int) -> None:
    """Per contestant and kernel: time, GFLOP/s (direct-convolution FLOPs) and share of
    the peak of the contestant's ISA."""
    peaks: dict[str, float | None] = {}
    print("contestant   kernel               ms  GFLOP/s  of peak")
    for w in workers:
        isa, ran, flops = w.ask("kernels")
        if isa not in peaks:
            peaks[isa] = fma_peak(threads, isa)
        per: dict[str, list[float]] = {}
        for i, kernel in enumerate(ran):
            if kernel:
                sec = statistics.median(run[i][1] for run in profiles[w.name])
                t = per.setdefault(kernel, [0.0, 0.0])
                t[0], t[1] = t[0] + sec, t[1] + flops[i]
        for kernel, (sec, fl) in sorted(per.items()):
            gflops = fl / sec / 1e9 if sec else 0.0
            peak = peaks[isa]
            share = f"{100 * gflops / peak:7.0f}%" if peak else "     n/a"
            print(f"{w.name:12s} {kernel:16s} {sec * 1e3:8.2f} {gflops:8.1f} {share}")
    shown = ", ".join(f"{k} {v:.1f}" for k, v in peaks.items() if v)
    print(f"fp32 FMA peak (fma_peak.c, {threads} threads, GFLOP/s): {shown or 'n/a'}")


def main() -> None:
    args = parse_args()
    workers = [Worker(spec, args) for spec in args.builds]
    times: dict[str, list[list[float]]] = {w.name: [] for w in workers}
    for r in range(args.rounds):  # each round in a rotated order
        for w in workers[r % len(workers) :] + workers[: r % len(workers)]:
            times[w.name].append(w.ask("run"))
    first = workers[0].name
    for index, what in ((0, "wall"), (1, "CPU")):
        med = {k: statistics.median(t[index] for t in v) for k, v in times.items()}
        shown = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in med.items())
        print(f"{args.model}, {args.threads} threads, {what} medians of {args.rounds}: {shown}")
        for k in med:
            if k != first:
                print(f"  {what} ratio {k} / {first}: {med[k] / med[first]:.3f}")
    if args.profile:
        profiles: dict[str, list[list]] = {w.name: [] for w in workers}
        for _ in range(3):  # interleaved too
            for w in workers:
                profiles[w.name].append(w.ask("profile 5"))
        print("layer kind           " + "".join(f"{w.name:>11s}" for w in workers))
        totals = dict.fromkeys(profiles, 0.0)
        each = [w.ask("kernels")[1] for w in workers]
        ran = [" | ".join(dict.fromkeys(k)) for k in zip(*each, strict=True)]
        for i, (kind, _) in enumerate(profiles[first][0]):
            row = f"{i:5d} {kind:15s}"
            for name, runs in profiles.items():
                sec = statistics.median(run[i][1] for run in runs)
                totals[name] += sec
                row += f"{sec * 1e3:11.2f}"
            print(row + f"  {ran[i]}")
        print("      sum            " + "".join(f"{t * 1e3:11.2f}" for t in totals.values()))
        print_kernels(workers, profiles, args.threads)
    for w in workers:
        w.close()


if __name__ == "__main__":
    main()
