"""Detect objects in a folder of images on a Dask cluster (here a LocalCluster of
worker processes; point ``--scheduler`` at a real cluster to scale out).

    pip install "dask[distributed]"
    python examples/distributed_dask.py darknet/data --workers 2

A :class:`pydarknet.Detector` pickles by its model spec (zoo name or cfg/weights/names
paths and thresholds), not its memory: ``client.scatter(..., broadcast=True)`` sends that
spec once to each worker, which loads its own network and reuses it for every task.
(With Ray the same works: ``ray.put(detector)`` and a remote function taking it.)
Every worker must see the same model files (the zoo cache or the given paths).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

import pydarknet


def detect_one(detector: pydarknet.Detector, path: str) -> list[pydarknet.Detection]:
    """The task each worker runs; ``detector`` is the worker's own copy."""
    return detector.detect(path)


def detect_distributed(
    detector: pydarknet.Detector,
    paths: Sequence[str],
    *,
    workers: int = 2,
    scheduler: str | None = None,
) -> dict[str, list[pydarknet.Detection]]:
    """Detections of every image, computed on a Dask cluster, keyed by path."""
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    if scheduler is None:
        # one thread per process: a network serves one image at a time anyway
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)  # fmt: skip
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        remote = client.scatter(detector, broadcast=True)  # each worker unpickles: loads it
        futures = client.map(detect_one, [remote] * len(paths), list(paths), pure=False)
        for _ in tqdm(as_completed(futures), total=len(futures), unit="img"):
            pass  # a progress bar on stderr while the workers run
        results = client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return dict(zip(paths, results, strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", help="image files, folders or globs")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://...)")
    p.add_argument("--model", default="yolov3-tiny")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = p.parse_args()

    paths = [os.fspath(x) for x in pydarknet.find_images(args.inputs)][: args.limit]
    detector = pydarknet.Detector(args.model)
    found = detect_distributed(detector, paths, workers=args.workers, scheduler=args.scheduler)
    for path in paths:  # one JSON line per image, in input order
        print(json.dumps({"image": path, "detections": [d.to_dict() for d in found[path]]}))


if __name__ == "__main__":
    main()
