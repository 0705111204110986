"""``unet``: an encoder-decoder inpainting generator with skip connections, and an SN-PatchGAN D.

G takes the masked image and the mask stacked as channels (``NetConfig.in_channels``
= C + 1) and returns a full image, unbounded: the task clips it to [-1, 1]
when it composites it into the known pixels and takes its L1 loss on the
unclipped values. A tanh (or a clip) inside G has no gradient where it
saturates, and L1 pulls most pixels of sparse images to -1: measured on MNIST,
a tanh U-Net saturated everywhere within 25 steps and stopped learning.

It is fully convolutional: any input size works, padded by edge replication
to a multiple of ``2**depth`` and cropped back. Stride-2 4x4 convs
go down ``depth`` times (widths w, 2w, 4w, capped at 4w), residual 3x3 blocks
with dilation 2 widen the receptive field at the bottom (as DeepFill and
GLCIC do), and nearest upsampling + 3x3 convs come back up, concatenating the
encoder features of each level. No normalisation layers: statistics of
images with holes would be skewed by the hole, so G uses plain LeakyReLU convs.

D is the shared PatchGAN with spectral norm (SN-PatchGAN, DeepFill v2); it
also gets the mask as a channel. Images under 64 px use ``n_layers=2`` so the
patch map stays larger than 1x1 (5x5 logits at 28 px).

Options (``--arch-opt``): ``depth`` (3), ``blocks`` (2), ``n_layers``, ``d_norm``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.api import Architecture, NetConfig
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.architectures.patchgan import PatchDiscriminator, patch_discriminator

MAX_MULT = 4


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, dilation, dilation=dilation), nn.LeakyReLU(0.2, True))


class Residual(nn.Module):
    """x + conv(conv(x)) with dilated 3x3 convs."""

    def __init__(self, channels: int, dilation: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, dilation), nn.Conv2d(channels, channels, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.body(x), 0.2)


class UNet(nn.Module):
    """``G(x)``: ``x`` is (B, in_channels, H, W), the result (B, channels, H, W), not clipped."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.depth = int(cfg.options.get("depth", 3))
        blocks = int(cfg.options.get("blocks", 2))
        widths = [cfg.width * min(2**i, MAX_MULT) for i in range(self.depth + 1)]
        self.stem = _conv(cfg.in_channels or cfg.channels, widths[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, True), _conv(cout, cout))
            for cin, cout in zip(widths[:-1], widths[1:])
        )
        self.middle = nn.Sequential(*(Residual(widths[-1]) for _ in range(blocks)))
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv(cout, cin))
            for cin, cout in zip(widths[:-1], widths[1:])
        )
        self.merges = nn.ModuleList(_conv(2 * cin, cin) for cin in widths[:-1])
        self.head = nn.Conv2d(widths[0], cfg.channels, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = self.middle(skips.pop())
        for up, merge in zip(reversed(self.ups), reversed(self.merges)):
            h = merge(torch.cat([up(h), skips.pop()], dim=1))
        return self.head(h)[..., :height, :width]


def sn_patch_discriminator(cfg: NetConfig) -> PatchDiscriminator:
    """SN-PatchGAN; 2 stride-2 layers below 64 px so 28 px images still get a patch map."""
    options = dict(cfg.options)
    if options.get("n_layers") is None:  # the declared default: chosen by the image size
        options["n_layers"] = 2 if cfg.image_size < 64 else 3
    return patch_discriminator(NetConfig(**{**vars(cfg), "options": options}), "spectral")


@hookimpl
def register_architectures(register: Register) -> None:
    register(
        "unet",
        Architecture(
            generator=UNet,
            discriminator=sn_patch_discriminator,
            description="Inpainting U-Net (masked image + mask in, skips, dilated residual middle) + SN-PatchGAN D",
            generator_input=("image",),
            discriminator_input=("image", "channels"),
            discriminator_output="patch",
            options={"depth": 3, "blocks": 2, "n_layers": None, "d_norm": "spectral"},  # n_layers: 2 below 64 px
            min_size=16,
        ),
    )
