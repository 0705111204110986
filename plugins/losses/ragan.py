"""Relativistic average GAN loss, BCE form (RaSGAN; Jolicoeur-Martineau 2019).

D judges whether a real image is more realistic than the average fake, and a
fake less realistic than the average real: with ``r̃ = r - E[f]`` and
``f̃ = f - E[r]`` (expectations over the batch, per logit position for patch
discriminators), D minimises ``softplus(-r̃) + softplus(f̃)`` and G the mirror
image ``softplus(r̃) + softplus(-f̃)``. G's loss needs D's logits on the real
batch, so the engine gives them (``relativistic = True``).
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from ganzoo.api import Loss
from ganzoo.hookspecs import Register, hookimpl


class RelativisticAverageLoss(Loss):
    """D: softplus(-(r - E f)) + softplus(f - E r); G: softplus(r - E f) + softplus(-(f - E r))."""

    description: ClassVar[str] = "Relativistic average GAN (RaSGAN, BCE form): real vs the average fake and back"
    relativistic: ClassVar[bool] = True

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-(real - fake.mean(0))).mean() + F.softplus(fake - real.mean(0)).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return F.softplus(real - fake.mean(0)).mean() + F.softplus(-(fake - real.mean(0))).mean()


@hookimpl
def register_losses(register: Register) -> None:
    register("ragan", RelativisticAverageLoss)
