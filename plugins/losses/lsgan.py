"""Least-squares GAN (Mao et al. 2017), the CycleGAN default; works on patch outputs too."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from ganzoo.api import Loss
from ganzoo.hookspecs import Register, hookimpl


class LSGANLoss(Loss):
    """D: 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2; G: 0.5 (D(G(z)) - 1)^2, on raw outputs."""

    description: ClassVar[str] = "Least-squares GAN loss on raw outputs (targets 1 and 0); CycleGAN's default"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * (real - 1).square().mean() + 0.5 * fake.square().mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * (fake - 1).square().mean()

    def score(self, logits: Tensor) -> Tensor:
        """The raw mean: outputs regress onto 1 (real) and 0 (fake), a sigmoid would misread them."""
        return logits.detach().float().mean()


@hookimpl
def register_losses(register: Register) -> None:
    register("lsgan", LSGANLoss)
