"""Validation of Darknet ``.cfg`` files before Darknet's C parser sees them.

:mod:`.parse` reads the file as Darknet does; :mod:`.dialect` decides whose darknet the
cfg is for.  For pjreddie's, :mod:`.options_check` compares its options with what Darknet
reads (:mod:`.options`) and refuses what the AlexeyAB/hank-ai forks mean differently
(:mod:`.forks`); for AlexeyAB's, :mod:`.dialect` checks them against the fork's
(:mod:`.fork_options`).  :mod:`.check` computes every layer's shape with the rules of
:mod:`.rules` and :mod:`.layers` (:mod:`.fork_layers` for the fork).
"""

from .check import check_cfg, check_cfg_bytes
from .shapes import LayerShape, NetworkShape

__all__ = ["LayerShape", "NetworkShape", "check_cfg", "check_cfg_bytes"]
