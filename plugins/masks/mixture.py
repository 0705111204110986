"""``mixture``: each mask drawn from one of several registered mask kinds, within an area range.

A model trained on one hole shape fails on others (benchmarks/results/inpainting_mnist.md: trained on centre
boxes, it loses to biharmonic on random boxes). DeepFill v2 and LaMa train on a mix of free-form strokes and
boxes; this mask does the same with whatever kinds are installed, a third party's included:
``--task-opt mask=mixture --task-opt mask_kinds=box,strokes,thin --task-opt mask_weights=1,2,1
--task-opt mask_min_area=0.1 --task-opt mask_max_area=0.6``. Each kind is drawn with its own default options.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import ganzoo
from ganzoo.api import GanzooError, MaskSpec
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.masks.drawing import within_area

KINDS = "box,random-boxes,strokes,thin,medium,thick"


def _weights(text: str, count: int) -> np.ndarray:
    """``"1,2,1"`` as probabilities over ``count`` kinds; empty means equal."""
    if not text.strip():
        return np.full(count, 1.0 / count)
    try:
        weights = np.array([float(w) for w in text.split(",")])
    except ValueError:
        raise GanzooError(f"mask 'mixture': weights={text!r} must be comma-separated numbers, one per kind") from None
    if len(weights) != count or (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise GanzooError(f"mask 'mixture': weights={text!r} needs {count} non-negative numbers (one per kind), "
                          "not all zero")
    return weights / weights.sum()


def mixture(shape: tuple[int, int], rng: np.random.Generator, kinds: str = KINDS, weights: str = "",
            min_area: float = 0.0, max_area: float = 1.0) -> np.ndarray:
    """Pick a kind by ``weights``, then draw its masks until the hole is in [min_area, max_area]."""
    names = [name.strip() for name in kinds.split(",") if name.strip()]
    if not names or "mixture" in names:
        raise GanzooError(f"mask 'mixture': kinds={kinds!r} must name other mask kinds (ganzoo list masks)")
    if not 0 <= min_area <= max_area <= 1:
        raise GanzooError(f"mask 'mixture': need 0 <= min_area <= max_area <= 1, got {min_area} and {max_area}")
    specs: list[Any] = [ganzoo.get("masks", name) for name in names]
    for name, spec in zip(names, specs, strict=True):
        if min(shape) < spec.min_size:
            raise GanzooError(f"mask 'mixture': kind '{name}' needs images of at least {spec.min_size} px a side, "
                              f"got {shape[0]}x{shape[1]}; leave it out of kinds")
    probabilities = _weights(weights, len(names))

    # The kind first, then its masks until one fits the range: the weights stay the kinds' shares (redrawing the
    # kind too would favour whichever kind fits the range best).
    chosen = int(rng.choice(len(specs), p=probabilities))
    return within_area(lambda: np.asarray(specs[chosen](shape, rng), dtype=bool), (min_area, max_area),
                       names[chosen], f"widen mask 'mixture''s min_area/max_area or leave '{names[chosen]}' out "
                       "of its kinds")


@hookimpl
def register_masks(register: Register) -> None:
    register("mixture", MaskSpec(
        mixture, "A mix of mask kinds (default: all six built-in), as DeepFill v2 and LaMa train: weights, area range",
        (0.0, 1.0), {"kinds": KINDS, "weights": "", "min_area": 0.0, "max_area": 1.0}, min_size=2))
