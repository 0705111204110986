"""SNGAN ResNet (Miyato et al. 2018, CIFAR-10 setting): spectral norm in D; 32 or 64 px.

G: Linear -> 4x4x(4*width) -> up ResBlocks (BN, ReLU, nearest x2, conv3x3) ->
BN, ReLU, conv3x3 -> tanh. D: optimised first block, down ResBlocks, two
ResBlocks at full width without downsampling, ReLU, global sum pooling,
Linear -> one logit ``(B,)``; every D layer is spectrally normalised. At
``width=64`` the channel counts are the paper's (256 in G, 128 in D); 64 px adds
one up block to G and one down block to D. Pairs with the hinge loss.
Weights: Glorot-uniform, gain sqrt(2) on residual convs, as in the reference code.
Each D block's first conv -> bias -> ReLU is a :class:`ganzoo.kernels.BiasAct`,
so ``--kernels triton`` runs it as one fused op (the bias stays on the conv).

The arithmetic is the paper's, computed in a cheaper order (the same function, the same parameters and
checkpoints, up to float rounding): a G block's nearest x2 upsampling and the 3x3 conv after it run as
one stride-2 transposed conv (:func:`_upsample_conv`, 16/36 of the multiply-adds), and the 1x1 shortcut
convs run on the low-resolution side of their up- or downsampling, with which they commute.
benchmarks/results/resnet_sn_profile.md measured why: convolutions are 85% of a CPU step, and
``F.interpolate``'s nearest x2 was a slow copy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo.api import Architecture, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.kernels import BiasAct


def _layer(layer: nn.Conv2d | nn.Linear, gain: float, sn: bool) -> nn.Module:
    """Initialise before spectral norm wraps the weight."""
    nn.init.xavier_uniform_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return spectral_norm(layer) if sn else layer


def _conv(cin: int, cout: int, k: int, gain: float = math.sqrt(2), sn: bool = False) -> nn.Module:
    return _layer(nn.Conv2d(cin, cout, k, padding=k // 2), gain, sn)


# Nearest x2 upsampling then a 3-tap kernel axis (padding 1), as one 4-tap stride-2 transposed kernel axis:
# even outputs 2i read inputs i-1 (tap w0) and i (w1 + w2), odd outputs 2i+1 read i (w0 + w1) and i+1 (w2).
_UP_TAPS = ((0, 0, 1), (0, 1, 1), (1, 1, 0), (1, 0, 0))


def _upsample_conv(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(nearest_x2(x))`` for a 3x3 conv with padding 1, as one transposed conv of ``x``.

    Each 2x2 block of outputs takes 16 taps of the input instead of 4 x 9 of the upsampled copy, which is
    never made; the weights stay the 3x3 conv's (the 4x4 kernel is a sum of its taps, so gradients reach them).
    """
    taps = conv.weight.new_tensor(_UP_TAPS)
    kernel = torch.einsum("ay,bx,oiyx->ioab", taps, taps, conv.weight)
    return F.conv_transpose2d(x, kernel, conv.bias, stride=2, padding=1)


class GBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1, self.conv2 = _conv(cin, cout, 3), _conv(cout, cout, 3)
        self.shortcut = _conv(cin, cout, 1, gain=1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.bn2(_upsample_conv(self.conv1, F.relu(self.bn1(x))))))
        s = self.shortcut(x)  # 1x1 conv, then nearest x2 by broadcasting in the sum: no upsampled copy
        height, width = s.shape[2:]
        h = h.unflatten(3, (width, 2)).unflatten(2, (height, 2))
        return (h + s[:, :, :, None, :, None]).flatten(4, 5).flatten(2, 3)


class DBlock(nn.Module):
    """Pre-activation residual block, optionally halving the resolution."""

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1, self.conv2 = _conv(cin, cout, 3, sn=True), _conv(cout, cout, 3, sn=True)
        self.act1 = BiasAct(alpha=0.0)
        self.shortcut = _conv(cin, cout, 1, gain=1.0, sn=True) if down or cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(self.act1.after(self.conv1, F.relu(x)))
        if self.down:  # the 1x1 shortcut commutes with average pooling: run it on the pooled input
            h, x = F.avg_pool2d(h, 2), F.avg_pool2d(x, 2)
        return h + (x if self.shortcut is None else self.shortcut(x))


class OptimizedBlock(nn.Module):
    """First D block: no activation before the first conv (the input is an image)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(cin, cout, 3, sn=True), _conv(cout, cout, 3, sn=True)
        self.act1 = BiasAct(alpha=0.0)
        self.shortcut = _conv(cin, cout, 1, gain=1.0, sn=True)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(self.act1.after(self.conv1, x)), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class Generator(nn.Module):
    """``G(z)`` -> ``(B, C, H, W)`` in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.ch = 4 * cfg.width
        self.linear = _layer(nn.Linear(cfg.nz, self.ch * 4 * 4), 1.0, sn=False)
        ups = int(math.log2(cfg.image_size)) - 2
        self.blocks = nn.Sequential(*(GBlock(self.ch, self.ch) for _ in range(ups)))
        self.out = nn.Sequential(
            nn.BatchNorm2d(self.ch), nn.ReLU(), _conv(self.ch, cfg.channels, 3, gain=1.0), nn.Tanh()
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.blocks(self.linear(z).view(-1, self.ch, 4, 4)))


class Discriminator(nn.Module):
    """``D(x)`` -> logits ``(B,)``."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        ch = 2 * cfg.width
        downs = int(math.log2(cfg.image_size)) - 4  # optimised block + downs reach 8x8
        self.blocks = nn.Sequential(
            OptimizedBlock(cfg.channels, ch),
            *(DBlock(ch, ch, down=True) for _ in range(downs)),
            DBlock(ch, ch, down=False),
            DBlock(ch, ch, down=False),
        )
        self.linear = _layer(nn.Linear(ch, 1), 1.0, sn=True)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.linear(h).flatten()


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "resnet-sn",
        Architecture(
            generator=Generator,
            discriminator=Discriminator,
            description="SNGAN ResNet (Miyato 2018): residual G, spectral-norm residual D; pair with hinge; 32/64 px",
            options={},
            image_sizes=(32, 64),
            channels=(1, 3),
        ),
    )
