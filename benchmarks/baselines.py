"""The speed baselines ganzoo is measured against, written as their users wrote them.

* ``seed001``: the training loop of seed 001 (eager fp32, Sigmoid + BCELoss,
  fresh noise and a second G forward for the G step, D gradients computed in
  the G step too). Its 32 px, 3-channel G and D are the seed's own. One change
  only: the seed's D returns ``(B, 1, 1, 1)`` while its labels are ``(B, 1)``,
  which BCELoss refuses, so the output is viewed as ``(B, 1)``.
* ``pytorch_examples``: pytorch/examples ``dcgan/main.py`` with its defaults
  (64 px, nz 100, ngf = ndf = 64, batch 64, Sigmoid + BCELoss, the fake batch
  reused for the G step).

Both return a ``step(images)`` closure that runs one D update and one G update.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.optim as optim


class SeedDiscriminator(nn.Module):
    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(256, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input).view(-1, 1)


class SeedGenerator(nn.Module):
    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(100, 256, 4, 1, 0, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.ConvTranspose2d(64, channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input.view(input.size(0), 100, 1, 1))


def seed001(device: torch.device, channels: int = 3) -> Callable[[torch.Tensor], None]:
    """Seed 001's loop body, verbatim apart from the output view noted above."""
    discriminator = SeedDiscriminator(channels).to(device)
    generator = SeedGenerator(channels).to(device)
    adversarial_loss = nn.BCELoss()
    optimizer_D = optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_G = optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))

    def step(imgs: torch.Tensor) -> None:
        real_labels = torch.ones(imgs.size(0), 1, device=device)
        fake_labels = torch.zeros(imgs.size(0), 1, device=device)
        outputs = discriminator(imgs)
        d_loss_real = adversarial_loss(outputs, real_labels)
        z = torch.randn(imgs.size(0), 100, device=device)
        fake_imgs = generator(z)
        outputs = discriminator(fake_imgs.detach())
        d_loss_fake = adversarial_loss(outputs, fake_labels)
        d_loss = d_loss_real + d_loss_fake
        optimizer_D.zero_grad()
        d_loss.backward()
        optimizer_D.step()
        z = torch.randn(imgs.size(0), 100, device=device)
        fake_imgs = generator(z)
        outputs = discriminator(fake_imgs)
        g_loss = adversarial_loss(outputs, real_labels)
        optimizer_G.zero_grad()
        g_loss.backward()
        optimizer_G.step()

    return step


def _examples_weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def pytorch_examples(device: torch.device, channels: int = 3, nz: int = 100, ngf: int = 64,
                     ndf: int = 64) -> Callable[[torch.Tensor], None]:
    """pytorch/examples dcgan/main.py at its defaults (64 px)."""
    netG = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh(),
    ).to(device)
    netD = nn.Sequential(
        nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    ).to(device)
    netG.apply(_examples_weights_init)
    netD.apply(_examples_weights_init)
    criterion = nn.BCELoss()
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    real_label, fake_label = 1, 0

    def step(real_cpu: torch.Tensor) -> None:
        netD.zero_grad()
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()

    return step


BASELINES = {"seed001": (seed001, 32), "pytorch-examples": (pytorch_examples, 64)}
