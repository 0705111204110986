"""DiffAugment (Zhao et al. 2020): the same random, differentiable augmentation of every image D sees.

Real and generated images go through the same ops (colour, translation,
cutout by default; ``--augment-opt policy=color,translation``), each image
with its own random parameters; G's gradient flows back through them, so D can
be trained on augmented data without G learning to produce augmented images.
The data-efficient choice for small datasets (a few thousand images or fewer).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from ganzoo.api import Augment
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.augments.ops import OPS, parse_policy


class DiffAugment(Augment):
    """Every op of ``policy`` applied to every image D sees (1-channel images: saturation is the identity)."""

    description: ClassVar[str] = "DiffAugment: colour, translation (1/8), cutout (1/2) on real and fake alike"
    policy: str = "color,translation,cutout"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.ops = parse_policy(self.policy, "diffaugment")

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        for name in self.ops:
            x = OPS[name](x, generator)
        return x


@hookimpl
def register_augments(register: Register) -> None:
    register("diffaugment", DiffAugment)
