"""The options AlexeyAB's darknet (59596d78) reads, per section type, and what of them
pydarknet's ``dialect="alexeyab"`` runs.

:data:`READ` lists the keys each ``parse_*()`` of the fork's src/parser.c looks up with
``option_find*`` (the tests extract them from that file again and compare);
:data:`EVERY_LAYER` the keys ``parse_network_cfg_custom()`` reads from every layer
section.  A key outside these is what the fork reports as "Unused field": a typo, logged
as a warning.  :data:`KINDS` are the section names the fork knows, :data:`RUNS` the layer
kinds pydarknet builds for it (recurrent and training-only layers are refused), and
:data:`UNSUPPORTED` the options whose effect pydarknet does not reproduce.
"""

from __future__ import annotations

from collections.abc import Callable

from .options import ACTIVATIONS as UPSTREAM_ACTIVATIONS
from .parse import Section
from .rules import KINDS as UPSTREAM_KINDS

__all__ = ["ACTIVATIONS", "EVERY_LAYER", "KINDS", "READ", "RUNS", "UNSUPPORTED",
           "UNSUPPORTED_ACTIVATIONS"]  # fmt: skip

# activations.c get_activation() of the fork
ACTIVATIONS = UPSTREAM_ACTIVATIONS | frozenset(
    ["swish", "mish", "hard_mish", "normalize_channels", "normalize_channels_softmax",
     "normalize_channels_softmax_maxval", "relu6", "gelu", "revleaky"]
)  # fmt: skip

_FORK_ONLY = {
    "[scale_channels]": "scale_channels", "[sam]": "sam", "[Gaussian_yolo]": "gaussian_yolo",
    "[conv_lstm]": "conv_lstm", "[history]": "history", "[local_avg]": "local_avgpool",
    "[local_avgpool]": "local_avgpool", "[reorg3d]": "reorg3d", "[contrastive]": "contrastive",
    "[empty]": "empty", "[silence]": "empty", "[implicit]": "implicit",
}  # fmt: skip
_UPSTREAM_ONLY = ("[deconv]", "[deconvolutional]", "[iseg]", "[logistic]", "[l2norm]")
# the fork's string_to_layer_type(); its [reorg] is its reorg_old layer
KINDS = {h: k for h, k in UPSTREAM_KINDS.items() if h not in _UPSTREAM_ONLY} | _FORK_ONLY
KINDS["[reorg]"] = "reorg_old"

# the layer kinds pydarknet builds in this dialect
RUNS = frozenset(
    ["convolutional", "maxpool", "route", "shortcut", "upsample", "yolo", "reorg3d", "sam",
     "scale_channels"]
)  # fmt: skip


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


EVERY_LAYER = _keys(
    "clip onlyforward dont_update burnin_update stopbackward train_only_bn dontload "
    "dontloadscales learning_rate"
)
READ: dict[str, frozenset[str]] = {
    "net": _keys(
        "max_batches batch learning_rate learning_rate_min sgdr_cycle sgdr_mult momentum decay "
        "subdivisions time_steps track augment_speed sequential_subdivisions try_fix_nan "
        "weights_reject_freq equidistant_point badlabels_rejection_percentage "
        "num_sigmas_reject_badlabels ema_alpha use_cuda_graph loss_scale dynamic_minibatch "
        "optimized_memory workspace_size_limit_MB adam B1 B2 eps height width channels inputs "
        "max_crop min_crop flip blur gaussian_noise mixup cutmix mosaic letter_box "
        "mosaic_bound contrastive contrastive_jit_flip contrastive_color unsupervised "
        "label_smooth_eps resize_step attention adversarial_lr max_chart_loss angle aspect "
        "saturation exposure hue power policy burn_in step scale steps scales seq_scales gamma "
        "show_receptive_field"
    ),
    "local": _keys("filters size stride pad activation"),
    "convolutional": _keys(
        "filters groups size stride stride_x stride_y dilation antialiasing pad padding "
        "activation assisted_excitation share_index batch_normalize cbn binary xnor bin_output "
        "sway rotate stretch stretch_sway flipped dot angle grad_centr reverse coordconv stream "
        "wait_stream"
    ),
    "crnn": _keys(
        "size stride dilation pad padding output hidden groups activation batch_normalize "
        "xnor shortcut"
    ),
    "rnn": _keys("output hidden activation batch_normalize logistic shortcut"),
    "gru": _keys("output batch_normalize"),
    "lstm": _keys("output batch_normalize"),
    "conv_lstm": _keys(
        "size stride dilation pad padding output groups activation batch_normalize xnor "
        "peephole bottleneck state_constrain shortcut lstm_activation time_normalizer"
    ),
    "history": _keys("history_size"),
    "connected": _keys("output activation batch_normalize"),
    "softmax": _keys("groups temperature tree spatial noloss"),
    "contrastive": _keys(
        "classes yolo_layer temperature cls_normalizer max_delta contrastive_neg_max"
    ),
    "yolo": _keys(
        "classes num mask max show_details max_delta counters_per_class label_smooth_eps "
        "scale_x_y objectness_smooth new_coords iou_normalizer obj_normalizer cls_normalizer "
        "delta_normalizer iou_loss iou_thresh_kind beta_nms nms_kind jitter resize focal_loss "
        "ignore_thresh truth_thresh iou_thresh random track_history_size sim_thresh "
        "dets_for_track dets_for_show track_ciou_norm embedding_layer map anchors"
    ),
    "gaussian_yolo": _keys(
        "classes max num mask max_delta counters_per_class label_smooth_eps scale_x_y "
        "objectness_smooth uc_normalizer iou_normalizer obj_normalizer cls_normalizer "
        "delta_normalizer iou_loss iou_thresh_kind beta_nms nms_kind yolo_point jitter resize "
        "ignore_thresh truth_thresh iou_thresh random map anchors"
    ),
    "region": _keys(
        "coords classes num max log sqrt softmax focal_loss jitter resize rescore thresh "
        "classfix absolute random coord_scale object_scale noobject_scale mask_scale "
        "class_scale bias_match tree map anchors"
    ),
    "detection": _keys(
        "coords classes rescore num side softmax sqrt max coord_scale forced object_scale "
        "noobject_scale class_scale jitter resize random reorg"
    ),
    "cost": _keys("type scale ratio"),
    "crop": _keys("crop_height crop_width flip angle saturation exposure noadjust shift"),
    "reorg3d": _keys("stride reverse"),
    "reorg_old": _keys("stride reverse"),
    "local_avgpool": _keys("stride stride_x stride_y size padding"),
    "maxpool": _keys(
        "stride stride_x stride_y size padding maxpool_depth out_channels antialiasing "
        "maxpool_zero_nonmax"
    ),
    "avgpool": frozenset(),
    "dropout": _keys("probability dropblock dropblock_size_rel dropblock_size_abs"),
    "normalization": _keys("alpha beta kappa size"),
    "batchnorm": frozenset(),
    "shortcut": _keys("activation weights_type weights_normalization from"),
    "scale_channels": _keys("from scale_wh activation"),
    "sam": _keys("from activation"),
    "implicit": _keys("mean std filters atoms"),
    "activation": _keys("activation"),
    "upsample": _keys("stride scale"),
    "route": _keys("layers groups group_id stream wait_stream"),
    "empty": frozenset(),
}

# An unsupported rule returns what pydarknet cannot reproduce, else None.
Rule = Callable[[Section], str | None]


def _set(key: str, what: str) -> Rule:
    return lambda sec: what if sec.int(key, 0) != 0 else None


_SHARED = "weights shared with another layer (share_index=)"


def _dilated(sec: Section) -> str | None:
    size, dilation = sec.int("size", 1), sec.int("dilation", 1)
    return None if size == 1 or dilation == 1 else f"dilated convolutions (dilation={dilation})"


def _uneven(sec: Section) -> str | None:
    stride = sec.int("stride", 1)
    sx, sy = (v if (v := sec.int(k, -1)) >= 1 else stride for k in ("stride_x", "stride_y"))
    return None if sx == sy else f"convolutions of unequal strides ({sx} across, {sy} down)"


# activations of the fork pydarknet does not run: they normalize across channels
UNSUPPORTED_ACTIVATIONS = frozenset(
    ["normalize_channels", "normalize_channels_softmax", "normalize_channels_softmax_maxval"]
)
UNSUPPORTED: dict[str, dict[str, Rule]] = {
    "convolutional": {
        "antialiasing": _set("antialiasing", "anti-aliasing (antialiasing=)"),
        "share_index": lambda sec: _SHARED,
        "coordconv": _set("coordconv", "coordinate channels (coordconv=)"),
        "assisted_excitation": _set("assisted_excitation", "assisted excitation"),
        "binary": _set("binary", "binary weights (binary=)"),
        "xnor": _set("xnor", "XNOR layers (xnor=)"),
        "sway": _set("sway", "deformable convolutions (sway=)"),
        "rotate": _set("rotate", "deformable convolutions (rotate=)"),
        "stretch": _set("stretch", "deformable convolutions (stretch=)"),
        "stretch_sway": _set("stretch_sway", "deformable convolutions (stretch_sway=)"),
        "cbn": _set("cbn", "cross-iteration batch normalization (cbn=)"),
        "flipped": _set("flipped", "flipped kernels (flipped=)"),
        "dilation": _dilated,
        "stride_x": _uneven,
        "stride_y": _uneven,
    },
    "maxpool": {"antialiasing": _set("antialiasing", "anti-aliasing (antialiasing=)")},
    "yolo": {"embedding_layer": lambda sec: "tracking embeddings (embedding_layer=)"},
}
