"""``unaligned``: two image domains in the CycleGAN folder layout, drawn independently.

``--data-root`` holds ``trainA/ trainB/ testA/ testB/`` (any image files, searched
recursively; a split needs only its own two folders). Item ``i`` is A image
``i mod |A|`` with a B image drawn at random (train) or ``i mod |B|`` (test);
there are ``max(|A|, |B|)`` items, as in the reference loader.

Preprocessing follows CycleGAN's ``resize_and_crop``: resize to ``load_size``
(default ``image_size * 286 / 256``, i.e. 286 for 256 px), random
``image_size`` crop, random horizontal flip. Two differences: the resize keeps
the aspect ratio and centre-crops to a square (the reference stretches
non-square images), and the test split is resized straight to ``image_size``
with no random crop or flip, so held-out results are repeatable. Options:
``load_size=N``, ``flip=false``.

The B partner, crop and flip of item ``i`` come from
``np.random.default_rng((seed, split, i))``: the same every time, so a resumed
run sees exactly the batches of an uninterrupted one. The price is that an
image gets the same crop in every epoch (the reference draws a new one each
time); the engine would have to tell datasets the epoch to do better.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, item_rng, split_id
from ganzoo.data import ImageDirectory
from ganzoo.hookspecs import Register, hookimpl

class UnalignedFolders(Dataset):
    """``{"A": CxHxW, "B": CxHxW}`` in [-1, 1] from ``root/<split>A`` and ``root/<split>B``."""

    def __init__(self, options: DataOptions) -> None:
        if not options.root:
            raise GanzooError(
                "dataset 'unaligned' needs --data-root pointing at a folder with trainA/ and trainB/ "
                "(and testA/ testB/), the CycleGAN layout"
            )
        split = split_id("unaligned", options.split)
        self.size = options.image_size
        self.train = options.split == "train"
        default_load = round(self.size * 286 / 256) if self.train else self.size
        self.load_size = options.options["load_size"] or default_load
        if not isinstance(self.load_size, int):
            raise GanzooError(f"dataset 'unaligned': --data-opt load_size must be a whole number of pixels, "
                              f"got {self.load_size!r}")
        if self.load_size < self.size:
            raise GanzooError(
                f"dataset 'unaligned': load_size={self.load_size} is smaller than --image-size {self.size}; "
                "it is the size images are resized to before the crop"
            )
        flip = options.options["flip"]
        if not isinstance(flip, bool):
            raise GanzooError(f"dataset 'unaligned': --data-opt flip must be true or false, got {flip!r}")
        self.flip = self.train and flip
        self.seed, self.split = options.seed, split
        self.domains = []
        for domain in "AB":
            folder = Path(options.root) / f"{options.split}{domain}"
            if not folder.is_dir():
                raise GanzooError(
                    f"dataset 'unaligned': {folder} does not exist; --data-root must hold "
                    f"{options.split}A/ and {options.split}B/ (the CycleGAN layout)"
                )
            self.domains.append(ImageDirectory(dataclasses.replace(
                options, root=str(folder), image_size=self.load_size, channels=options.channels or 3, options={}
            ), "unaligned"))

    def __len__(self) -> int:
        return max(len(d) for d in self.domains)

    def _crop(self, image: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        spare = self.load_size - self.size
        top, left = (int(rng.integers(spare + 1)), int(rng.integers(spare + 1))) if self.train else (spare // 2,) * 2
        image = image[:, top : top + self.size, left : left + self.size]
        return image.flip(-1) if self.flip and rng.random() < 0.5 else image

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = item_rng(self.seed, self.split, index, len(self))
        domain_a, domain_b = self.domains
        partner = int(rng.integers(len(domain_b))) if self.train else index % len(domain_b)
        return {
            "A": self._crop(domain_a[index % len(domain_a)]["image"], rng),
            "B": self._crop(domain_b[partner]["image"], rng),
        }


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "unaligned",
        DatasetSpec(
            build=UnalignedFolders,
            description="Two unpaired image domains, CycleGAN layout root/trainA trainB testA testB "
            "(options load_size=image_size*286/256, flip=true)",
            channels=3,
            layout="unaligned",
            needs_root=True,
            options={"load_size": None, "flip": True},
        ),
    )
