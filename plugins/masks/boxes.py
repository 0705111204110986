"""Box masks: ``box`` (one centred box of a given area) and ``random-boxes`` (1-3 boxes anywhere)."""

from __future__ import annotations

import math

import numpy as np

from ganzoo.api import GanzooError, MaskSpec
from ganzoo.hookspecs import Register, hookimpl


def centre_box(shape: tuple[int, int], rng: np.random.Generator, area: float = 0.25) -> np.ndarray:
    """A box with the image's aspect ratio covering ``area`` of it, centred (the classic benchmark hole).

    It draws nothing from ``rng``: every centre-box mask of one size is the same.
    """
    if not 0 < area <= 1:
        raise GanzooError(f"mask 'box': area must be in (0, 1], got {area}")
    height, width = shape
    side = math.sqrt(area)
    box_h, box_w = max(1, round(height * side)), max(1, round(width * side))
    top, left = (height - box_h) // 2, (width - box_w) // 2
    mask = np.zeros(shape, dtype=bool)
    mask[top : top + box_h, left : left + box_w] = True
    return mask


def random_boxes(
    shape: tuple[int, int], rng: np.random.Generator, count: tuple[int, int] = (1, 3),
    side: tuple[float, float] = (0.1, 0.5),
) -> np.ndarray:
    """``count`` axis-aligned boxes, each side a fraction ``side`` of the image's, anywhere inside it.

    Sides are whole pixels in [ceil(lo*n), floor(hi*n)], so the union's area is
    provably within [lo^2, count_max * hi^2].
    """
    height, width = shape
    mask = np.zeros(shape, dtype=bool)
    for _ in range(rng.integers(count[0], count[1] + 1)):
        box_h = rng.integers(math.ceil(side[0] * height), math.floor(side[1] * height) + 1)
        box_w = rng.integers(math.ceil(side[0] * width), math.floor(side[1] * width) + 1)
        top, left = rng.integers(0, height - box_h + 1), rng.integers(0, width - box_w + 1)
        mask[top : top + box_h, left : left + box_w] = True
    return mask


@hookimpl
def register_masks(register: Register) -> None:
    register(
        "box",
        MaskSpec(centre_box, "Centre box covering `area` of the image (default 0.25: hole 20-30%)", (0.2, 0.3),
                 {"area": 0.25}, min_size=10),
    )
    register(
        "random-boxes",
        MaskSpec(random_boxes, "1-3 random boxes, sides 10-50% of the image's: hole 1-75%", (0.01, 0.75),
                 {"count": (1, 3), "side": (0.1, 0.5)}, min_size=2),
    )
