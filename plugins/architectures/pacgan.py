"""The Stacked MNIST networks of PacGAN's Table 3 (Lin et al. 2018; the Unrolled GAN setting, D 1/4 the size of G).

G: linear z (256) -> 4x4x64, BN, ReLU; transposed 3x3 convolutions with stride 2
to 7x7x32, 14x14x16 and 28x28x8, each with BN and ReLU; a 3x3 convolution to
the image channels; tanh. D: 3x3 convolutions with stride 2 and 2, 4 and 8
channels, each with BN and leaky ReLU (slope 0.3); a linear layer to one logit.
D reads ``NetConfig.in_channels`` when it is set, which is how ``--pack m``
gives PacDCGAN-m its m stacked samples. The paper's training: batch 128, BCE,
Adam with D lr 2e-4 and G lr 1e-4, betas (0.5, 0.99), nz 256:
``--batch-size 128 --loss bce --lr 1e-4 --lr-d 2e-4 --beta1 0.5 --beta2 0.99 --nz 256 --no-ema``. Their
D judges 128 samples per step packed or not, so PacDCGAN-m takes ``--pack m --batch-size 128m``.
Widths are the paper's: ``--width`` is ignored. Weights: DCGAN init.
"""

from __future__ import annotations

from torch import Tensor, nn

from ganzoo.api import Architecture, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.common import init_dcgan

G_WIDTHS = (64, 32, 16, 8)
D_WIDTHS = (2, 4, 8)


class Generator(nn.Module):
    """``G(z)``: (B, nz) -> (B, channels, 28, 28) in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(cfg.nz, G_WIDTHS[0] * 16), nn.Unflatten(1, (G_WIDTHS[0], 4, 4)),
                                     nn.BatchNorm2d(G_WIDTHS[0]), nn.ReLU(True))
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(G_WIDTHS[:-1], G_WIDTHS[1:])):
            extra = 0 if index == 0 else 1  # 4 -> 7, then 7 -> 14 -> 28
            layers += [nn.ConvTranspose2d(width_in, width_out, 3, 2, 1, output_padding=extra),
                       nn.BatchNorm2d(width_out), nn.ReLU(True)]
        self.body = nn.Sequential(*layers, nn.Conv2d(G_WIDTHS[-1], cfg.channels, 3, 1, 1), nn.Tanh())
        init_dcgan(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.project(z))


class Discriminator(nn.Module):
    """``D(x)``: (B, in_channels or channels, 28, 28) -> logits (B,)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = cfg.in_channels or cfg.channels
        for width in D_WIDTHS:
            layers += [nn.Conv2d(width_in, width, 3, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.3, True)]
            width_in = width
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(D_WIDTHS[-1] * 4 * 4, 1))
        init_dcgan(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).flatten()


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "pacgan-table3",
        Architecture(
            generator=Generator,
            discriminator=Discriminator,
            description="PacGAN Table 3 / Unrolled GAN Stacked MNIST nets, D 1/4 of G (28 px); --pack m for PacDCGAN-m",
            discriminator_input=("image", "channels"),
            image_sizes=(28,),
            options={},
        ),
    )
