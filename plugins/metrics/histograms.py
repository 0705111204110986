"""Class histograms, their KL divergence and the classifier's confidence, shared by ``modes`` and ``stacked-mnist``.

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


def confidence(logits: Tensor) -> float:
    """The classifier's mean top-class probability: near its score on real images when samples can be named, low
    for noise (which a mode count alone can mistake for many modes)."""
    return logits.softmax(dim=1).amax(dim=1).mean().item()
