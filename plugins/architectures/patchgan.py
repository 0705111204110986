"""PatchGAN discriminator (Isola et al. 2017; junyanz's ``NLayerDiscriminator``).

A building block shared by the image-to-image architectures (CycleGAN's
ResNet generators, the inpainting U-Net); it registers nothing itself.
With ``n_layers=3`` its receptive field is 70x70 pixels. ``norm`` picks
instance norm (CycleGAN), batch norm (pix2pix) or spectral norm on every conv
with no normalisation layer (SN-PatchGAN, the DeepFill v2 choice).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo.api import GanzooError, NetConfig

NORMS = ("instance", "batch", "spectral")


class PatchDiscriminator(nn.Module):
    """``D(x) -> (B, 1, h, w)`` logits, one per overlapping patch."""

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        if norm not in NORMS:
            raise GanzooError(f"PatchGAN norm '{norm}': choose one of {', '.join(NORMS)}")
        use_bias = norm != "batch"

        def conv(cin: int, cout: int, stride: int, bias: bool = True) -> nn.Module:
            layer = nn.Conv2d(cin, cout, 4, stride, 1, bias=bias)
            nn.init.normal_(layer.weight, 0.0, 0.02)  # junyanz's default init, before SN wraps it
            return spectral_norm(layer) if norm == "spectral" else layer

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            layers: list[nn.Module] = [conv(cin, cout, stride, use_bias)]
            if norm == "instance":
                layers.append(nn.InstanceNorm2d(cout))
            elif norm == "batch":
                layers.append(nn.BatchNorm2d(cout))
            return layers + [nn.LeakyReLU(0.2, True)]

        layers: list[nn.Module] = [conv(in_channels, width, 2), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += block(width * prev, width * mult, 2)
        prev, mult = mult, min(2**n_layers, 8)
        layers += block(width * prev, width * mult, 1)
        layers.append(conv(width * mult, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def patch_discriminator(cfg: NetConfig, default_norm: str = "instance") -> PatchDiscriminator:
    """Build from a NetConfig; ``options`` may set ``n_layers`` and ``d_norm``."""
    return PatchDiscriminator(
        cfg.in_channels or cfg.channels,
        cfg.width,
        int(cfg.options.get("n_layers", 3)),
        str(cfg.options.get("d_norm", default_norm)),
    )
