"""A complete third-party ganzoo plugin: one architecture and one loss."""

import torch.nn.functional as F
from torch import nn

import ganzoo


def generator(cfg: ganzoo.NetConfig) -> nn.Module:
    side = cfg.image_size // 4
    return nn.Sequential(
        nn.Linear(cfg.nz, cfg.width * side * side), nn.Unflatten(1, (cfg.width, side, side)), nn.ReLU(),
        nn.Upsample(scale_factor=2), nn.Conv2d(cfg.width, cfg.width, 3, padding=1), nn.ReLU(),
        nn.Upsample(scale_factor=2), nn.Conv2d(cfg.width, cfg.channels, 3, padding=1), nn.Tanh(),
    )


def discriminator(cfg: ganzoo.NetConfig) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(cfg.channels, cfg.width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(cfg.width, cfg.width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(cfg.width * (cfg.image_size // 4) ** 2, 1), nn.Flatten(0),
    )


class SmoothBCE(ganzoo.Loss):
    """Non-saturating GAN loss with one-sided label smoothing (Salimans et al. 2016)."""

    description = "Non-saturating BCE with one-sided label smoothing (real target 0.9)"
    real_target = 0.9  # an option: --loss-opt real_target=0.8

    def d_loss(self, real, fake):
        target = real.new_full(real.shape, self.real_target)
        return F.binary_cross_entropy_with_logits(real, target) + F.softplus(fake).mean()

    def g_loss(self, fake):
        return F.softplus(-fake).mean()


@ganzoo.hookimpl
def register_architectures(register):
    register("tiny-conv", ganzoo.Architecture(
        generator, discriminator, description="Two-layer conv GAN (third-party example)", size_multiple=4, min_size=8,
    ))


@ganzoo.hookimpl
def register_losses(register):
    register("bce-smooth", SmoothBCE)
