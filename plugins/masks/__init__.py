"""Inpainting mask generators (``ganzoo list masks``); draw them with :func:`ganzoo.draw_masks`."""

from typing import Any

import ganzoo
from ganzoo.data import draw_masks, hole_fraction  # noqa: F401  (TASKS_PENDING, see get_mask)


def get_mask(name: str) -> Any:
    """TASKS_PENDING: plugins/tasks/inpainting.py imports this, draw_masks and hole_fraction from here until it
    moves to ``ganzoo.get("masks", name)``, ``ganzoo.draw_masks`` and ``ganzoo.hole_fraction``; then this goes."""
    return ganzoo.get("masks", name)
