"""``thin``, ``medium``, ``thick``: the three mask sets of LaMa's evaluation (Suvorov et al. 2022).

LaMa tests on random polylines of growing brush width, with boxes added to the
wider sets. Here each set draws a target hole fraction uniformly from its
declared range and adds strokes (and, for medium/thick, boxes) until the hole
reaches it; a mask that overshoots the range is redrawn. Widths and lengths
are fractions of the image side, so the sets look alike at any resolution.
"""

from __future__ import annotations

import math

import numpy as np

from ganzoo.api import MaskSpec
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.masks.drawing import thick_polyline, within_area

SETS = {
    # name: brush width (fraction of side), hole area range, probability that a piece is a box
    "thin": ((0.02, 0.06), (0.05, 0.25), 0.0),
    "medium": ((0.06, 0.14), (0.15, 0.4), 0.2),
    "thick": ((0.12, 0.25), (0.3, 0.6), 0.3),
}


def _polyline(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """1-5 straight segments of 10-60% of the side at random turns (LaMa's irregular lines)."""
    side = min(shape)
    points = [np.array([rng.uniform(0, shape[0] - 1), rng.uniform(0, shape[1] - 1)])]
    for _ in range(rng.integers(1, 6)):
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(0.1, 0.6) * side
        step = length * np.array([math.sin(angle), math.cos(angle)])
        points.append(np.clip(points[-1] + step, 0, [shape[0] - 1, shape[1] - 1]))
    return np.array(points)


def lama_mask(
    shape: tuple[int, int], rng: np.random.Generator, width: tuple[float, float] = (0.02, 0.06),
    area: tuple[float, float] = (0.05, 0.25), boxes: float = 0.0,
) -> np.ndarray:
    """Strokes of ``width`` (and boxes with probability ``boxes``) until the hole reaches a target in ``area``."""
    side = min(shape)

    def build() -> np.ndarray:
        target = rng.uniform(*area)
        mask = np.zeros(shape, dtype=bool)
        while mask.mean() < target:
            if rng.random() < boxes:
                box_h, box_w = (rng.uniform(0.1, 0.4, 2) * np.array(shape)).astype(int) + 1
                top, left = rng.integers(0, shape[0] - box_h + 1), rng.integers(0, shape[1] - box_w + 1)
                mask[top : top + box_h, left : left + box_w] = True
            else:
                thick_polyline(mask, _polyline(shape, rng), max(1.0, rng.uniform(*width) * side))
        return mask

    return within_area(build, area, "LaMa-style")


def _spec(name: str) -> MaskSpec:
    width, area, boxes = SETS[name]
    text = f"LaMa-style {name} set: strokes {width[0]:.0%}-{width[1]:.0%} of the side wide"
    text += f"{' plus boxes' if boxes else ''}, hole {area[0]:.0%}-{area[1]:.0%}"
    return MaskSpec(lama_mask, text, area, {"width": width, "area": area, "boxes": boxes})


@hookimpl
def register_masks(register: Register) -> None:
    for name in SETS:
        register(name, _spec(name))
