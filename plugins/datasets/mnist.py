"""``mnist``: handwritten digits read straight from the IDX files (gzipped or not).

No download is assumed: the files are looked for in ``--data-root``, else
``$GANZOO_MNIST_ROOT``, else ``../shared/data/mnist``, and also in the
``MNIST/raw`` folder torchvision would create there. ``--download`` fetches them
with torchvision when they are missing. The ``holdout`` option keeps the last N
images of the training source out of "train" and serves them as "test", so a
machine that has only the 10,000 t10k images can still evaluate on unseen ones.
``train_size=N`` trains on the first N of the rest (small-data experiments).
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, GanzooWarning
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import from_array, resize

DEFAULT_ROOT = "../shared/data/mnist"
ENV_ROOT = "GANZOO_MNIST_ROOT"
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
PREFIXES = {"train": "train", "test": "t10k"}


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes, checking the magic number and the size against the header."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise GanzooError(f"cannot read MNIST file {path}: {exc}; the file is corrupt, download it again") from exc
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic or len(raw) < header:
        shown = "none" if found is None else f"0x{found:08x}"
        raise GanzooError(f"{path} is not an MNIST IDX file: magic number {shown}, expected 0x{magic:08x}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise GanzooError(
            f"MNIST file {path} is truncated or corrupt: header says {dims} ({expected} bytes), "
            f"found {len(raw) - header} bytes; download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory: Path, prefix: str) -> tuple[Path, Path] | None:
    """The (images, labels) pair for ``prefix`` in ``directory`` or its torchvision ``MNIST/raw`` folder."""
    for folder in (directory, directory / "MNIST" / "raw"):
        pair = []
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            candidates = [folder / f"{prefix}-{kind}{ext}" for ext in ("", ".gz")]
            pair.append(next((p for p in candidates if p.is_file()), None))
        if all(pair):
            return pair[0], pair[1]
    return None


def default_root() -> str:
    """Where the files are when a run gives no --data-root (a run records it; see DatasetSpec)."""
    return os.environ.get(ENV_ROOT) or DEFAULT_ROOT


def _root(options: DataOptions) -> Path:
    return Path(options.root or default_root())


def _load_pair(root: Path, prefix: str, download: bool) -> tuple[np.ndarray, np.ndarray] | None:
    pair = _find(root, prefix)
    if pair is None and download:
        from torchvision.datasets import MNIST as TorchvisionMNIST  # torchvision takes seconds: only to download

        try:
            TorchvisionMNIST(str(root), train=prefix == "train", download=True)
        except (RuntimeError, OSError) as exc:
            detail = " ".join(str(exc).split())  # one line: torchvision lists each mirror's failure on its own lines
            raise GanzooError(
                f"dataset 'mnist': download into {root} failed ({type(exc).__name__}: {detail}); "
                "check the internet connection, or fetch the files yourself and point --data-root at them"
            ) from exc
        pair = _find(root, prefix)
    if pair is None:
        return None
    images, labels = read_idx(pair[0], IMAGES_MAGIC), read_idx(pair[1], LABELS_MAGIC)
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise GanzooError(
            f"MNIST files {pair[0]} and {pair[1]} do not match: {images.shape} images, {len(labels)} labels"
        )
    if labels.max(initial=0) > 9:
        raise GanzooError(f"MNIST labels in {pair[1]} go up to {labels.max()}, expected 0-9; the file is corrupt")
    return images, labels


def _missing(root: Path) -> GanzooError:
    where = f"{root.resolve()}" + ("" if root.is_dir() else " (the directory does not exist)")
    return GanzooError(
        f"MNIST files not found in {where}: expected train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] "
        "and/or t10k-images-idx3-ubyte[.gz] + t10k-labels-idx1-ubyte[.gz] (also looked in MNIST/raw there). "
        f"Point --data-root (or ${ENV_ROOT}) at the folder holding them, or pass --download (needs internet)."
    )


_WARNED: set[str] = set()  # the warnings this process has given


def _warn_once(message: str) -> None:
    """Each warning once per process: a run with --eval-every reads the test split at every evaluation, and a
    bench builds the training split once per row."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, GanzooWarning, stacklevel=4)


def _load_split(options: DataOptions, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """The source a split is cut from: t10k for "test" without holdout, else train-* (t10k if absent)."""
    root = _root(options)
    if options.split == "test" and not holdout:
        loaded = _load_pair(root, "t10k", options.download)
        if loaded is not None and _find(root, "train") is None:
            _warn_once(f"mnist: no train-* files in {root}, so 'test' is the t10k files a run here trains on: "
                       "scores on it measure fit, not unseen digits; train with --data-opt holdout=2000 to keep "
                       "2000 apart")
    else:
        loaded = _load_pair(root, "train", options.download)
        if loaded is None:
            loaded = _load_pair(root, "t10k", options.download)
        if loaded is not None and options.split == "train" and _find(root, "train") is None:
            kept = f"the last {holdout} are kept for 'test'" if holdout else "option holdout=N keeps N for 'test'"
            _warn_once(f"mnist: no train-* files in {root}; training on the t10k files ({kept})")
    if loaded is None:
        raise _missing(root)
    return loaded


class Mnist(Dataset):
    """28x28 gray digits, resized when image_size is not 28; labels 0-9."""

    def __init__(self, options: DataOptions) -> None:
        if options.split not in PREFIXES:
            raise GanzooError(f"dataset 'mnist' has splits {', '.join(PREFIXES)}, not '{options.split}'")
        holdout = int(options.options["holdout"])
        images, labels = _load_split(options, holdout)
        if not 0 <= holdout < len(images):
            raise GanzooError(f"mnist: holdout must be between 0 and {len(images) - 1}, got {holdout}")
        cut = len(images) - holdout
        size = int(options.options["train_size"])
        if not 0 <= size <= cut:
            raise GanzooError(f"mnist: train_size must be between 0 (all) and {cut}, got {size}")
        if options.split == "test":  # train_size limits training only
            keep = slice(cut, None) if holdout else slice(0, cut)
        else:
            keep = slice(0, size or cut)
        self.images = torch.from_numpy(images[keep].copy())
        self.labels = torch.from_numpy(labels[keep].astype(np.int64))
        self.size = options.image_size
        self.channels = options.channels or 1

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image = resize(from_array(self.images[index].numpy(), self.channels), self.size)
        return {"image": image, "label": self.labels[index]}


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "mnist",
        DatasetSpec(
            build=Mnist,
            description="MNIST digits from the IDX files in --data-root (train-* or t10k-*; options holdout=N, "
            "train_size=N: the first N training digits only)",
            channels=1,
            num_classes=10,
            needs_root=True,
            default_root=default_root,
            options={"holdout": 0, "train_size": 0},
        ),
    )
