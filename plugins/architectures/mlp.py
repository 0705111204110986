"""The fully connected GAN of Goodfellow et al. (2014); any image size and channel count.

G: Linear layers of 256, 512, 1024 units (scaled by ``width / 64``) with ReLU,
then Linear to C*H*W and Tanh. D: 1024, 512, 256 units with LeakyReLU(0.2) and
dropout 0.3, then one logit ``(B,)``. The paper's D used maxout units;
LeakyReLU is the common, simpler stand-in. Class-conditional (``num_classes >
0``, Mirza & Osindero 2014): both nets get the one-hot label concatenated to
their input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.api import Architecture, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.common import check_labels


def _hidden(cfg: NetConfig) -> list[int]:
    """Goodfellow's 256/512/1024 widths, scaled so ``width=64`` gives the paper's sizes."""
    return [max(1, n * cfg.width // 64) for n in (256, 512, 1024)]


def _with_labels(h: Tensor, y: Tensor | None, num_classes: int) -> Tensor:
    check_labels(y, num_classes)
    if not num_classes:
        return h
    return torch.cat([h, F.one_hot(y, num_classes).to(h.dtype)], dim=1)


class Generator(nn.Module):
    """``G(z, y=None)`` -> ``(B, C, H, W)`` in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.shape = (cfg.channels, cfg.image_size, cfg.image_size)
        layers: list[nn.Module] = []
        n_in = cfg.nz + cfg.num_classes
        for n in _hidden(cfg):
            layers += [nn.Linear(n_in, n), nn.ReLU(True)]
            n_in = n
        layers += [nn.Linear(n_in, cfg.channels * cfg.image_size**2), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.main(_with_labels(z, y, self.num_classes)).view(-1, *self.shape)


class Discriminator(nn.Module):
    """``D(x, y=None)`` -> logits ``(B,)``."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        layers: list[nn.Module] = []
        n_in = cfg.channels * cfg.image_size**2 + cfg.num_classes
        for n in reversed(_hidden(cfg)):
            layers += [nn.Linear(n_in, n), nn.LeakyReLU(0.2, True), nn.Dropout(0.3)]
            n_in = n
        layers.append(nn.Linear(n_in, 1))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.main(_with_labels(x.flatten(1), y, self.num_classes)).flatten()


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "mlp",
        Architecture(
            generator=Generator,
            discriminator=Discriminator,
            description="Fully connected GAN (Goodfellow et al. 2014); any size, one-hot conditioning",
            generator_input=("noise", "label"),
            discriminator_input=("image", "label"),
            options={},
            min_size=4,
        ),
    )
