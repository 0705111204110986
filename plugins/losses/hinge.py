"""Hinge loss (Lim & Ye 2017; SNGAN, BigGAN, DeepFill v2)."""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from ganzoo.api import Loss
from ganzoo.hookspecs import Register, hookimpl


class HingeLoss(Loss):
    """D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z)). D stops pushing once past the margin."""

    description: ClassVar[str] = "Hinge loss: margin 1 for D, -D(G(z)) for G (pairs with spectral norm)"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


@hookimpl
def register_losses(register: Register) -> None:
    register("hinge", HingeLoss)
