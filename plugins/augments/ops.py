"""Differentiable image augmentations shared by the augmentation and regulariser plugins (registers nothing).

Each op takes a batch (B, C, H, W) in [-1, 1] and a CPU ``torch.Generator``
(the engine's, so resume is exact), draws one parameter per image, and is
differentiable in the images: gradients reach G through whatever D sees.
These are the three DiffAugment families (Zhao et al. 2020): colour
(brightness, saturation, contrast), translation (up to 1/8 of the side, the
uncovered border filled with 0, mid-gray) and cutout (a square of half the
side set to 0). On 1-channel images saturation is the identity (there is no
colour to saturate), so ``color`` changes brightness and contrast only.
"""

from __future__ import annotations

import torch
from torch import Tensor

TRANSLATION = 1 / 8
CUTOUT = 1 / 2


def uniform(x: Tensor, generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> Tensor:
    """One number per image in [low, high), shaped (B, 1, 1, 1) on the images' device and dtype."""
    draw = torch.rand(x.shape[0], 1, 1, 1, generator=generator) * (high - low) + low
    return draw.to(device=x.device, dtype=x.dtype, non_blocking=True)


def color(x: Tensor, generator: torch.Generator) -> Tensor:
    """Brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5]."""
    x = x + uniform(x, generator, -0.5, 0.5)
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * uniform(x, generator, 0.0, 2.0) + gray
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * uniform(x, generator, 0.5, 1.5) + mean


def translation(x: Tensor, generator: torch.Generator, ratio: float = TRANSLATION) -> Tensor:
    """Shift each image by up to ``ratio`` of its side in each direction; the uncovered border is 0."""
    batch, _, height, width = x.shape
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (batch, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (batch, 1, 1), generator=generator).to(x.device)
    rows = torch.arange(height, device=x.device).view(1, height, 1) - dy  # source row of each output row
    cols = torch.arange(width, device=x.device).view(1, 1, width) - dx
    inside = ((rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)).unsqueeze(1)
    index = (rows.clamp(0, height - 1) * width + cols.clamp(0, width - 1)).view(batch, 1, height * width)
    moved = x.flatten(2).gather(2, index.expand(batch, x.shape[1], height * width)).view_as(x)
    return moved * inside.to(x.dtype)


def cutout(x: Tensor, generator: torch.Generator, ratio: float = CUTOUT) -> Tensor:
    """Set a square of ``ratio`` of the side, centred anywhere in the image (clipped at its edges), to 0."""
    batch, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height, (batch, 1, 1), generator=generator).to(x.device) - size_y // 2
    left = torch.randint(0, width, (batch, 1, 1), generator=generator).to(x.device) - size_x // 2
    rows = torch.arange(height, device=x.device).view(1, height, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, width)
    hole = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror each image left-right with probability 1/2."""
    mirror = uniform(x, generator) < 0.5
    return torch.where(mirror, x.flip(3), x)


OPS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str, owner: str) -> list[str]:
    """``color,translation,cutout`` as a list of op names; an unknown one is a one-line error naming the known."""
    from ganzoo.api import GanzooError

    names = [name.strip() for name in policy.split(",") if name.strip()]
    unknown = [name for name in names if name not in OPS]
    if unknown or not names:
        raise GanzooError(f"--augment-opt policy={policy}: {owner} knows {', '.join(OPS)} "
                          f"(comma-separated){'; not ' + ', '.join(unknown) if unknown else ''}")
    return names
