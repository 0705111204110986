"""``shapes``: procedural filled shapes drawn with skimage.draw, the embedded default dataset.

Needs no files. Item ``i`` is drawn from ``np.random.default_rng((seed, split, i))``
on demand, so any item is cheap to get and always the same for a fixed seed
(exact resume depends on it). Shapes are drawn at twice the size and
downscaled with antialiasing, so edges look smooth even at 28-32 px.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, item_count, item_rng, split_id
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import LUMA, from_array, resize

KINDS = ("circle", "rectangle", "triangle", "ellipse")
_SUPERSAMPLE = 2


def _colour(rng: np.random.Generator, light: bool, avoid: list[np.ndarray]) -> np.ndarray:
    """A random RGB colour that is light (or dark) and far from the colours in ``avoid``.

    Background and shapes sit on opposite sides of the luma range so shapes stay
    visible after conversion to one channel.
    """
    candidates = rng.random((64, 3))
    luma = candidates @ LUMA
    bright = luma > 0.6 if light else luma < 0.35
    far = np.ones(len(candidates), dtype=bool)
    for colour in avoid:
        far &= np.linalg.norm(candidates - colour, axis=1) > 0.35
    pick = bright & far if (bright & far).any() else bright
    return candidates[pick.argmax()] if pick.any() else np.full(3, 0.9 if light else 0.1)


def _background(rng: np.random.Generator, size: int, light: bool, gradient: float) -> np.ndarray:
    """A plain colour or (with probability ``gradient``) a gentle linear gradient between two colours of the same
    brightness."""
    start = _colour(rng, light, [])
    if rng.random() < 1 - gradient:
        return np.broadcast_to(start, (size, size, 3)).copy()
    end = _colour(rng, light, [])
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    t = np.clip(xx * np.cos(angle) + yy * np.sin(angle) + 0.5, 0, 1)[..., None]
    return (1 - t) * start + t * end


def _shape_mask(rng: np.random.Generator, kind: str, size: int, radius: float) -> np.ndarray:
    """A boolean mask of one shape of roughly ``radius`` at a random place inside the canvas."""
    from skimage import draw  # here, not at the top: listing the plugins imports no scikit-image

    cy, cx = rng.uniform(0.8 * radius, size - 0.8 * radius, 2)
    angle = rng.uniform(0, np.pi)
    if kind == "circle":
        rr, cc = draw.disk((cy, cx), radius, shape=(size, size))
    elif kind == "ellipse":
        rr, cc = draw.ellipse(cy, cx, radius, radius * rng.uniform(0.35, 0.6), shape=(size, size), rotation=angle)
    elif kind == "rectangle":
        half = np.array([0.8, 0.8 * rng.uniform(0.5, 1.0)]) * radius
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        ys, xs = (corners @ rot.T).T
        rr, cc = draw.polygon(cy + ys, cx + xs, shape=(size, size))
    else:
        angles = angle + 2 * np.pi * np.arange(3) / 3 + rng.uniform(-0.3, 0.3, 3)
        dist = radius * rng.uniform(0.85, 1.0, 3)
        rr, cc = draw.polygon(cy + dist * np.sin(angles), cx + dist * np.cos(angles), shape=(size, size))
    mask = np.zeros((size, size), dtype=bool)
    mask[rr, cc] = True
    return mask


class Shapes(Dataset):
    """1-3 filled circles/rectangles/triangles/ellipses; the label is the kind of the largest."""

    def __init__(self, options: DataOptions) -> None:
        if options.image_size < 4:
            raise GanzooError(f"dataset 'shapes' needs --image-size of at least 4, got {options.image_size}")
        self.size = options.image_size
        self.channels = options.channels or 3
        self.seed = options.seed
        self.split = split_id("shapes", options.split)
        self.n = item_count("shapes", options)
        self.max_shapes = int(options.options["max_shapes"])
        self.gradient = float(options.options["gradient"])
        if not 1 <= self.max_shapes <= 3:
            raise GanzooError(f"dataset 'shapes': --data-opt max_shapes must be 1, 2 or 3, got {self.max_shapes}")
        self.corners = bool(options.options["corners"])
        if not 0 <= self.gradient <= 1:
            raise GanzooError(f"dataset 'shapes': --data-opt gradient is a probability in [0, 1], got {self.gradient}")

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = item_rng(self.seed, self.split, index, self.n)
        size = self.size * _SUPERSAMPLE
        light_background = bool(rng.random() < 0.5)
        canvas = _background(rng, size, light_background, self.gradient)
        weights = np.array([0.5, 0.3, 0.2][:self.max_shapes])
        count = rng.choice([1, 2, 3][:self.max_shapes], p=weights / weights.sum())
        radii = [rng.uniform(0.22, 0.4) * size] + list(rng.uniform(0.08, 0.2, count - 1) * size)
        kinds = rng.integers(len(KINDS), size=count)
        if not self.corners:  # rectangles and triangles become ellipses of their size: a yardstick, not a task
            kinds = np.where(np.isin(kinds, [KINDS.index("rectangle"), KINDS.index("triangle")]),
                             KINDS.index("ellipse"), kinds)
        masks = [_shape_mask(rng, KINDS[k], size, r) for k, r in zip(kinds, radii)]
        order = sorted(range(count), key=lambda j: -masks[j].sum())  # largest first, smaller ones on top
        used: list[np.ndarray] = []
        for j in order:
            colour = _colour(rng, not light_background, used)
            used.append(colour)
            canvas[masks[j]] = colour
        image = resize(from_array(canvas, self.channels), self.size)
        return {"image": image, "label": torch.tensor(int(kinds[order[0]]), dtype=torch.long)}


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "shapes",
        DatasetSpec(
            build=Shapes,
            description="Procedural filled shapes (skimage.draw), any size, no download; labels: "
            + "/".join(KINDS)
            + " (options n=10000, max_shapes=3 per image, gradient=0.5: the share of gradient backgrounds, "
            "corners=false: rectangles and triangles drawn as ellipses, what a G that draws no corner could reach)",
            channels=3,
            num_classes=len(KINDS),
            options={"n": 10000, "max_shapes": 3, "gradient": 0.5, "corners": True},
        ),
    )
