"""Balanced consistency regularisation, bCR (Zhao et al. 2020, "Improved Consistency Regularization for GANs").

D should give an image and its augmented copy the same output, for real and
for generated images alike: ``weight_real * E[(D(T(x)) - D(x))^2] +
weight_fake * E[(D(T(G(z))) - D(G(z)))^2]`` with T a random translation (1/8
of the side) and left-right flip, as in the paper. ``D(x)`` are the logits the
loss computed; ``D(T(x))`` runs through the eager D. T draws from a generator
seeded from torch's global CPU generator, whose state the checkpoint keeps.
Works with any loss.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from ganzoo.api import Regularizer
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.augments.ops import flip, translation


class BalancedConsistency(Regularizer):
    """weight_real E(D(T(x)) - D(x))^2 + weight_fake E(D(T(G(z))) - D(G(z)))^2, T = translation + flip."""

    description: ClassVar[str] = "bCR: D(T(x)) ~ D(x) on real and fake, T = translation + flip (weights 10)"
    compares_logits: ClassVar[bool] = True
    weight_real: float = 10.0
    weight_fake: float = 10.0

    def forward(self, D, real, fake, real_logits, fake_logits) -> Tensor:
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))  # from torch's saved state
        term = self.weight_real * (D(flip(translation(real, generator), generator)) - real_logits).float().square()
        term = term.mean() + self.weight_fake * (
            D(flip(translation(fake, generator), generator)) - fake_logits).float().square().mean()
        return term


@hookimpl
def register_regularizers(register: Register) -> None:
    register("bcr", BalancedConsistency)
