"""Class histograms and their KL divergence, shared by the ``modes`` and ``stacked-mnist`` metrics.

A helper module of the built-in plugins: it registers nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor

FLOOR = 1e-6  # empty reference classes are floored here so the KL divergence stays finite


def histogram(labels: Tensor, num_classes: int) -> Tensor:
    """How many of ``labels`` fall in each of ``num_classes`` classes, as float64 counts."""
    return torch.bincount(labels, minlength=num_classes).double()


def kl_divergence(p_counts: Tensor, q: Tensor) -> float:
    """KL(p || q) in nats, p given as counts, q as probabilities (floored)."""
    p = p_counts / p_counts.sum()
    q = (q / q.sum()).clamp_min(FLOOR)
    nz = p > 0
    return float((p[nz] * (p[nz] / q[nz]).log()).sum())
