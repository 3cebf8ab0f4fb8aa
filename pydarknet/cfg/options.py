"""The options Darknet 61c9d02e reads, per section type, as its src/parser.c does.

Each set lists the keys that the section's ``parse_*()`` looks up with ``option_find*``
(src/parser.c, line numbers of that commit in the comments); :data:`EVERY_LAYER` are the
keys ``parse_network_cfg()`` reads from every layer section after its parser.  A key
outside these is what Darknet reports as "Unused field" (``option_unused``) and ignores.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "EVERY_LAYER", "READ"]

# activations.c get_activation(): anything else becomes RELU
ACTIVATIONS = frozenset(
    ["logistic", "loggy", "relu", "elu", "selu", "relie", "plse", "hardtan", "lhtan",
     "linear", "ramp", "leaky", "tanh", "stair"]
)  # fmt: skip

# parse_network_cfg() lines 841-849, for every layer section
EVERY_LAYER = frozenset(
    ["truth", "onlyforward", "stopbackward", "dontsave", "dontload", "numload",
     "dontloadscales", "learning_rate", "smooth"]
)  # fmt: skip


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


# keyed by the layer kinds of pydarknet.cfg.rules.KINDS, plus "net"
READ: dict[str, frozenset[str]] = {
    # parse_net_options() 655-735 (B1/B2/eps, step/scale, steps/scales and gamma are read
    # only for some adam= and policy= values; they are Darknet's names all the same)
    "net": _keys(
        "batch learning_rate momentum decay subdivisions time_steps notruth random adam "
        "B1 B2 eps height width channels inputs max_crop min_crop max_ratio min_ratio center "
        "clip angle aspect saturation exposure hue policy burn_in power step scale steps "
        "scales gamma max_batches"
    ),
    "local": _keys("filters size stride pad activation"),  # 132-151
    "deconvolutional": _keys("filters size stride activation batch_normalize pad padding"),
    "convolutional": _keys(  # 179-207
        "filters size stride pad padding groups activation batch_normalize binary xnor flipped dot"
    ),
    "crnn": _keys("output_filters hidden_filters activation batch_normalize shortcut"),
    "rnn": _keys("output activation batch_normalize shortcut"),  # 224-236
    "gru": _keys("output batch_normalize tanh"),  # 238-247
    "lstm": _keys("output batch_normalize"),  # 249-257
    "connected": _keys("output activation batch_normalize"),  # 259-268
    "softmax": _keys("groups temperature tree spatial noloss"),  # 270-283
    "yolo": _keys(  # 306-342
        "classes num mask max jitter ignore_thresh truth_thresh random map anchors"
    ),
    "iseg": _keys("classes ids"),  # 344-351
    "region": _keys(  # 353-403
        "coords classes num log sqrt softmax background max jitter rescore thresh classfix "
        "absolute random coord_scale object_scale noobject_scale mask_scale class_scale "
        "bias_match tree map anchors"
    ),
    "detection": _keys(  # 405-427
        "coords classes rescore num side softmax sqrt max coord_scale forced object_scale "
        "noobject_scale class_scale jitter random reorg"
    ),
    "cost": _keys("type scale ratio noobj thresh"),  # 429-439
    "crop": _keys(  # 441-463
        "crop_height crop_width flip angle saturation exposure noadjust shift"
    ),
    "reorg": _keys("stride reverse flatten extra"),  # 465-481
    "maxpool": _keys("stride size padding"),  # 483-498
    "avgpool": frozenset(),  # 500-511
    "dropout": _keys("probability"),  # 513-521
    "normalization": _keys("alpha beta kappa size"),  # 523-531
    "batchnorm": frozenset(),  # 533-537
    "shortcut": _keys("from activation alpha beta"),  # 539-556
    "l2norm": frozenset(),  # 559-566
    "logistic": frozenset(),  # 569-576
    "activation": _keys("activation"),  # 578-590
    "upsample": _keys("stride scale"),  # 592-599
    "route": _keys("layers"),  # 601-640
}
