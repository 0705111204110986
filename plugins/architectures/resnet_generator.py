"""CycleGAN's ResNet generator (Johnson et al. 2016, as used by Zhu et al. 2017) with a 70x70 PatchGAN.

G: reflect pad 3, 7x7 conv -> two stride-2 3x3 convs -> ``n_blocks`` residual
blocks (reflect pad 1, 3x3 conv, norm, ReLU, twice) -> two x2 upsamplings ->
reflect pad 3, 7x7 conv -> tanh. Weights start at
N(0, 0.02), biases at 0, batch-norm scales at N(1, 0.02), as in the reference.

``--arch-opt g_norm=instance|batch|none`` (the reference's ``--norm``).
Instance norm (default) has no affine parameters and no running statistics, so
train and eval modes agree; conv biases are kept as in the reference. Note what
it costs: the first conv + instance norm make G blind to the global brightness
and contrast of its input (G(x) == G(a*x + b) for any a > 0, b), so G must
guess exposure from content. Batch norm (convs without bias) keeps it.

``--arch-opt upsample=transpose|resize``: the reference upsamples with stride-2
3x3 transposed convs (default), whose uneven kernel overlap paints a
checkerboard (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts");
``resize`` upsamples nearest-neighbour and then applies a reflect-padded 3x3
conv, which cannot make one (see benchmarks/results/style_transfer.md).

``--arch-opt residual=true`` (not in the reference): G learns a correction to
its input, ``G(x) = tanh(atanh(x) + net(x))`` with the final tanh moved out of
the net (global residual learning, as in VDSR, Kim et al. 2016). It starts as
the identity map and keeps the input's structure unless the losses ask for a
change, where the reference G must rebuild every detail through its 4x
downsampled bottleneck. Input and output channels must match.

``resnet-9blocks`` is the reference choice for 256 px, ``resnet-6blocks`` for
128 px and below. D is the shared PatchGAN (``n_layers=3`` by default, set with
``--arch-opt n_layers=N``); instance norm unless ``--arch-opt d_norm=...``.
Image sides must be multiples of 4 (two stride-2 stages); ``ganzoo translate``
pads any other size and crops back.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from ganzoo.api import Architecture, GanzooError, IncompatibleError, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.common import init_dcgan
from ganzoo_plugins.architectures.patchgan import PatchDiscriminator, patch_discriminator


NORMS = {"instance": nn.InstanceNorm2d, "batch": nn.BatchNorm2d, "none": lambda channels: nn.Identity()}
UPSAMPLES = ("transpose", "resize")
EDGE = 1 - 1e-3  # atanh(+-1) is infinite: residual G reads saturated pixels as +-EDGE


def upsampling(cin: int, cout: int, mode: str, bias: bool) -> list[nn.Module]:
    """x2 upsampling: the reference's transposed conv, or nearest resize + conv (no checkerboard)."""
    if mode == "transpose":
        return [nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3, bias=bias)]


class ResidualBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x), reflect padded so the borders carry no zero seam."""

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), NORMS[norm](channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), NORMS[norm](channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Image-to-image ``G(x) -> y`` in [-1, 1], same spatial size for sides that are multiples of 4."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_blocks: int = 9,
                 norm: str = "instance", upsample: str = "transpose", residual: bool = False) -> None:
        super().__init__()
        if norm not in NORMS:
            raise GanzooError(f"ResNet generator g_norm '{norm}': choose one of {', '.join(NORMS)}")
        if upsample not in UPSAMPLES:
            raise GanzooError(f"ResNet generator upsample '{upsample}': choose one of {', '.join(UPSAMPLES)}")
        if residual and in_channels != out_channels:
            raise GanzooError(f"ResNet generator residual=true adds its output to its input, so it needs as many input "
                              f"channels as output channels, not {in_channels} and {out_channels}; drop residual")
        self.residual = residual
        bias, make_norm = norm != "batch", NORMS[norm]
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias), make_norm(width), nn.ReLU(True),
        ]
        for mult in (1, 2):
            layers += [nn.Conv2d(width * mult, width * mult * 2, 3, 2, 1, bias=bias), make_norm(width * mult * 2),
                       nn.ReLU(True)]
        layers += [ResidualBlock(width * 4, norm) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [*upsampling(width * mult, width * mult // 2, upsample, bias), make_norm(width * mult // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), *([] if residual else [nn.Tanh()])]
        self.net = nn.Sequential(*layers)
        init_dcgan(self)  # the reference's 'normal' init is DCGAN's

    def forward(self, x: Tensor) -> Tensor:
        if self.residual:
            return torch.tanh(torch.atanh(x.clamp(-EDGE, EDGE)) + self.net(x))
        return self.net(x)


def resnet_generator(cfg: NetConfig, n_blocks: int) -> ResnetGenerator:
    norm, upsample = str(cfg.options.get("g_norm", "instance")), str(cfg.options.get("upsample", "transpose"))
    return ResnetGenerator(cfg.in_channels or cfg.channels, cfg.channels, cfg.width, n_blocks, norm, upsample,
                           bool(cfg.options.get("residual", False)))


def patch_grid(image_size: int, n_layers: int) -> int:
    """Side of the PatchGAN's output logit map for a square image."""
    side = image_size
    for _ in range(n_layers):
        side = (side - 2) // 2 + 1  # 4x4 conv, stride 2, padding 1
    return side - 2  # two 4x4 stride-1 convs follow


def checked_discriminator(cfg: NetConfig) -> PatchDiscriminator:
    """The PatchGAN, refused up front when the image is too small for its depth.

    Otherwise the first step would crash deep in torch (an empty output map, or
    instance norm over a single value).
    """
    n_layers = int(cfg.options.get("n_layers", 3))
    if patch_grid(cfg.image_size, n_layers) < 1:
        fits = max((n for n in range(1, n_layers) if patch_grid(cfg.image_size, n) >= 1), default=None)
        hint = f"use --arch-opt n_layers={fits}" if fits else "use a larger --image-size"
        raise IncompatibleError(
            f"PatchGAN discriminator with n_layers={n_layers} is too deep for {cfg.image_size} px images "
            f"(its output map would be empty); {hint}"
        )
    return patch_discriminator(cfg, "instance")


def _architecture(n_blocks: int, advice: str) -> Architecture:
    return Architecture(
        generator=partial(resnet_generator, n_blocks=n_blocks),
        discriminator=checked_discriminator,
        description=f"CycleGAN ResNet generator, {n_blocks} residual blocks ({advice}) + 70x70 PatchGAN D; "
        "any side that is a multiple of 4",
        generator_input=("image",),
        discriminator_input=("image", "channels"),
        discriminator_output="patch",
        options={"g_norm": "instance", "n_layers": 3, "d_norm": "instance", "upsample": "transpose",
                 "residual": False},
        size_multiple=4,
        min_size=8,
    )


@hookimpl
def register_architectures(register: Register) -> None:
    register("resnet-9blocks", _architecture(9, "the reference choice at 256 px"))
    register("resnet-6blocks", _architecture(6, "the reference choice at 128 px and below"))
