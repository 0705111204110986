"""``strokes``: free-form brush strokes, the DeepFill v2 training masks (Yu et al. 2019, Algorithm 1).

1-3 strokes, each a polyline of 4-12 vertices whose direction zig-zags around
a mean angle of 2pi/5 (+- up to 2pi/15), segment lengths ~ N(r, r/2) clipped to
[0, 2r] with r = image diagonal / 8, and a brush 12-40 px wide at 256 px
(scaled with the image). Masks outside the declared area range are redrawn.
"""

from __future__ import annotations

import math

import numpy as np

from ganzoo.api import MaskSpec
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.masks.drawing import thick_polyline, within_area

REFERENCE_SIDE = 256


def stroke_vertices(
    shape: tuple[int, int], rng: np.random.Generator, vertices: tuple[int, int],
    mean_angle: float = 2 * math.pi / 5, angle_range: float = 2 * math.pi / 15,
) -> np.ndarray:
    """One zig-zag polyline as ``(K, 2)`` (row, col) points kept inside the image."""
    height, width = shape
    radius = math.hypot(height, width) / 8
    count = rng.integers(vertices[0], vertices[1] + 1)
    low = mean_angle - rng.uniform(0, angle_range)
    high = mean_angle + rng.uniform(0, angle_range)
    points = [np.array([rng.uniform(0, height - 1), rng.uniform(0, width - 1)])]
    for i in range(count - 1):
        angle = rng.uniform(low, high)
        angle = 2 * math.pi - angle if i % 2 == 0 else angle
        length = float(np.clip(rng.normal(radius, radius / 2), 0, 2 * radius))
        step = length * np.array([math.sin(angle), math.cos(angle)])
        points.append(np.clip(points[-1] + step, 0, [height - 1, width - 1]))
    return np.array(points)


def free_form(
    shape: tuple[int, int], rng: np.random.Generator, strokes: tuple[int, int] = (1, 3),
    vertices: tuple[int, int] = (4, 12), brush: tuple[float, float] = (12, 40), area: tuple[float, float] = (0.02, 0.5),
) -> np.ndarray:
    """DeepFill v2 free-form mask; ``brush`` is in pixels at 256 px and scales with the image."""
    scale = min(shape) / REFERENCE_SIDE

    def build() -> np.ndarray:
        mask = np.zeros(shape, dtype=bool)
        for _ in range(rng.integers(strokes[0], strokes[1] + 1)):
            width = max(1.0, rng.uniform(*brush) * scale)
            thick_polyline(mask, stroke_vertices(shape, rng, vertices), width)
        return mask

    return within_area(build, area, "strokes")


@hookimpl
def register_masks(register: Register) -> None:
    register(
        "strokes",
        MaskSpec(free_form, "Free-form brush strokes (DeepFill v2): 1-3 strokes of 4-12 vertices, hole 2-50%",
                 (0.02, 0.5), {"strokes": (1, 3), "vertices": (4, 12), "brush": (12, 40), "area": (0.02, 0.5)}),
    )
