"""``cifar10``, ``fashion-mnist``, ``celeba``: torchvision datasets by name, for users online.

Files are read from ``--data-root`` (default ``./data``, torchvision's layout)
and fetched only with ``--download``; without it a missing dataset is a clear
error rather than a surprise download. (MNIST has its own IDX reader: ``mnist``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import from_array, resize

DEFAULT_ROOT = "data"


@dataclass(frozen=True)
class _Source:
    make: Callable[[str, str, bool], Any]  # (root, split, download) -> torchvision dataset
    splits: tuple[str, ...]
    channels: int
    num_classes: int
    description: str


def _torchvision(name: str) -> type:
    """A torchvision dataset class, imported only when a dataset is built: torchvision takes seconds to import."""
    from torchvision import datasets

    return getattr(datasets, name)


def _train_or_test(name: str) -> Callable[[str, str, bool], Any]:
    return lambda root, split, download: _torchvision(name)(root, train=split == "train", download=download)


SOURCES = {
    "cifar10": _Source(
        _train_or_test("CIFAR10"), ("train", "test"), 3, 10, "CIFAR-10 32x32 colour images, 10 classes"
    ),
    "fashion-mnist": _Source(
        _train_or_test("FashionMNIST"), ("train", "test"), 1, 10, "Fashion-MNIST 28x28 clothing, 10 classes"
    ),
    "celeba": _Source(
        lambda root, split, download: _torchvision("CelebA")(root, split=split, target_type=[], download=download),
        ("train", "valid", "test", "all"),
        3,
        0,
        "CelebA aligned faces 178x218 (centre-cropped), unlabelled",
    ),
}


class TorchvisionImages(Dataset):
    """A torchvision dataset with ganzoo items: resized, in [-1, 1], label -1 when it has none."""

    def __init__(self, name: str, options: DataOptions) -> None:
        source = SOURCES[name]
        if options.split not in source.splits:
            raise GanzooError(f"dataset '{name}' has splits {', '.join(source.splits)}, not '{options.split}'")
        root = options.root or DEFAULT_ROOT
        try:
            self.base = source.make(root, options.split, options.download)
        except Exception as exc:  # torchvision reports missing files and failed downloads alike
            if options.download:
                raise GanzooError(
                    f"dataset '{name}': download into {root} failed ({type(exc).__name__}: {exc}); "
                    "check the internet connection, or fetch the files yourself and point --data-root at them"
                ) from exc
            raise GanzooError(
                f"dataset '{name}' not found under {root} ({exc}). Pass --download to fetch it (needs internet), "
                "or point --data-root at the folder that holds torchvision's copy."
            ) from exc
        self.size = options.image_size
        self.channels = options.channels or source.channels

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        picture, target = self.base[index]
        image = resize(from_array(np.asarray(picture), self.channels), self.size)
        label = target if isinstance(target, int) else -1
        return {"image": image, "label": torch.tensor(label, dtype=torch.long)}


@hookimpl
def register_datasets(register: Register) -> None:
    for name, source in SOURCES.items():
        register(
            name,
            DatasetSpec(
                build=partial(TorchvisionImages, name),
                description=f"{source.description} (torchvision; --download to fetch)",
                channels=source.channels,
                num_classes=source.num_classes,
                needs_root=True,
                default_root=DEFAULT_ROOT,
            ),
        )
