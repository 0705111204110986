"""``folder``: any directory of images, searched recursively, ImageFolder style.

Images directly inside first-level subfolders are labelled by the subfolder's
name (sorted, ``root/cat/*.png`` -> class of "cat"); with no subfolders every
label is -1. Every file's header is checked when the dataset is built, so a
broken file stops the run at once instead of hours into training.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, GanzooWarning
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import IMAGE_EXTENSIONS, list_images, read_image, resize, verify_image

_SHOWN = 10  # bad files named in the warning; the rest are counted


class ImageDirectory(Dataset):
    """Images resized (shorter side) and centre-cropped to image_size.

    ``classes`` lists the subfolder names; ``channels`` is the requested count,
    else 1 when every image is grayscale, else 3.
    """

    def __init__(self, options: DataOptions) -> None:
        if not options.root:
            raise GanzooError("dataset 'folder' needs --data-root pointing at a directory of images")
        root = Path(options.root)
        files = list_images(root)
        if not files:
            kinds = ", ".join(sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS))
            raise GanzooError(f"no images ({kinds}) found under {root}; check --data-root")
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
        subfolders = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None for p in good]
        self.classes = sorted({name for name in subfolders if name is not None})
        index = {name: i for i, name in enumerate(self.classes)}
        self.labels = [index[name] if name is not None else -1 for name in subfolders]
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


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "folder",
        DatasetSpec(
            build=ImageDirectory,
            description="Any directory of images (recursive); labels from first-level subfolders, else -1",
            needs_root=True,
        ),
    )
