"""One contestant of benchmarks/bench_peers.py, in its own process (and venv).

    python benchmarks/engines/worker.py ENGINE SETTINGS_JSON

Reads one command a line on stdin and answers one JSON line: ``detect`` runs the whole
job once (pixels in, boxes out) and answers its seconds (``total``) and those of the
network's forward pass (``forward``); ``dets`` answers the detections of one job;
``quit`` ends.  Libraries that print to stdout are sent to stderr: the answers go
through a copy of the original stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    engine_name, settings = sys.argv[1], json.loads(sys.argv[2])
    threads = str(settings["threads"])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads  # before any library starts its threads
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    if engine_name == "pydarknet-avx2":  # the AVX2 kernels, on an AVX-512 CPU too
        os.environ["PYDN_KERNEL"] = "avx2"
    if engine_name in ("pydarknet", "pydarknet-avx2", "upstream"):
        import darknet_engines as engines
    else:
        import peer_engines as engines  # type: ignore[no-redef]
    engine = engines.ENGINES[engine_name](settings)
    answers.write(json.dumps({"ready": engine.describe()}) + "\n")
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "detect":
            t0 = time.perf_counter()
            _dets, forward = engine.detect()
            total = time.perf_counter() - t0
            answers.write(json.dumps({"total": total, "forward": forward}) + "\n")
        elif cmd == "dets":
            dets, _ = engine.detect()
            answers.write(json.dumps({"dets": [[c, p, list(b)] for c, p, b in dets]}) + "\n")
        elif cmd == "quit":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
