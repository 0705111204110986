"""``folder``: any directory of images, searched recursively, ImageFolder style.

When every image lies in a first-level subfolder (at any depth below it) and
there are at least two such subfolders, the folder is labelled: the sorted
subfolder names are classes 0..K-1 (``root/cat/**/*.png`` -> class of "cat").
Otherwise (images directly under the root, alone or next to subfolders, or a
single subfolder) it is unlabelled and every label is -1. :func:`count_classes`
gives K (0 when unlabelled) from the file listing alone, before the dataset is
built. The reader is :class:`ganzoo.data.ImageDirectory`: every file's header
is checked when the dataset is built, so a broken file stops the run at once
instead of hours into training. ``--data-opt test_fraction=F`` keeps a fixed
share of the images out of training as split "test"; without it, "test" reads
the training images (with a warning).
"""

from __future__ import annotations

import warnings

from ganzoo.api import DataOptions, DatasetSpec, GanzooWarning
from ganzoo.data import ImageDirectory, image_classes
from ganzoo.hookspecs import Register, hookimpl


def count_classes(options: DataOptions) -> int:
    """How many classes the folder at ``options.root`` has (0: unlabelled), without reading any image."""
    return len(image_classes(options, "folder"))


def folder_dataset(options: DataOptions) -> ImageDirectory:
    """The ``folder`` dataset; without ``test_fraction`` one directory serves every split, which a held-out
    score should know."""
    test_fraction = options.options["test_fraction"]
    if options.split != "train" and not test_fraction:
        warnings.warn(f"folder: {options.root} has no separate '{options.split}' split; it reads the training "
                      "images, so held-out scores (accuracy, FID) are measured on them; train with --data-opt "
                      "test_fraction=0.2 to keep a fifth of them out", GanzooWarning, stacklevel=3)
    return ImageDirectory(options, "folder", test_fraction)


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
