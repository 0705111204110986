"""R1 and R2 (Mescheder et al. 2018): zero-centred gradient penalties on real (R1) or generated (R2) images.

``gamma / 2 * E[||grad_x D(x)||^2]``, through the eager D (so it works under
``--compile``) with the same condition and augmentation as the loss's pass.
``interval`` makes it lazy (StyleGAN2: every 16 D steps, the engine scaling
the term by 16 so its average weight stays). Works with any loss; R1 is the
usual companion of the non-saturating loss and of relativistic ones (R3GAN
uses R1 + R2 with RpGAN). Under fp16 autocast the penalty pass runs in fp32
(the input gradient would underflow); bf16 stays autocast.
"""

from __future__ import annotations

import contextlib
from typing import Callable, ClassVar

import torch
from torch import Tensor

from ganzoo.api import Regularizer
from ganzoo.hookspecs import Register, hookimpl


def gradient_penalty(D: Callable[[Tensor], Tensor], images: Tensor, gamma: float) -> Tensor:
    """gamma / 2 * mean over images of the squared norm of D's gradient at ``images`` (double-backward ready)."""
    x = images.detach().requires_grad_(True)
    device = x.device.type
    fp16 = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.float16
    with torch.autocast(device, enabled=False) if fp16 else contextlib.nullcontext():
        (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
    return gamma / 2 * grad.float().flatten(1).square().sum(1).mean()


class R1(Regularizer):
    """gamma/2 E||grad D(real)||^2."""

    description: ClassVar[str] = "R1: zero-centred gradient penalty on real images (gamma=10; interval for lazy)"
    gamma: float = 10.0

    def forward(self, D, real, fake, real_logits, fake_logits) -> Tensor:
        return gradient_penalty(D, real, self.gamma)


class R2(Regularizer):
    """gamma/2 E||grad D(fake)||^2."""

    description: ClassVar[str] = "R2: zero-centred gradient penalty on generated images (gamma=10)"
    gamma: float = 10.0

    def forward(self, D, real, fake, real_logits, fake_logits) -> Tensor:
        return gradient_penalty(D, fake, self.gamma)


@hookimpl
def register_regularizers(register: Register) -> None:
    register("r1", R1)
    register("r2", R2)
