"""The shapes the cfg checker computes: what Darknet will build, layer by layer."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LayerShape", "NetworkShape"]


@dataclass
class LayerShape:
    """One layer's output as Darknet builds it (0 where Darknet leaves a size unset)."""

    kind: str
    w: int
    h: int
    c: int
    outputs: int
    classes: int = 0
    coords: int = 0
    floats: int = 0  # rough float count of its buffers, for the memory limit
    workspace: int = 0  # bytes
    # what budget.py's COSTS read (0 where the kind has none)
    weights: int = 0  # floats of its weights (dialect="alexeyab": all it reads from the file)
    size: int = 0  # its window (kernel) side
    stride: int = 0
    groups: int = 1

    @property
    def is_image(self) -> bool:
        return self.w > 0 and self.h > 0 and self.c > 0 and self.outputs == self.w * self.h * self.c


@dataclass
class NetworkShape:
    width: int
    height: int
    channels: int
    inputs: int
    batch: int
    time_steps: int = 1
    layers: list[LayerShape] = field(default_factory=list)
    bytes_needed: int = 0
    dialect: str = "pjreddie"  # whose semantics: "pjreddie" or "alexeyab"
    letter_box: int = 0  # [net] letter_box= of dialect="alexeyab": letterbox, not stretch
