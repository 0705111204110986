"""DCGAN (Radford et al. 2016) as in seed 001 and pytorch/examples ``dcgan``.

G: transposed-conv stack from ``z`` seen as a ``(nz, 1, 1)`` map, BN + ReLU, no
conv bias, Tanh. 32 px follows seed 001 (4x4 -> 8 -> 16 -> 32 with widths 4ngf,
2ngf, ngf); 64 px follows pytorch/examples (8ngf .. ngf). D mirrors it with
LeakyReLU(0.2), BN on every layer but the first, and a final 4x4 conv to one
logit; it reads ``NetConfig.in_channels`` when set (``--pack m``, PacDCGAN).
``--arch-opt d_norm=spectral`` swaps D's BN for spectral norm on every conv
(SNGAN's "standard CNN" way: real and fake batches no longer get separate
batch statistics); ``d_norm=none`` drops normalisation.
``d_stem=first`` adds a 3x3 stride-1 conv at full resolution before D's first
downsampling, ``d_stem=all`` one before every downsampling (SNGAN's standard
CNN pattern): DCGAN's D, which downsamples at once, barely learns to tell a
polygon from a round shape (benchmarks/shapes_yardsticks.py).
``d_down=max`` downsamples D by a 3x3 stride-1 conv and a 2x2 max-pool instead
of each 4x4 stride-2 conv (the shapes classifier's pattern): trained on
"polygon or round?" (benchmarks/shapes_yardsticks.py), that D is right on 95%
of held-out shapes by step 500, the strided one on 59%. A max keeps a corner's
response wherever it falls; a strided conv or an average dilutes it.
``g_up=nearest`` upsamples G by nearest neighbour + 3x3 conv instead of
transposed convs (Odena et al. 2016, against checkerboard artefacts). D returns
logits of shape ``(B,)``: no Sigmoid, the loss works on logits so it stays
numerically stable (seed 001's Sigmoid + BCELoss does not).

Class-conditional (``num_classes > 0``): G concatenates a learned class
embedding (dimension ``min(num_classes, 50)``) to ``z``; D adds a projection
term (Miyato & Koyama 2018), ``<embed(y), sum-pooled last features>``, to the
unconditional logit. Projection keeps D's input an image, so the same D body
serves both cases.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo.api import Architecture, GanzooError, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.common import check_labels, init_dcgan

EMBED_MAX = 50
D_NORMS = ("batch", "spectral", "none")
G_UPS = ("transposed", "nearest")
D_STEMS = ("none", "first", "all")
D_DOWNS = ("conv", "max")


def _choice(cfg: NetConfig, key: str, choices: tuple[str, ...]) -> str:
    """An ``--arch-opt`` value that must be one of ``choices``, or a one-line error naming them."""
    value = str(cfg.options.get(key, choices[0]))
    if value not in choices:
        raise GanzooError(f"--arch-opt {key}={value}: dcgan knows {', '.join(choices)}")
    return value


def _levels(image_size: int) -> int:
    """Number of stride-2 layers between 4x4 and ``image_size``."""
    return int(math.log2(image_size)) - 2


class Generator(nn.Module):
    """``G(z, y=None)`` -> images ``(B, C, H, W)`` in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        embed_dim = min(cfg.num_classes, EMBED_MAX)
        self.embed = nn.Embedding(cfg.num_classes, embed_dim) if cfg.num_classes else None
        n, ngf = _levels(cfg.image_size), cfg.width
        width = ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.nz + embed_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        nearest = _choice(cfg, "g_up", G_UPS) == "nearest"

        def up(c_in: int, c_out: int) -> list[nn.Module]:
            if nearest:
                return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]
            return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]

        for _ in range(n - 1):
            layers += [*up(width, width // 2), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [*up(width, cfg.channels), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_dcgan(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.main(z[:, :, None, None])


class Discriminator(nn.Module):
    """``D(x, y=None)`` -> logits ``(B,)``."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        norm, stems = _choice(cfg, "d_norm", D_NORMS), _choice(cfg, "d_stem", D_STEMS)
        pool = _choice(cfg, "d_down", D_DOWNS) == "max"
        n, ndf = _levels(cfg.image_size), cfg.width
        d_in = cfg.in_channels or cfg.channels  # more than the image's under --pack m

        def down(c_in: int, c_out: int) -> list[nn.Module]:
            if pool:
                return [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.MaxPool2d(2)]
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]

        stem = [nn.Conv2d(d_in, ndf, 3, 1, 1, bias=False), nn.LeakyReLU(0.2, True)] if stems != "none" else []
        layers: list[nn.Module] = [*stem, *down(ndf if stem else d_in, ndf), nn.LeakyReLU(0.2, True)]
        width = ndf
        every = stems == "all"

        def block(c_out: int, conv: list[nn.Module]) -> list[nn.Module]:
            bn = [nn.BatchNorm2d(c_out)] if norm == "batch" else []
            return [*conv, *bn, nn.LeakyReLU(0.2, True)]

        for _ in range(n - 1):
            if every:
                layers += block(width * 2, [nn.Conv2d(width, width * 2, 3, 1, 1, bias=False)])
            c_in = width * 2 if every else width
            layers += block(width * 2, down(c_in, width * 2))
            width *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1, 4, 1, 0, bias=False)
        init_dcgan(self)
        if norm == "spectral":
            for module in [*self.features, self.head]:
                if isinstance(module, nn.Conv2d):
                    spectral_norm(module)
        self.project = nn.Embedding(cfg.num_classes, width) if cfg.num_classes else None
        if self.project is not None:
            nn.init.normal_(self.project.weight, 0.0, 0.02)  # same scale as the head, so neither term dominates

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes)
        h = self.features(x)
        logit = self.head(h).flatten()
        if self.project is not None:
            logit = logit + (self.project(y) * h.sum(dim=(2, 3))).sum(dim=1)
        return logit


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "dcgan",
        Architecture(
            generator=Generator,
            discriminator=Discriminator,
            description="DCGAN (seed 001 / pytorch examples): ConvT G, LeakyReLU D, BN, N(0,0.02) init; 32 or 64 px",
            generator_input=("noise", "label"),
            discriminator_input=("image", "label", "channels"),
            options={"d_norm": "batch", "d_stem": "none", "d_down": "conv", "g_up": "transposed"},
            image_sizes=(32, 64),
            channels=(1, 3),
        ),
    )
