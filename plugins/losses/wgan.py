"""Wasserstein GAN (Arjovsky et al. 2017) with weight clipping.

:class:`WassersteinLoss` is the critic objective shared with ``wgan-gp``, which
replaces clipping with a gradient penalty.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.losses.wasserstein import WassersteinLoss


class WGANLoss(WassersteinLoss):
    """WGAN: clamp every critic parameter to [-clip, clip] after each critic step (Lipschitz by force)."""

    description: ClassVar[str] = "Wasserstein GAN with weight clipping (clip=0.01, n_critic=5)"
    clip: float = 0.01

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


@hookimpl
def register_losses(register: Register) -> None:
    register("wgan", WGANLoss)
