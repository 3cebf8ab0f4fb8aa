"""Classify images with a Darknet classifier; prints the top classes like
``./darknet classifier predict`` (``NN.NN%: name``).

    python examples/classify.py darknet/data/eagle.jpg                 # darknet19 (downloads)
    python examples/classify.py IMG... --model extraction --top 3
    python examples/classify.py IMG... --cfg my.cfg --weights my.weights --names my.names
"""

from __future__ import annotations

import argparse
import json

import pydarknet
from pydarknet.models import get_model, weights_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="+")
    p.add_argument("--model", default="darknet19", help="zoo classifier (pydarknet models)")
    p.add_argument("--cfg", help="your own classifier .cfg (instead of --model)")
    p.add_argument("--weights", help="its .weights")
    p.add_argument("--names", help="its class names (.names/.list or .data)")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="one JSON line per image")
    args = p.parse_args()

    if args.cfg:
        if not (args.weights and args.names):
            p.error("--cfg needs --weights and --names")
        cfg, weights, names = args.cfg, args.weights, args.names
    else:
        model = get_model(args.model)
        if model.task != "classify":
            p.error(f"{args.model} is a {model.task} model; pick a classifier")
        cfg, names = model.cfg_path, model.names_path
        weights = weights_path(model.name)  # downloaded once, then cached

    meta = pydarknet.load_meta(names)
    with pydarknet.load_net(cfg, weights) as net:
        for image in args.images:
            top = pydarknet.classify(net, meta, image)[: args.top]  # [(name, prob)], best first
            if args.json:
                print(json.dumps({"image": image, "top": top}))
                continue
            print(f"{image}:")
            for name, prob in top:
                print(f"{prob * 100:5.2f}%: {name}")


if __name__ == "__main__":
    main()
