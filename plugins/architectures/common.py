"""Helpers shared by the built-in architectures: weight inits and the label check.

A helper module of the built-in plugins: it registers nothing.
"""

from __future__ import annotations

from torch import Tensor, nn


def init_dcgan(module: nn.Module) -> None:
    """DCGAN init: conv weights N(0, 0.02), BN weight N(1, 0.02) and bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def init_glorot(module: nn.Module) -> None:
    """Keras/TF layer defaults (Glorot-uniform weights, zero biases), which seeds 000 and 002 relied on."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_labels(y: Tensor | None, num_classes: int) -> None:
    """Fail loudly when labels and the network's conditioning disagree, instead of ignoring one."""
    if num_classes and y is None:
        raise ValueError(f"this network is class-conditional ({num_classes} classes) and needs labels y")
    if not num_classes and y is not None:
        raise ValueError("this network is unconditional (num_classes=0) but was given labels y")
