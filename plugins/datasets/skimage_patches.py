"""``skimage-patches``: random square crops of the photos and textures bundled with scikit-image.

Real-image statistics with no download: only ``skimage.data`` images that ship
inside the scikit-image wheel are used (others need pooch and the internet).
Crop ``i`` is drawn from ``np.random.default_rng((seed, split, i))``, so it is
always the same for a fixed seed. By default both splits crop every photo;
``test_sources=chelsea,coffee`` keeps those photos for split "test" alone, so a
model is scored on photos it never saw a crop of.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.api import DataOptions, DatasetSpec, GanzooError, item_count, item_rng, split_id
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import from_array, resize

# Bundled in the wheel (checked offline with scikit-image 0.26); the label is the index here.
SOURCES = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "brick", "grass", "gravel", "camera", "moon",
)
CROP_SCALES = {"min_scale": 0.1, "max_scale": 0.5}  # crop side as a fraction of the source's shorter side


def _load_sources() -> list[np.ndarray]:
    import skimage.data  # here, not at the top: listing the plugins imports no scikit-image

    images = []
    for name in SOURCES:
        try:
            images.append(getattr(skimage.data, name)())
        except Exception as exc:  # a broken or stripped scikit-image install
            raise GanzooError(
                f"dataset 'skimage-patches' cannot load skimage.data.{name}() ({type(exc).__name__}: {exc}); "
                "reinstall scikit-image"
            ) from exc
    return images


class SkimagePatches(Dataset):
    """Crops whose side is ``min_scale``-``max_scale`` of the source's shorter side, resized to image_size."""

    def __init__(self, options: DataOptions) -> None:
        self.size = options.image_size
        self.channels = options.channels or 3
        self.seed = options.seed
        self.split = split_id("skimage-patches", options.split)
        self.n = item_count("skimage-patches", options)
        self.min_scale = float(options.options["min_scale"])
        self.max_scale = float(options.options["max_scale"])
        if not 0 < self.min_scale <= self.max_scale <= 1:
            raise GanzooError(
                f"dataset 'skimage-patches' needs 0 < min_scale <= max_scale <= 1, "
                f"got min_scale={self.min_scale}, max_scale={self.max_scale}"
            )
        names = [name.strip() for name in str(options.options["test_sources"]).split(",") if name.strip()]
        unknown = sorted(set(names) - set(SOURCES))
        if unknown or len(set(names)) == len(SOURCES):
            which = f" (unknown: {', '.join(unknown)})" if unknown else ""
            raise GanzooError(f"dataset 'skimage-patches': --data-opt test_sources={','.join(names)} must name some, "
                              f"not all, of {','.join(SOURCES)}{which}")
        images = _load_sources()
        held_out = options.split == "test"
        self.labels = [i for i, name in enumerate(SOURCES) if not names or (name in names) == held_out]
        self.sources = [images[i] for i in self.labels]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = item_rng(self.seed, self.split, index, self.n)
        pick = int(rng.integers(len(self.sources)))
        source, label = self.sources[pick], self.labels[pick]
        height, width = source.shape[:2]
        side = max(1, round(rng.uniform(self.min_scale, self.max_scale) * min(height, width)))
        top, left = int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1))
        crop = source[top : top + side, left : left + side]
        image = resize(from_array(crop, self.channels), self.size)
        return {"image": image, "label": torch.tensor(label, dtype=torch.long)}


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "skimage-patches",
        DatasetSpec(
            build=SkimagePatches,
            description="Random crops of the photos/textures bundled in skimage.data, no download; "
            "label = source image (options n=10000, min_scale=0.1, max_scale=0.5, test_sources= photos kept "
            "for split test alone)",
            channels=3,
            num_classes=len(SOURCES),
            options={"n": 10000, **CROP_SCALES, "test_sources": ""},
        ),
    )
