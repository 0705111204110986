"""Seed 000's TensorFlow DCGAN, completed to what it evidently meant; 32 or 64 px.

G: Dense(4*4*512, no bias) -> 4x4x512 -> BN -> conv3x3(256) -> BN -> conv3x3(128)
-> BN -> conv3x3(64) -> BN -> conv3x3(C) -> tanh.
D: five stride-2 conv3x3 (32, 64, 128, 256, 512) each with BN -> Flatten ->
Dense(1, no bias) -> one logit ``(B,)``.

Channel widths are the seed's at ``width=64`` (512 = 8*width, 32 = width/2 ...).
The seed as written cannot work, so this module departs from it on purpose:

- Its generator never upsamples and would emit 4x4 images. Nearest x2
  upsampling is inserted before the convs (before the first three at 32 px,
  before all four at 64 px) so G reaches the target size.
- It has no activations between layers (every layer is ``activation=None``),
  which collapses each network to a nearly linear map. ReLU follows each BN in
  G and LeakyReLU(0.2) each BN in D, as in DCGAN.
- D returns the logit, not ``tf.sigmoid``: the loss works on logits.
- Convs followed by BN have no bias (BN cancels it). Init and BN follow the TF
  layer defaults: Glorot-uniform weights, BN momentum 0.99 (torch 0.01), eps 1e-3.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganzoo.api import Architecture, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.common import init_glorot


def _bn(channels: int) -> nn.BatchNorm2d:
    """``tf.layers.batch_normalization`` defaults."""
    return nn.BatchNorm2d(channels, momentum=0.01, eps=1e-3)


class Generator(nn.Module):
    """``G(z)`` -> ``(B, C, H, W)`` in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        w = cfg.width
        ups = int(math.log2(cfg.image_size)) - 2  # 4x4 -> image_size
        layers: list[nn.Module] = [
            nn.Linear(cfg.nz, 8 * w * 4 * 4, bias=False),
            nn.Unflatten(1, (8 * w, 4, 4)),
            _bn(8 * w),
            nn.ReLU(True),
        ]
        widths = [8 * w, 4 * w, 2 * w, w]
        for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
            if i < ups:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), _bn(cout), nn.ReLU(True)]
        if ups > 3:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers += [nn.Conv2d(w, cfg.channels, 3, padding=1), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_glorot(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """``D(x)`` -> logits ``(B,)``."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        w = cfg.width
        widths = [cfg.channels, max(1, w // 2), w, 2 * w, 4 * w, 8 * w]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), _bn(cout), nn.LeakyReLU(0.2, True)]
        side = cfg.image_size // 32
        layers += [nn.Flatten(), nn.Linear(8 * w * side * side, 1, bias=False)]
        self.main = nn.Sequential(*layers)
        init_glorot(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x).flatten()


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "dcgan-tf",
        Architecture(
            generator=Generator,
            discriminator=Discriminator,
            description="TF DCGAN (seed 000) with the upsampling and activations it omits; 32 or 64 px",
            options={},
            image_sizes=(32, 64),
            channels=(1, 3),
        ),
    )
