"""Fused kernels and the switch that picks their implementation.

Architectures use :class:`BiasAct` where a bias and an activation follow a
conv; the engine calls :func:`use_kernels` on the built networks with the
implementation resolved from ``--kernels`` by :func:`resolve_kernels`:

* ``ref``: plain PyTorch (runs everywhere; under ``torch.compile`` Inductor
  fuses it itself);
* ``triton``: the ``ganzoo::bias_act`` op of :mod:`ganzoo.kernels.bias_act_triton`;
  asking for it where Triton cannot run is an error, never a silent fallback;
* ``auto``: ``ref`` — measured on an H100 the Triton op was slower than the
  reference, alone and in a training step (benchmarks/results/speed_modes_gpu.md),
  so it stays an explicit opt-in.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import Tensor, nn

from ..api import GanzooError

KERNELS = ("auto", "ref", "triton")


def triton_problem(device: torch.device) -> str | None:
    """Why the Triton op cannot run on ``device`` (None when it can)."""
    if importlib.util.find_spec("triton") is None:
        return "Triton is not installed (pip install triton)"
    if device.type == "cuda":
        return None
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1":
        return None
    return f"Triton kernels run on CUDA devices, not '{device.type}' (TRITON_INTERPRET=1 runs them on the CPU, slowly)"


def resolve_kernels(requested: str, device: torch.device) -> str:
    """``auto`` -> ``ref``; ``triton`` where it cannot run is a GanzooError naming the reason."""
    if requested not in KERNELS:
        raise GanzooError(f"--kernels {requested}: choose one of {', '.join(KERNELS)}")
    if requested == "triton":
        problem = triton_problem(device)
        if problem:
            raise GanzooError(f"--kernels triton: {problem}; use --kernels ref or auto")
        return "triton"
    return "ref"


def bias_act(x: Tensor, b: Tensor | None, alpha: float, gain: float = 1.0, impl: str = "ref") -> Tensor:
    """``leaky_relu(x + b[channel], alpha) * gain`` with the named implementation (alpha=0 is ReLU)."""
    if impl == "triton":
        from .bias_act_triton import bias_act as fused

        return fused(x, b, float(alpha), float(gain))
    return bias_act_ref(x, b, alpha, gain)


def bias_act_ref(x: Tensor, b: Tensor | None, alpha: float, gain: float = 1.0) -> Tensor:
    """The pure-PyTorch reference: the same function, autograd does the rest (Inductor fuses it)."""
    if b is not None:
        x = x + b.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))
    y = torch.nn.functional.leaky_relu(x, alpha)
    return y * gain if gain != 1.0 else y


class BiasAct(nn.Module):
    """``act(x + bias) * gain`` after a conv whose bias it folds in; the engine sets ``impl``.

    It owns no parameters: the bias stays on the conv, so checkpoints do not
    depend on the implementation they were trained with.
    """

    def __init__(self, alpha: float = 0.2, gain: float = 1.0) -> None:
        super().__init__()
        self.alpha, self.gain, self.impl = alpha, gain, "ref"

    def forward(self, x: Tensor, bias: Tensor | None = None) -> Tensor:
        return bias_act(x, bias, self.alpha, self.gain, self.impl)

    def after(self, conv: nn.Conv2d, x: Tensor) -> Tensor:
        """``act(conv(x))`` with the conv's bias added by this op rather than by the conv."""
        return self(conv._conv_forward(x, conv.weight, None), conv.bias)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gain={self.gain}, impl={self.impl}"


def use_kernels(net: nn.Module, impl: str) -> int:
    """Point every :class:`BiasAct` in ``net`` at ``impl``; returns how many there are."""
    if impl == "triton":
        import ganzoo.kernels.bias_act_triton  # noqa: F401  (registers the ops; fails loudly without Triton)
    sites = [m for m in net.modules() if isinstance(m, BiasAct)]
    for module in sites:
        module.impl = impl
    return len(sites)
