"""Data for plugins: a split of any registered dataset, folders of images, inpainting masks (public API).

Every reader here goes through the registry, so a split is read the same way
whether the dataset is built in or third-party; the image folder reader is the
one the ``folder`` and ``unaligned`` datasets share, and a third-party dataset
may build on it too.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .api import DataOptions, GanzooError, GanzooWarning
from .engine.config import RunConfig
from .images import IMAGE_EXTENSIONS, list_images, read_image, resize, verify_image
from .registry import get_registry

__all__ = [
    "HELD_OUT_OPTIONS", "ImageDirectory", "draw_masks", "held_out_options", "hole_fraction", "image_classes",
    "load_split", "read_split",
]

# Held-out "test" images where a dataset can cut them from its training files: the shared MNIST
# convention (last 2000, datasets with "holdout") and a fifth of a folder ("test_fraction").
HELD_OUT_OPTIONS: dict[str, Any] = {"holdout": 2000, "test_fraction": 0.2}
_SHOWN = 10  # bad files named in the warning; the rest are counted
MIN_CLASSES = 2  # one subfolder is just where the images live, not a label


def load_split(source: RunConfig | str, split: str = "train", *, data_root: str | None = None,
               image_size: int | None = None, channels: int | None = None,
               data_options: dict[str, Any] | None = None, seed: int | None = None,
               download: bool | None = None, skip_bad_images: bool | None = None) -> Dataset:
    """Split ``split`` ("train" or "test") of a dataset, built through the registry.

    ``source`` is a run's resolved config (``load_run(...).config``: its
    dataset, root, size, channels, options and seed) or a dataset name (then
    unset settings take :class:`ganzoo.DataOptions`' defaults). Each keyword
    given (not None) overrides the config's, e.g. ``data_root`` from ``ganzoo
    eval --data-root``. The dataset's own options are checked against what it
    declares. Items are dicts as the dataset's layout says (see
    :class:`ganzoo.DatasetSpec`).
    """
    if isinstance(source, RunConfig):
        from .engine.trainer import data_options as from_config

        name, options = source.dataset, from_config(source, split)
    else:
        name, options = source, DataOptions(split=split)
    given = {"root": data_root, "image_size": image_size, "channels": channels, "options": data_options,
             "seed": seed, "download": download, "skip_bad_images": skip_bad_images}
    options = replace(options, **{key: value for key, value in given.items() if value is not None})
    return get_registry().get("datasets", name).load(name, options)


def read_split(source: RunConfig | str, split: str = "test", *, limit: int | None = None,
               **settings: Any) -> tuple[Tensor, Tensor]:
    """The first ``limit`` items (all: None) of an image dataset's split as images (N, C, H, W) and labels (N,).

    ``source`` and ``settings`` are :func:`load_split`'s; labels are -1 where the dataset has none.
    """
    name = source.dataset if isinstance(source, RunConfig) else source
    layout = get_registry().get("datasets", name).layout
    if layout != "image":
        raise GanzooError(f"dataset '{name}' yields '{layout}' items; reading images and labels needs an image "
                          "dataset (ganzoo list datasets)")
    dataset = load_split(source, split, **settings)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise GanzooError(f"dataset '{name}' split '{split}' is empty; check --data-root and --data-opt")
    items = [dataset[i] for i in range(n)]
    return torch.stack([it["image"] for it in items]), torch.stack([torch.as_tensor(it["label"]) for it in items])


def held_out_options(dataset: str, data_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data_options`` plus :data:`HELD_OUT_OPTIONS` where the dataset declares them, so "train" and "test"
    are disjoint even with only MNIST's t10k file on disk or a single folder (explicit options win)."""
    spec = get_registry().get("datasets", dataset)
    return {**{k: v for k, v in HELD_OUT_OPTIONS.items() if k in spec.options}, **(data_options or {})}


def _list(options: DataOptions, dataset: str) -> tuple[Path, list[Path]]:
    """The root and every image file under it (not yet checked), or an error naming the folder."""
    if not options.root:
        raise GanzooError(f"dataset '{dataset}' needs --data-root pointing at a directory of images")
    root = Path(options.root)
    files = list_images(root)
    if not files:
        kinds = ", ".join(sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS))
        raise GanzooError(f"no images ({kinds}) found under {root}; check --data-root")
    return root, files


def _classes_of(root: Path, files: list[Path]) -> list[str]:
    """The sorted first-level subfolder names when ``files`` form a labelled tree, else ``[]``.

    Taken from the listing, before any file is checked, so skipping unreadable
    images never changes the class count.
    """
    names = [path.relative_to(root).parts for path in files]
    if any(len(parts) == 1 for parts in names):  # an image directly under the root: unlabelled
        return []
    classes = sorted({parts[0] for parts in names})
    return classes if len(classes) >= MIN_CLASSES else []


def _split_files(files: list[Path], split: str, test_fraction: float, dataset: str) -> list[Path]:
    """``test_fraction`` of the listing for split "test", the rest for "train" (all of it when 0).

    The shuffle is seeded with 0, not the run's seed, so every run and every
    ``ganzoo eval`` of a run sees the same split.
    """
    if not test_fraction:
        return files
    if not 0 < test_fraction < 1:
        raise GanzooError(f"--data-opt test_fraction={test_fraction}: dataset '{dataset}' needs a share between "
                          "0 and 1")
    order = np.random.default_rng(0).permutation(len(files))
    n_test = max(1, round(test_fraction * len(files)))
    picked = order[:n_test] if split == "test" else order[n_test:]
    if not len(picked):
        raise GanzooError(f"--data-opt test_fraction={test_fraction} leaves no training images of {len(files)}")
    return [files[i] for i in sorted(picked)]


def image_classes(options: DataOptions, dataset: str) -> list[str]:
    """The class names of the image folder at ``options.root`` ([] when unlabelled), without reading any image.

    A folder is labelled when every image lies in a first-level subfolder and
    there are at least two of them: the sorted subfolder names are classes
    0..K-1. ``dataset`` names the dataset in errors.
    """
    return _classes_of(*_list(options, dataset))


_CHANNELS: dict[tuple[str, int, int], int] = {}  # (path, mtime, size) -> channels, of files verify_image passed


def _verified(path: Path) -> int:
    """:func:`verify_image` once per file version in a process: a new folder run reads the headers to find its
    channels, then again to load its data."""
    try:
        stat = path.stat()
    except OSError:  # gone or unreadable: verify_image names it
        return verify_image(path)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CHANNELS:
        _CHANNELS[key] = verify_image(path)
    return _CHANNELS[key]


def _skip_hint(exc: GanzooError) -> GanzooError:
    """An unreadable file in an image folder, with the option that trains past such files."""
    return GanzooError(f"{exc} (`ganzoo train --skip-bad-images` trains on the readable ones.)")


class ImageDirectory(Dataset):
    """Every image under ``options.root`` (recursive), resized (shorter side) and centre-cropped to image_size.

    Items are ``{"image": CxHxW in [-1, 1], "label": int64}``; ``classes`` lists
    the class (subfolder) names, empty when the folder is unlabelled (see
    :func:`image_classes`; labels are then -1); ``channels`` is the requested
    count, else 1 when every image is grayscale, else 3. Every file's header is
    checked here, so a broken file stops a run at once, not hours into
    training; ``options.skip_bad_images`` skips such files with a warning. With
    ``test_fraction`` it holds only the images of ``options.split`` (a fixed,
    seed-independent share is "test"). ``dataset`` names it in errors.
    """

    def __init__(self, options: DataOptions, dataset: str, test_fraction: float = 0.0) -> None:
        root, listing = _list(options, dataset)
        files = _split_files(listing, options.split, test_fraction, dataset)
        good, bad, native = [], [], set()
        for path in files:
            try:
                native.add(_verified(path))
                good.append(path)
            except GanzooError as exc:
                if not options.skip_bad_images:
                    raise _skip_hint(exc) from exc.__cause__
                bad.append(path)
        if bad:
            names = ", ".join(str(p) for p in bad[:_SHOWN])
            if len(bad) > _SHOWN:
                names += f" and {len(bad) - _SHOWN} more"
            warnings.warn(f"{dataset}: skipping {len(bad)} unreadable image(s) under {root}: {names}", GanzooWarning,
                          stacklevel=2)
        if not good:
            raise GanzooError(f"none of the {len(files)} images under {root} can be read")
        self.root = root
        self.files = good
        self.classes = _classes_of(root, listing)
        index = {name: i for i, name in enumerate(self.classes)}
        self.labels = [index.get(p.relative_to(root).parts[0], -1) for p in good]
        self.size = options.image_size
        self.channels = options.channels or (1 if native == {1} else 3)
        self.skip_bad_images = options.skip_bad_images
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Item ``index``; with skip_bad_images a file that fails to decode gives the next good one."""
        if not 0 <= index < len(self.files):
            raise IndexError(index)
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            try:
                image = read_image(self.files[i], self.channels)
            except GanzooError as exc:
                if not self.skip_bad_images:
                    raise _skip_hint(exc) from exc.__cause__
                warnings.warn(f"{self.dataset}: skipping {self.files[i]}: cannot decode it ({exc.__cause__})",
                              GanzooWarning, stacklevel=2)
                continue
            return {"image": resize(image, self.size), "label": torch.tensor(self.labels[i], dtype=torch.long)}
        raise GanzooError(f"none of the images under {self.root} can be decoded")


def draw_masks(name: str, count: int, shape: tuple[int, int], rng: np.random.Generator, **options: Any) -> np.ndarray:
    """``count`` inpainting masks of the registered kind ``name`` as a ``(count, H, W)`` boolean array (True = hole).

    Drawn from ``rng`` only, so the same seed gives the same masks; ``options``
    are the mask's own (``ganzoo list masks --json``), checked against what it declares.
    """
    spec = get_registry().get("masks", name)
    height, width = shape
    if min(height, width) < spec.min_size:
        raise GanzooError(f"mask '{name}' needs images of at least {spec.min_size} px a side, got {height}x{width}")
    return np.stack([np.asarray(spec(shape, rng, **options), dtype=bool) for _ in range(count)])


def hole_fraction(masks: np.ndarray) -> np.ndarray:
    """The hole area of each mask as a fraction of the image (one value per mask)."""
    masks = np.asarray(masks, dtype=bool)
    return masks.reshape(-1, *masks.shape[-2:]).mean(axis=(1, 2))
