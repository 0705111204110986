"""Drawing helpers shared by the built-in mask generators (strokes, LaMa sets).

A helper module of the built-in plugins: it registers nothing. A mask is a
boolean ``(H, W)`` numpy array, True = hole.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ganzoo.api import GanzooError

MAX_TRIES = 200


def thick_polyline(mask: np.ndarray, points: np.ndarray, width: float) -> None:
    """Draw a polyline of ``width`` pixels with round joints into ``mask`` (in place).

    ``points`` is ``(K, 2)`` float (row, col). Each segment is a filled
    rectangle plus its one-pixel centre line (so thin strokes never break up),
    and every vertex gets a disk of the stroke's width.
    """
    from skimage import draw  # here, not at the top: listing the plugins imports no scikit-image

    shape = mask.shape
    half = width / 2
    for p0, p1 in zip(points[:-1], points[1:]):
        delta = p1 - p0
        length = float(np.hypot(*delta))
        if length > 0:
            normal = np.array([-delta[1], delta[0]]) / length * half
            corners = np.array([p0 + normal, p1 + normal, p1 - normal, p0 - normal])
            rr, cc = draw.polygon(corners[:, 0], corners[:, 1], shape=shape)
            mask[rr, cc] = True
        rr, cc = draw.line(*np.round(p0).astype(int), *np.round(p1).astype(int))
        keep = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
        mask[rr[keep], cc[keep]] = True
    for point in points:
        rr, cc = draw.disk(tuple(point), max(half, 0.5), shape=shape)
        mask[rr, cc] = True


def within_area(
    build: Callable[[], np.ndarray], area: tuple[float, float], name: str,
    fix: str = "its options do not fit its declared area range",
) -> np.ndarray:
    """Redraw ``build()`` until its hole fraction lies in ``area``: the promise a MaskSpec makes."""
    for _ in range(MAX_TRIES):
        mask = build()
        if area[0] <= mask.mean() <= area[1]:
            return mask
    raise GanzooError(
        f"mask '{name}' produced no mask with hole area in {area} after {MAX_TRIES} tries; {fix}"
    )
