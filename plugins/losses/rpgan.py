"""Relativistic pairing GAN loss (RpGAN; Jolicoeur-Martineau 2019, the loss of R3GAN, Huang et al. 2024).

Each real image is paired with the fake at the same batch position: D
minimises ``softplus(f - r)`` (the real should out-score its paired fake) and G
``softplus(r - f)``. Real and fake batches must have the same shape. G's loss
needs D's logits on the real batch, so the engine gives them (``relativistic = True``).
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from ganzoo.api import GanzooError, Loss
from ganzoo.hookspecs import Register, hookimpl


def _paired(real: Tensor, fake: Tensor) -> None:
    if real.shape != fake.shape:
        raise GanzooError(f"loss 'rpgan' pairs each real image with one fake, but got {tuple(real.shape)} real "
                          f"and {tuple(fake.shape)} fake logits; use equal batches or another --loss")


class RelativisticPairingLoss(Loss):
    """D: softplus(f - r); G: softplus(r - f), over paired (real, fake) logits."""

    description: ClassVar[str] = "Relativistic pairing GAN (RpGAN, R3GAN's loss): each real vs its paired fake"
    relativistic: ClassVar[bool] = True

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        _paired(real, fake)
        return F.softplus(fake - real).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        _paired(real, fake)
        return F.softplus(real - fake).mean()


@hookimpl
def register_losses(register: Register) -> None:
    register("rpgan", RelativisticPairingLoss)
