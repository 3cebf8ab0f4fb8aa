"""What cfgs written for the AlexeyAB / hank-ai Darknet forks hold that Darknet 61c9d02e
(pjreddie's, which pydarknet runs) does not implement.

Those forks read more layer types, activations and options than Darknet here.  Darknet
replaces an activation it does not know by ReLU and ignores an option it does not read
(src/activations.c ``get_activation``, src/parser.c ``option_unused``), so such a cfg
builds without an error but computes something else.  :data:`RULES` says, per layer kind
and option, what the fork does with the value when it changes the network's output (the
fork's ``parse_*()`` in its src/parser.c, hank-ai's src-lib/Cfg.cpp); :data:`IGNORED`
lists the fork's other options, which do not change detections (training, tracking, CUDA
streams) or whose effect pydarknet does not establish.
"""

from __future__ import annotations

from collections.abc import Callable

from .parse import Section

__all__ = ["ACTIVATIONS", "FORK", "IGNORED", "IGNORED_EVERY_LAYER", "RULES", "SECTIONS"]

FORK = "the AlexeyAB/hank-ai darknet fork"

# the fork's string_to_layer_type() names that Darknet here does not know
SECTIONS = frozenset(
    ["[scale_channels]", "[sam]", "[Gaussian_yolo]", "[conv_lstm]", "[history]",
     "[local_avg]", "[local_avgpool]", "[reorg3d]", "[contrastive]", "[empty]",
     "[silence]", "[implicit]"]
)  # fmt: skip

# the fork's get_activation() names that Darknet here turns into RELU
ACTIVATIONS = frozenset(
    ["swish", "mish", "hard_mish", "normalize_channels", "normalize_channels_softmax",
     "normalize_channels_softmax_maxval", "relu6", "gelu", "revleaky"]
)  # fmt: skip

# A rule returns what the fork does with the section's value ("it ...") when that
# changes the output, else None (the value is the fork's neutral one).
Rule = Callable[[Section], str | None]


def _nonzero(key: str, effect: str) -> Rule:
    return lambda sec: effect if sec.int(key, 0) != 0 else None


def _conv_strides(sec: Section) -> str | None:
    """Fork: stride_x/stride_y below 1 fall back to stride= (its parse_convolutional)."""
    stride = sec.int("stride", 1)
    sx, sy = (v if (v := sec.int(k, -1)) >= 1 else stride for k in ("stride_x", "stride_y"))
    if (sx, sy) == (stride, stride):
        return None
    return f"it strides the convolution by {sx} across and {sy} down, not by stride={stride}"


def _pool_strides(sec: Section) -> str | None:
    """Fork: stride_x/stride_y default to stride= (its parse_maxpool)."""
    stride = sec.int("stride", 1)
    sx, sy = sec.int("stride_x", stride), sec.int("stride_y", stride)
    if (sx, sy) == (stride, stride):
        return None
    return f"it pools with a stride of {sx} across and {sy} down, not stride={stride}"


def _dilation(sec: Section) -> str | None:
    size, dilation = sec.int("size", 1), sec.int("dilation", 1)
    if size == 1 or dilation == 1:  # the fork ignores dilation for size=1
        return None
    return f"it dilates its {size}x{size} kernel by {dilation}"


def _cbn(sec: Section) -> str | None:
    if sec.int("cbn", 0) == 0 or sec.int("batch_normalize", 0) != 0:
        return None
    return "it turns batch normalization on (cbn=), which changes the weights file's layout"


def _route_groups(sec: Section) -> str | None:
    groups, group_id = sec.int("groups", 1), sec.int("group_id", 0)
    if (groups, group_id) == (1, 0):
        return None
    return f"it passes on only channel group {group_id} of {groups}, not all channels"


def _shortcut_from(sec: Section) -> str | None:
    text = sec.find("from")[1] or ""
    if "," not in text:
        return None
    return f"it adds all of layers {text} (Darknet here adds only the first)"


def _shortcut_weights(sec: Section) -> str | None:
    kind = sec.find("weights_type")[1]
    return (
        None if kind in (None, "none") else f"it weights its inputs ({kind}) with learned weights"
    )


def _scale_x_y(sec: Section) -> str | None:
    scale = sec.float("scale_x_y", 1.0)
    return None if scale == 1.0 else f"it scales the predicted box centres by {scale:g}"


def _nms_kind(sec: Section) -> str | None:
    kind = sec.find("nms_kind")[1]
    if kind not in ("greedynms", "diounms", "cornersnms"):  # the fork's DEFAULT_NMS otherwise
        return None
    return f"it suppresses overlapping boxes with its {kind} (DIoU-based) non-maximum suppression"


_ANTIALIAS = _nonzero("antialiasing", "it blurs its output with an extra anti-aliasing layer")

RULES: dict[str, dict[str, Rule]] = {
    "convolutional": {
        "stride_x": _conv_strides,
        "stride_y": _conv_strides,
        "dilation": _dilation,
        "antialiasing": _ANTIALIAS,
        "share_index": lambda sec: "it shares the weights of another layer",
        "cbn": _cbn,
        "coordconv": _nonzero("coordconv", "it writes coordinate channels into its output"),
    },
    "maxpool": {
        "stride_x": _pool_strides,
        "stride_y": _pool_strides,
        "maxpool_depth": _nonzero("maxpool_depth", "it pools across channels, not within"),
        "antialiasing": _ANTIALIAS,
        "maxpool_zero_nonmax": _nonzero("maxpool_zero_nonmax", "it zeroes non-maximum values"),
    },
    "route": {"groups": _route_groups, "group_id": _route_groups},
    "shortcut": {"from": _shortcut_from, "weights_type": _shortcut_weights},
    "yolo": {
        "scale_x_y": _scale_x_y,
        "new_coords": _nonzero("new_coords", "it decodes boxes with scaled-YOLOv4's formulas"),
        "nms_kind": _nms_kind,
    },
}


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


# the fork's per-layer options of parse_network_cfg_custom() not read here
IGNORED_EVERY_LAYER = _keys("clip dont_update burnin_update train_only_bn")
IGNORED: dict[str, frozenset[str]] = {
    "net": _keys(
        "learning_rate_min sgdr_cycle sgdr_mult track augment_speed sequential_subdivisions "
        "try_fix_nan weights_reject_freq equidistant_point badlabels_rejection_percentage "
        "num_sigmas_reject_badlabels ema_alpha use_cuda_graph loss_scale dynamic_minibatch "
        "optimized_memory workspace_size_limit_MB flip blur gaussian_noise mixup cutmix mosaic "
        "letter_box mosaic_bound contrastive contrastive_jit_flip contrastive_color "
        "unsupervised label_smooth_eps resize_step attention adversarial_lr max_chart_loss "
        "seq_scales show_receptive_field"
    ),
    "convolutional": _keys(
        "assisted_excitation bin_output sway rotate stretch stretch_sway angle grad_centr "
        "reverse stream wait_stream"
    ),
    "maxpool": _keys("out_channels"),  # used only with maxpool_depth
    "route": _keys("stream wait_stream"),
    "shortcut": _keys("weights_normalization"),  # used only with weights_type
    "yolo": _keys(
        "max_delta counters_per_class label_smooth_eps objectness_smooth iou_normalizer "
        "obj_normalizer cls_normalizer delta_normalizer iou_loss iou_thresh_kind beta_nms "
        "resize focal_loss iou_thresh track_history_size sim_thresh dets_for_track "
        "dets_for_show track_ciou_norm embedding_layer show_details"
    ),
    "region": _keys("focal_loss resize"),
    "detection": _keys("resize"),
    "dropout": _keys("dropblock dropblock_size_rel dropblock_size_abs"),
}
