"""Seed 002's Keras MNIST DCGAN, 28 px only.

G: Dense(128*7*7)+ReLU -> 7x7 -> UpSampling x2 -> conv3x3(128)+ReLU -> BN ->
UpSampling x2 -> conv3x3(64)+ReLU -> BN -> conv3x3(C) -> Tanh.
D: conv3x3/2(32) LReLU Dropout -> conv3x3/2(64) ZeroPad(bottom, right) BN LReLU
Dropout -> conv3x3/2(128) BN LReLU Dropout -> conv3x3/1(256) BN LReLU Dropout ->
Flatten -> Dense -> one logit ``(B,)``.

Channel widths are the seed's at ``width=64`` (128 = 2*width, 32 = width/2 ...).
Deviations from the seed, on purpose:

- The seed ends G with ReLU; images live in [-1, 1], so Tanh is the evident intent.
- D returns the logit, not a sigmoid: the loss works on logits.
- Keras ``BatchNormalization(momentum=0.8)`` keeps 0.8 of the old running
  statistic, i.e. torch ``momentum=0.2``; Keras' default ``eps=1e-3`` is kept.
- Weights use Keras' default Glorot-uniform init. Keras "same" padding with
  stride 2 pads only bottom/right; here it is symmetric (same output sizes).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganzoo.api import Architecture, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.common import init_glorot


def _bn(channels: int) -> nn.BatchNorm2d:
    """Keras BatchNormalization(momentum=0.8) with its default eps."""
    return nn.BatchNorm2d(channels, momentum=0.2, eps=1e-3)


class Generator(nn.Module):
    """``G(z)`` -> ``(B, C, 28, 28)`` in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        wide = 2 * cfg.width
        self.main = nn.Sequential(
            nn.Linear(cfg.nz, wide * 7 * 7),
            nn.ReLU(True),
            nn.Unflatten(1, (wide, 7, 7)),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(wide, wide, 3, padding=1),
            nn.ReLU(True),
            _bn(wide),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(wide, cfg.width, 3, padding=1),
            nn.ReLU(True),
            _bn(cfg.width),
            nn.Conv2d(cfg.width, cfg.channels, 3, padding=1),
            nn.Tanh(),
        )
        init_glorot(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """``D(x)`` -> logits ``(B,)`` for 28x28 images."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        w = cfg.width
        c1 = max(1, w // 2)
        self.main = nn.Sequential(
            nn.Conv2d(cfg.channels, c1, 3, 2, 1),  # 28 -> 14
            nn.LeakyReLU(0.2, True),
            nn.Dropout(0.25),
            nn.Conv2d(c1, w, 3, 2, 1),  # 14 -> 7
            nn.ZeroPad2d((0, 1, 0, 1)),  # 7 -> 8
            _bn(w),
            nn.LeakyReLU(0.2, True),
            nn.Dropout(0.25),
            nn.Conv2d(w, 2 * w, 3, 2, 1),  # 8 -> 4
            _bn(2 * w),
            nn.LeakyReLU(0.2, True),
            nn.Dropout(0.25),
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1),
            _bn(4 * w),
            nn.LeakyReLU(0.2, True),
            nn.Dropout(0.25),
            nn.Flatten(),
            nn.Linear(4 * w * 4 * 4, 1),
        )
        init_glorot(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x).flatten()


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "dcgan-keras",
        Architecture(
            generator=Generator,
            discriminator=Discriminator,
            description="Keras MNIST DCGAN (seed 002): dense 7x7, upsample+conv G, dropout D, BN(0.8); 28 px",
            options={},
            image_sizes=(28,),
            channels=(1, 3),
        ),
    )
