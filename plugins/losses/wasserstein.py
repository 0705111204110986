"""The Wasserstein critic objective shared by the ``wgan`` and ``wgan-gp`` losses.

A helper module of the built-in plugins: it registers nothing. ``wgan`` adds
weight clipping to it, ``wgan-gp`` a gradient penalty.
"""

from __future__ import annotations

from torch import Tensor

from ganzoo.api import Loss


class WassersteinLoss(Loss):
    """Critic: E[D(G(z))] - E[D(x)]; G: -E[D(G(z))]. Outputs are scores, not probabilities."""

    n_critic: int = 5

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def score(self, logits: Tensor) -> Tensor:
        """The raw critic mean: its difference between real and fake estimates the distance."""
        return logits.detach().float().mean()
