"""LeCam regularisation (Tseng et al. 2021): keep D's outputs near running means of the other side's.

With ``a_R`` and ``a_F`` exponential moving averages (``decay`` 0.99) of D's
mean output on real and on generated images, the term is
``weight * (E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2])``, the hinged
form of the paper's code: D is penalised only where a real output exceeds
the fake average or a fake output falls below the real average. It reads the
logits the loss already computed (no extra pass) and suits any loss; it was
made for limited data. The averages are buffers, saved in the checkpoint.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo.api import Regularizer
from ganzoo.hookspecs import Register, hookimpl


class LeCam(Regularizer):
    """weight * (E relu(D(x) - ema_fake)^2 + E relu(ema_real - D(G(z)))^2)."""

    description: ClassVar[str] = "LeCam: D's outputs held near running means of the other side's (weight=0.3)"
    weight: float = 0.3
    decay: float = 0.99

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.register_buffer("ema_real", torch.zeros(()))
        self.register_buffer("ema_fake", torch.zeros(()))

    def forward(self, D, real, fake, real_logits, fake_logits) -> Tensor:
        with torch.no_grad():
            self.ema_real.lerp_(real_logits.float().mean(), 1 - self.decay)
            self.ema_fake.lerp_(fake_logits.float().mean(), 1 - self.decay)
        term = F.relu(real_logits.float() - self.ema_fake).square().mean()
        term = term + F.relu(self.ema_real - fake_logits.float()).square().mean()
        return self.weight * term


@hookimpl
def register_regularizers(register: Register) -> None:
    register("lecam", LeCam)
