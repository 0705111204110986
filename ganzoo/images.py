"""Image I/O in one place: decoding, channel conversion, resizing and writing grids.

Every dataset and every sample writer goes through these helpers so that all
images in ganzoo follow one convention: float tensors ``C x H x W`` in [-1, 1].
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .api import GanzooError, GanzooWarning
from .files import writing

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
# ITU-R 709 luma, the weights skimage.color.rgb2gray uses.
LUMA = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


def from_array(array: np.ndarray, channels: int | None = None) -> Tensor:
    """Turn a decoded image (HxW, HxWxC, any dtype) into a float CxHxW tensor in [-1, 1].

    Integers are scaled by their dtype's maximum, floats and booleans are taken
    as [0, 1] (the skimage convention). Alpha is dropped; ``channels`` converts
    gray to RGB (by repetition) or RGB to gray (by luma); ``None`` keeps 1 or 3.
    """
    if channels not in (None, 1, 3):
        raise GanzooError(f"images have 1 or 3 channels, not {channels}")
    data = array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        data /= np.iinfo(array.dtype).max
    data = np.clip(data, 0.0, 1.0)
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise GanzooError(f"expected an image of shape HxW or HxWxC, got {array.shape}")
    if data.shape[2] in (2, 4):  # gray+alpha or RGB+alpha
        data = data[:, :, :-1]
    if data.shape[2] not in (1, 3):
        raise GanzooError(f"cannot interpret an image with {array.shape[2]} channels")
    if channels == 1 and data.shape[2] == 3:
        data = (data @ LUMA)[:, :, None]
    elif channels == 3 and data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(data.transpose(2, 0, 1))) * 2.0 - 1.0


def _bad_image(path: Path, exc: BaseException) -> GanzooError:
    reason = (str(exc).strip().splitlines() or [""])[0]  # decoders append multi-line install hints
    return GanzooError(f"cannot read image {path} ({type(exc).__name__}: {reason}). Fix or remove the file.")


def read_image(path: str | Path, channels: int | None = None) -> Tensor:
    """Decode an image file to a float CxHxW tensor in [-1, 1] (see :func:`from_array`).

    Animated GIFs and multi-page TIFFs give their first frame.
    """
    import skimage.io  # here, not at the top: loading the plugins (ganzoo list) needs no scikit-image

    path = Path(path)
    try:
        array = skimage.io.imread(path)
        if array.ndim == 4:
            array = array[0]
        return from_array(array, channels)
    except Exception as exc:  # decoders raise anything from OSError to ValueError
        raise _bad_image(path, exc) from exc


def verify_image(path: str | Path) -> int:
    """Cheaply check that a file is a readable image (header and checksums, no full decode).

    Returns its native channel count after :func:`read_image` drops alpha (1 or 3),
    so a folder of grayscale scans is not silently tripled to RGB.
    """
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as image:
            mode = image.mode
            image.verify()
    except Exception as exc:
        raise _bad_image(path, exc) from exc
    return 1 if mode in _GRAY_MODES else 3


def warn_if_transparent(paths: list[Path]) -> None:
    """Warn once when input images carry alpha (headers only): :func:`read_image` drops it, so a transparent
    pixel shows whatever colour is stored under it, and outputs are opaque."""
    from PIL import Image

    transparent = []
    for path in paths:
        try:
            with Image.open(path) as image:
                if image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in image.info:
                    transparent.append(path)
        except Exception:  # unreadable: read_image says why, in its turn
            continue
    if transparent:
        warnings.warn(f"{len(transparent)} of {len(paths)} input image(s) (e.g. {transparent[0]}) have an alpha "
                      "channel: it is dropped, so transparent pixels show the colour stored under them (often black) "
                      "and the outputs are opaque; flatten them onto a background first if that matters",
                      GanzooWarning, stacklevel=3)


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive, sorted); hidden files and folders are ignored.

    Hidden entries are skipped because they are usually tool debris (``._x.jpg``
    from macOS, ``.ipynb_checkpoints``) rather than training data.
    """
    root = Path(root)
    if not root.is_dir():
        raise GanzooError(f"image folder {root} does not exist or is not a directory; check --data-root")
    return sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def resize(image: Tensor, size: int) -> Tensor:
    """Scale the shorter side to ``size`` and centre-crop to ``size x size``.

    Works on CxHxW or BxCxHxW. Bilinear with antialiasing, so downscaling large
    photos does not alias; the result stays in [-1, 1].
    """
    height, width = image.shape[-2:]
    if height == width == size:
        return image
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(batch.float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = out[..., top : top + size, left : left + size].clamp(-1.0, 1.0)
    return out if image.dim() == 4 else out[0]


def to_uint8(images: Tensor) -> np.ndarray:
    """A CxHxW tensor in [-1, 1] as an HxWxC (or HxW for one channel) uint8 array."""
    if images.dim() != 3:
        raise GanzooError(f"to_uint8 expects one CxHxW image, got shape {tuple(images.shape)}")
    data = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    array = data.permute(1, 2, 0).numpy()
    return array[:, :, 0] if array.shape[2] == 1 else array


LOSSLESS = (".png", ".tif", ".tiff", ".bmp")


def save_image(image: Tensor, path: str | Path) -> Path:
    """Write one CxHxW image in [-1, 1] (format from the suffix; creates parent folders).

    Only lossless formats: a JPEG would alter the known pixels an inpainting keeps exactly.
    """
    import skimage.io

    path = Path(path)
    if path.suffix.lower() not in LOSSLESS:
        raise GanzooError(f"cannot write image '{path}': ganzoo writes lossless {', '.join(LOSSLESS)} files; "
                          f"name it {path.stem or 'images'}.png")
    with writing(path):  # a full or read-only disk: one error line naming the file
        path.parent.mkdir(parents=True, exist_ok=True)
        skimage.io.imsave(path, to_uint8(image), check_contrast=False)
    return path


def save_grid(
    images: Tensor, path: str | Path, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0
) -> Path:
    """Tile BxCxHxW images in [-1, 1] into one image a person can look at.

    ``nrow`` images per row (default: a square-ish grid); white padding by
    default so dark images (MNIST) stay distinguishable. One-channel batches
    are written as a grayscale image.
    """
    from torchvision.utils import make_grid  # torchvision imports torch._dynamo: seconds, so only when drawing

    if images.dim() != 4:
        raise GanzooError(f"save_grid expects BxCxHxW images, got shape {tuple(images.shape)}")
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding, pad_value=pad_value)
    if images.shape[1] == 1:
        grid = grid[:1]
    return save_image(grid, path)
