"""Bad inputs for the subprocess suite (tests/test_bad_inputs.py).

Each case is Python code that feeds one bad input to pydarknet, and the exception
class it must raise.  :data:`SCRIPT` runs one case in a fresh interpreter: the bad
input must raise (an instance of that class and of :class:`pydarknet.DarknetError`),
and then a correct detection of dog.jpg in the same process must still find the dog,
the bicycle and a car or truck.  A crash, exit() or abort shows as a dead subprocess.

Names the cases can use: ``pd`` (pydarknet), ``np``, ``CFG``/``WEIGHTS``/``DOG``/
``NAMES`` (the real yolov3-tiny files), ``TINY`` (the cfg's text), ``write(name, data)``
(a file in a temporary folder, returning its path), ``cfg(text)`` (the same for a cfg),
``net()``/``meta()`` (the real network and names).
"""

from __future__ import annotations

NET = "[net]\nwidth=416\nheight=416\nchannels=3\n"
CONV = "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
YOLO_HEAD = (
    "[convolutional]\nfilters={f}\nsize=1\nactivation=linear\n"
    "[yolo]\nmask={mask}\nanchors=10,14, 23,27, 37,58, 81,82, 135,169, 344,319\n"
    "classes={classes}\nnum=6\n"
)

# name -> (code, exception class name in pydarknet or builtins)
CASES: dict[str, tuple[str, str]] = {
    # --- paths -------------------------------------------------------------------------
    "cfg_missing": ("pd.load_net('/nonexistent/x.cfg', WEIGHTS)", "FileNotFoundError"),
    "cfg_is_directory": ("pd.load_net(tmp, WEIGHTS)", "FileNotFoundError"),
    "cfg_path_none": ("pd.load_net(None)", "TypeError"),
    "cfg_path_nul": ("pd.load_net('yolo\\0v3.cfg')", "ValueError"),
    "weights_missing": ("pd.load_net(CFG, '/nonexistent.weights')", "FileNotFoundError"),
    "weights_is_directory": ("pd.load_net(CFG, tmp)", "FileNotFoundError"),
    "image_missing": ("pd.detect(net(), meta(), '/nonexistent.jpg')", "FileNotFoundError"),
    "image_is_directory": ("pd.detect(net(), meta(), tmp)", "FileNotFoundError"),
    "names_missing": ("pd.load_meta('/nonexistent.names')", "FileNotFoundError"),
    "data_names_missing": (
        "pd.load_meta(write('x.data', 'classes=2\\nnames=nope.names\\n'))",
        "FileNotFoundError",
    ),
    # --- cfg text ----------------------------------------------------------------------
    "cfg_empty": ("pd.load_net(cfg(''))", "CfgError"),
    "cfg_binary_nul": ("pd.load_net(write('b.cfg', bytes(range(256)) * 4))", "CfgError"),
    "cfg_binary_high": ("pd.load_net(write('h.cfg', bytes(range(128, 256)) * 4))", "CfgError"),
    "cfg_option_before_section": ("pd.load_net(cfg('width=416\\n' + TINY))", "CfgError"),
    "cfg_no_net_first": ("pd.load_net(cfg(CONV + NET + CONV))", "CfgError"),
    "cfg_net_only": ("pd.load_net(cfg(NET))", "CfgError"),
    "cfg_unknown_layer": ("pd.load_net(cfg(NET + '[transformer]\\nheads=8\\n'))", "CfgError"),
    "cfg_second_net": ("pd.load_net(cfg(NET + CONV + NET + CONV))", "CfgError"),
    "cfg_crlf": ("pd.load_net(cfg(TINY.replace('\\n', '\\r\\n')))", "CfgError"),
    "cfg_negative_filters": (
        "pd.load_net(cfg(NET + '[convolutional]\\nfilters=-3\\nsize=3\\n'))",
        "CfgError",
    ),
    "cfg_zero_size": ("pd.load_net(cfg(NET + CONV.replace('size=3', 'size=0')))", "CfgError"),
    "cfg_huge_stride": (
        "pd.load_net(cfg(NET + CONV.replace('stride=1', 'stride=5000')))",
        "CfgError",
    ),
    "cfg_zero_width": ("pd.load_net(cfg(NET.replace('416', '0') + CONV))", "CfgError"),
    "cfg_subdivisions_zero": ("pd.load_net(cfg(NET + 'subdivisions=0\\n' + CONV))", "CfgError"),
    "cfg_groups_mismatch": ("pd.load_net(cfg(NET + CONV + 'groups=5\\n'))", "CfgError"),
    "cfg_route_out_of_range": (
        "pd.load_net(cfg(NET + CONV + '[route]\\nlayers=7\\n'))",
        "CfgError",
    ),
    "cfg_route_no_layers": ("pd.load_net(cfg(NET + CONV + '[route]\\n'))", "CfgError"),
    "cfg_shortcut_out_of_range": (
        "pd.load_net(cfg(NET + CONV + '[shortcut]\\nfrom=-5\\n'))",
        "CfgError",
    ),
    "cfg_shortcut_no_from": ("pd.load_net(cfg(NET + CONV + '[shortcut]\\nfrom\\n'))", "CfgError"),
    "cfg_yolo_mask_out_of_range": (
        "pd.load_net(cfg(NET + CONV + YOLO_HEAD.format(f=255, mask='3,4,9', classes=80)))",
        "CfgError",
    ),
    "cfg_yolo_wrong_filters": (
        "pd.load_net(cfg(NET + CONV + YOLO_HEAD.format(f=256, mask='3,4,5', classes=80)))",
        "CfgError",
    ),
    "cfg_yolo_too_many_anchors": (
        "pd.load_net(cfg(NET + CONV + YOLO_HEAD.format(f=255, mask='0,1,2', classes=80)"
        ".replace('344,319', '344,319,1,2,3')))",
        "CfgError",
    ),
    "cfg_dropout_first": ("pd.load_net(cfg(NET + '[dropout]\\n' + CONV))", "CfgError"),
    "cfg_huge_network": (
        "pd.load_net(cfg(NET.replace('416', '16384') + CONV.replace('16', '100000')))",
        "CfgError",
    ),
    "cfg_maxpool_negative_padding": (
        "pd.load_net(cfg(NET + '[maxpool]\\nsize=2\\npadding=-9\\n'))",
        "CfgError",
    ),
    "cfg_softmax_groups_zero": (
        "pd.load_net(cfg(NET + CONV + '[softmax]\\ngroups=0\\n'))",
        "CfgError",
    ),
    "cfg_four_channel_net_detect": (
        "pd.detect(pd.load_net(cfg(NET.replace('=3', '=4') + CONV)), meta(), DOG)",
        "ValueError",
    ),
    # --- weights -----------------------------------------------------------------------
    "weights_empty": ("pd.load_net(CFG, write('e.weights', b''))", "WeightsError"),
    "weights_header_only": ("pd.load_net(CFG, write('h.weights', head(20)))", "WeightsError"),
    "weights_truncated": ("pd.load_net(CFG, write('t.weights', head(size // 2)))", "WeightsError"),
    "weights_one_float_short": (
        "pd.load_net(CFG, write('s.weights', head(size - 4)))",
        "WeightsError",
    ),
    "weights_too_long": (
        "pd.load_net(CFG, write('l.weights', head(size) + b'\\0' * 4))",
        "WeightsError",
    ),
    "weights_other_network": (
        "pd.load_net(CFG, write('o.weights', head(20) + bytes(4 * 448)))",
        "WeightsError",
    ),
    # --- images and arrays -------------------------------------------------------------
    "image_not_an_image": (
        "pd.detect(net(), meta(), write('x.jpg', b'hello' * 100))",
        "ImageError",
    ),
    "image_empty_file": ("pd.detect(net(), meta(), write('e.jpg', b''))", "ImageError"),
    "image_truncated_jpeg": (
        "pd.detect(net(), meta(), write('t.jpg', dog_bytes()[:20000]))",
        "ImageError",
    ),
    "array_float_dtype": (
        "pd.detect_image(net(), meta(), np.zeros((8, 8, 3), np.float32))",
        "ImageError",
    ),
    "array_rank_1": ("pd.detect_image(net(), meta(), np.zeros(12, np.uint8))", "ImageError"),
    "array_two_channels": (
        "pd.detect_image(net(), meta(), np.zeros((8, 8, 2), np.uint8))",
        "ImageError",
    ),
    "array_empty": ("pd.detect_image(net(), meta(), np.zeros((0, 0, 3), np.uint8))", "ImageError"),
    "array_not_an_array": ("pd.detect_image(net(), meta(), [[1, 2, 3]])", "ImageError"),
    # --- arguments ---------------------------------------------------------------------
    "thresh_nan": ("pd.detect(net(), meta(), DOG, thresh=float('nan'))", "ValueError"),
    "thresh_above_one": ("pd.detect(net(), meta(), DOG, thresh=1.5)", "ValueError"),
    "nms_negative": ("pd.detect(net(), meta(), DOG, nms=-0.1)", "ValueError"),
    "hier_thresh_text": ("pd.detect(net(), meta(), DOG, hier_thresh='high')", "ValueError"),
    "names_too_few": (
        "pd.detect(net(), pd.load_meta(write('f.names', 'a\\nb\\n')), DOG)",
        "ValueError",
    ),
    "data_classes_over_names": (
        "pd.load_meta(write('y.data', 'classes=80\\nnames=' + write('z.names', 'a\\nb\\n')))",
        "ValueError",
    ),
    # --- closed networks ---------------------------------------------------------------
    "closed_detect": ("n = net(); n.close(); pd.detect(n, meta(), DOG)", "ClosedError"),
    "closed_classify": ("n = net(); n.close(); pd.classify(n, meta(), DOG)", "ClosedError"),
    "closed_with_block": (
        "with net() as n: pass\npd.detect_image(n, meta(), dog_array())",
        "ClosedError",
    ),
}

SCRIPT = r"""
import builtins, os, sys, tempfile
import numpy as np
import pydarknet as pd
from helpers.bad_inputs import CASES, CONV, NET, YOLO_HEAD

CFG, WEIGHTS, DOG, NAMES, CASE, EXC = sys.argv[1:7]
TINY = open(CFG).read()
tmp = tempfile.mkdtemp()
size = os.path.getsize(WEIGHTS)

def write(name, data):
    path = os.path.join(tmp, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
        f.write(data)
    return path

def cfg(text):
    return write('bad.cfg', text)

def head(n):
    with open(WEIGHTS, 'rb') as f:
        return f.read(n)

def dog_bytes():
    with open(DOG, 'rb') as f:
        return f.read()

def dog_array():
    return pd.images.read_image(DOG)

def net():
    return pd.load_net(CFG, WEIGHTS)

def meta():
    return pd.load_meta(NAMES)

expected = getattr(pd, EXC, None) or getattr(builtins, EXC)
code = CASES[CASE][0]
try:
    exec(code)
except expected as exc:
    assert isinstance(exc, pd.DarknetError), f'{type(exc)} is not a DarknetError'
    print('RAISED', type(exc).__name__, exc)
else:
    sys.exit(f'{CASE}: no exception')

labels = {name for name, _prob, _box in pd.detect(net(), meta(), DOG)}
assert {'dog', 'bicycle'} <= labels and labels & {'car', 'truck'}, labels
print('DETECTED', sorted(labels))
"""
