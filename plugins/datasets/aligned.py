"""``aligned``: paired images (a, b) for pix2pix-style translation, in either of two layouts under ``--data-root``.

* **Side by side** (the pix2pix layout): ``train/`` and ``test/`` (or ``val/``
  where there is no ``test/``) hold images with A in the left half and B in the
  right, e.g. 512x256 for a 256 px pair.
* **Two folders**: ``train/A/`` and ``train/B/`` (and ``test/A/``, ``test/B/``)
  hold one file per pair under the same name (subfolders kept; the extension
  may differ, e.g. ``A/x.png`` with ``B/x.jpg``).

Pairs are checked before training: a file without its partner, two files
with one name, an A and B of different sizes or a side-by-side image of odd
width is an error naming the file. Preprocessing follows pix2pix's: both
images resized to ``load_size`` (default ``image_size * 286 / 256``), the same
random ``image_size`` crop and horizontal flip for A and B; the test split is
resized straight to ``image_size``. Crop and flip of item ``i`` come from
``item_rng``, so a resumed run sees the batches of an uninterrupted one.
Options: ``load_size=N``, ``flip=false``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, item_rng, split_id
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import list_images, read_image, resize, verify_image

NAME = "aligned"


def _size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header; an unreadable file is an error naming it."""
    verify_image(path)
    with Image.open(path) as image:
        return image.size


def split_folder(root: Path, split: str) -> Path:
    """``root/train``, or ``root/test`` (``root/val`` where there is no test/); refuses the unaligned layout."""
    names = ["test", "val"] if split == "test" else ["train"]
    for name in names:
        if (root / name).is_dir():
            return root / name
    if (root / f"{split}A").is_dir() or (root / f"{split}B").is_dir():
        raise GanzooError(f"dataset '{NAME}': {root} holds {split}A/ {split}B/, the unpaired CycleGAN layout; pairs go "
                          f"in {split}/A/ and {split}/B/ under matching names (or use --dataset unaligned)")
    raise GanzooError(f"dataset '{NAME}': {root / names[0]} does not exist; --data-root must hold {split}/ with "
                      "side-by-side AB images, or A/ and B/ folders of pairs")


def folder_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(A file, B file) pairs from ``folder/A`` and ``folder/B``, matched by name without extension."""
    sides = []
    for side in "AB":
        files: dict[Path, Path] = {}
        for path in list_images(folder / side):
            key = path.relative_to(folder / side).with_suffix("")
            if key in files:
                raise GanzooError(f"dataset '{NAME}': {files[key]} and {path} have the same name; a pair is one "
                                  f"file in A/ and one in B/: remove or rename one")
            files[key] = path
        sides.append(files)
    a_files, b_files = sides
    for own, other, side in ((a_files, b_files, "B"), (b_files, a_files, "A")):
        lonely = sorted(set(own) - set(other))
        if lonely:
            more = f" (and {len(lonely) - 1} more)" if len(lonely) > 1 else ""
            raise GanzooError(f"dataset '{NAME}': {own[lonely[0]]} has no partner named {lonely[0]}.* in "
                              f"{folder / side}{more}; pairs need matching names in A/ and B/")
    pairs = [(a_files[key], b_files[key]) for key in sorted(a_files)]
    for a, b in pairs:
        if _size(a) != _size(b):
            raise GanzooError(f"dataset '{NAME}': {b} is {'x'.join(map(str, _size(b)))} px but its partner {a} is "
                              f"{'x'.join(map(str, _size(a)))}; the two images of a pair must have the same size")
    return pairs


class AlignedPairs(Dataset):
    """``{"A": CxHxW, "B": CxHxW}`` in [-1, 1], the same crop and flip for both."""

    def __init__(self, options: DataOptions) -> None:
        if not options.root:
            raise GanzooError(f"dataset '{NAME}' needs --data-root pointing at a folder with train/ and test/ (side-"
                              "by-side AB images, or A/ and B/ folders of pairs)")
        self.split = split_id(NAME, options.split)
        self.size, self.channels = options.image_size, options.channels or 3
        self.train = options.split == "train"
        self.load_size = options.options["load_size"] or (round(self.size * 286 / 256) if self.train else self.size)
        if not isinstance(self.load_size, int) or self.load_size < self.size:
            raise GanzooError(f"dataset '{NAME}': --data-opt load_size={self.load_size} must be a whole number of "
                              f"pixels, at least --image-size {self.size} (images are resized to it, then cropped)")
        flip = options.options["flip"]
        if not isinstance(flip, bool):
            raise GanzooError(f"dataset '{NAME}': --data-opt flip must be true or false, got {flip!r}")
        self.flip, self.seed = self.train and flip, options.seed
        folder = split_folder(Path(options.root), options.split)
        # (A file, B file), or (AB file, None) for a side-by-side pair
        self.pairs: list[tuple[Path, Path | None]]
        if (folder / "A").is_dir() or (folder / "B").is_dir():
            self.pairs = list(folder_pairs(folder))
        else:
            self.pairs = [(path, None) for path in list_images(folder)]
            if not self.pairs:
                raise GanzooError(f"dataset '{NAME}': no images under {folder}; it needs side-by-side AB images or "
                                  "A/ and B/ folders")
            for path, _ in self.pairs:
                width, height = _size(path)
                if width % 2:
                    raise GanzooError(f"dataset '{NAME}': {path} is {width}x{height} px, an odd width: a side-by-side "
                                      "pair holds A in the left half and B in the right; or use A/ and B/ folders")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = item_rng(self.seed, self.split, index, len(self))
        first, second = self.pairs[index]
        if second is not None:
            a, b = read_image(first, self.channels), read_image(second, self.channels)
        else:
            both = read_image(first, self.channels)
            half = both.shape[-1] // 2
            a, b = both[..., :half], both[..., half:]
        a, b = resize(a, self.load_size), resize(b, self.load_size)
        spare = self.load_size - self.size
        top, left = (int(rng.integers(spare + 1)), int(rng.integers(spare + 1))) if self.train else (spare // 2,) * 2
        flip = self.flip and rng.random() < 0.5
        crops = [x[:, top : top + self.size, left : left + self.size] for x in (a, b)]
        a, b = (x.flip(-1) if flip else x for x in crops)
        return {"A": a, "B": b}


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        NAME,
        DatasetSpec(
            build=AlignedPairs,
            description="Paired images for pix2pix: side-by-side AB images in train/ test/, or train/A train/B "
            "(and test/...) with matching names (options load_size=image_size*286/256, flip=true)",
            channels=3,
            layout="aligned",
            needs_root=True,
            options={"load_size": None, "flip": True},
        ),
    )
