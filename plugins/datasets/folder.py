"""``folder``: any directory of images, searched recursively, ImageFolder style.

When every image lies in a first-level subfolder (at any depth below it) and
there are at least two such subfolders, the folder is labelled: the sorted
subfolder names are classes 0..K-1 (``root/cat/**/*.png`` -> class of "cat").
Otherwise (images directly under the root, alone or next to subfolders, or a
single subfolder) it is unlabelled and every label is -1. :func:`count_classes`
gives K (0 when unlabelled) from the file listing alone, before the dataset is
built. Every file's header is checked when the dataset is built, so a broken
file stops the run at once instead of hours into training. ``--data-opt
test_fraction=F`` keeps a fixed share of the images out of training as split
"test"; without it, "test" reads the training images (with a warning).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, GanzooWarning
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import IMAGE_EXTENSIONS, list_images, read_image, resize, verify_image

_SHOWN = 10  # bad files named in the warning; the rest are counted
MIN_CLASSES = 2  # one subfolder is just where the images live, not a label


def _list(options: DataOptions) -> tuple[Path, list[Path]]:
    """The root and every image file under it (not yet checked), or an error naming the folder."""
    if not options.root:
        raise GanzooError("dataset 'folder' needs --data-root pointing at a directory of images")
    root = Path(options.root)
    files = list_images(root)
    if not files:
        kinds = ", ".join(sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS))
        raise GanzooError(f"no images ({kinds}) found under {root}; check --data-root")
    return root, files


def classes_of(root: Path, files: list[Path]) -> list[str]:
    """The sorted first-level subfolder names when ``files`` form a labelled tree, else ``[]``.

    Taken from the listing, before any file is checked, so skipping unreadable
    images never changes the class count.
    """
    names = [path.relative_to(root).parts for path in files]
    if any(len(parts) == 1 for parts in names):  # an image directly under the root: unlabelled
        return []
    classes = sorted({parts[0] for parts in names})
    return classes if len(classes) >= MIN_CLASSES else []


def split_files(files: list[Path], split: str, test_fraction: float) -> list[Path]:
    """``test_fraction`` of the listing for split "test", the rest for "train" (all of it when 0).

    The shuffle is seeded with 0, not the run's seed, so every run and every
    ``ganzoo eval`` of a run sees the same split.
    """
    if not test_fraction:
        return files
    if not 0 < test_fraction < 1:
        raise GanzooError(f"--data-opt test_fraction={test_fraction}: dataset 'folder' needs a share between 0 and 1")
    order = np.random.default_rng(0).permutation(len(files))
    n_test = max(1, round(test_fraction * len(files)))
    picked = order[:n_test] if split == "test" else order[n_test:]
    if not len(picked):
        raise GanzooError(f"--data-opt test_fraction={test_fraction} leaves no training images of {len(files)}")
    return [files[i] for i in sorted(picked)]


def count_classes(options: DataOptions) -> int:
    """How many classes the folder at ``options.root`` has (0: unlabelled), without reading any image."""
    root, files = _list(options)
    return len(classes_of(root, files))


class ImageDirectory(Dataset):
    """Images resized (shorter side) and centre-cropped to image_size.

    ``classes`` lists the class (subfolder) names, empty when the folder is
    unlabelled (see :func:`classes_of`); ``channels`` is the requested count,
    else 1 when every image is grayscale, else 3. With ``test_fraction`` it
    holds only the images of ``options.split`` (see :func:`split_files`).
    """

    def __init__(self, options: DataOptions, test_fraction: float = 0.0) -> None:
        root, listing = _list(options)
        files = split_files(listing, options.split, test_fraction)
        good, bad, native = [], [], set()
        for path in files:
            try:
                native.add(verify_image(path))
                good.append(path)
            except GanzooError:
                if not options.skip_bad_images:
                    raise
                bad.append(path)
        if bad:
            names = ", ".join(str(p) for p in bad[:_SHOWN])
            if len(bad) > _SHOWN:
                names += f" and {len(bad) - _SHOWN} more"
            warnings.warn(f"folder: skipping {len(bad)} unreadable image(s) under {root}: {names}", GanzooWarning,
                          stacklevel=2)
        if not good:
            raise GanzooError(f"none of the {len(files)} images under {root} can be read")
        self.root = root
        self.files = good
        self.classes = classes_of(root, listing)
        index = {name: i for i, name in enumerate(self.classes)}
        self.labels = [index.get(p.relative_to(root).parts[0], -1) for p in good]
        self.size = options.image_size
        self.channels = options.channels or (1 if native == {1} else 3)
        self.skip_bad_images = options.skip_bad_images

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
                    raise
                warnings.warn(f"folder: skipping {self.files[i]}: cannot decode it ({exc.__cause__})", GanzooWarning,
                              stacklevel=2)
                continue
            return {"image": resize(image, self.size), "label": torch.tensor(self.labels[i], dtype=torch.long)}
        raise GanzooError(f"none of the images under {self.root} can be decoded")


def folder_dataset(options: DataOptions) -> ImageDirectory:
    """The ``folder`` dataset; without ``test_fraction`` one directory serves every split, which a held-out
    score should know."""
    test_fraction = options.options["test_fraction"]
    if options.split != "train" and not test_fraction:
        warnings.warn(f"folder: {options.root} has no separate '{options.split}' split; it reads the training "
                      "images, so held-out scores (accuracy, FID) are measured on them; train with --data-opt "
                      "test_fraction=0.2 to keep a fifth of them out", GanzooWarning, stacklevel=3)
    return ImageDirectory(options, test_fraction)


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "folder",
        DatasetSpec(
            build=folder_dataset,
            description="Any directory of images (recursive); labels from 2+ first-level subfolders, else -1",
            needs_root=True,
            count_classes=count_classes,
            options={"test_fraction": 0.0},
        ),
    )
