"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with a gradient penalty.

The penalty needs double backward (``create_graph=True``), which
``torch.compile`` does not support, so the engine hands ``penalty`` the eager
critic that shares the compiled one's parameters.
"""

from __future__ import annotations

import contextlib
from typing import Callable, ClassVar

import torch
from torch import Tensor

from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.losses.wasserstein import WassersteinLoss


class WGANGPLoss(WassersteinLoss):
    """Wasserstein critic plus gp_weight * E[(||grad D(x_hat)||_2 - 1)^2] on real/fake interpolates."""

    description: ClassVar[str] = "Wasserstein GAN with gradient penalty (gp_weight=10, n_critic=5, Adam 1e-4 (0, 0.9))"
    gp_weight: float = 10.0
    config_defaults: ClassVar[dict[str, float]] = {"lr": 1e-4, "beta1": 0.0, "beta2": 0.9}  # Gulrajani et al.

    def penalty(self, D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
        x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
        device = x_hat.device.type
        # Under fp16 autocast the unscaled input gradient can underflow (GradScaler only scales the
        # final loss), so the penalty pass runs in fp32; bf16 has fp32's range and stays autocast.
        fp16 = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.float16
        with torch.autocast(device, enabled=False) if fp16 else contextlib.nullcontext():
            (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        norm = grad.flatten(1).float().norm(2, dim=1)
        return self.gp_weight * (norm - 1).square().mean()


@hookimpl
def register_losses(register: Register) -> None:
    register("wgan-gp", WGANGPLoss)
