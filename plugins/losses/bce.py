"""The original GAN loss (Goodfellow et al. 2014), computed on logits.

Uses softplus, i.e. ``binary_cross_entropy_with_logits``, never Sigmoid +
BCELoss: the latter saturates to log(0) once D is confident. The generator uses
the non-saturating loss ``-log D(G(z))`` by default; ``minimax=True`` gives the
paper's saturating ``log(1 - D(G(z)))``, whose gradient vanishes while D wins.
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from ganzoo.api import Loss
from ganzoo.hookspecs import Register, hookimpl


class BCELoss(Loss):
    """D: -log D(x) - log(1 - D(G(z))); G: -log D(G(z)), or log(1 - D(G(z))) when minimax."""

    description: ClassVar[str] = "Non-saturating GAN loss on logits (minimax=True: the saturating original)"
    minimax: bool = False

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        if self.minimax:
            return -F.softplus(fake).mean()
        return F.softplus(-fake).mean()


@hookimpl
def register_losses(register: Register) -> None:
    register("bce", BCELoss)
