"""``style-benchmark``: an offline translation benchmark with ground truth, B = f(A) for a known filter f.

Domain A is ``skimage-patches`` (crops of the photos bundled with scikit-image);
domain B is A passed through :func:`style_filter`, a colour grade (hue rotation,
warm cast, tone curve) followed by an unsharp mask, so it changes texture and is
not a per-pixel colour map. Both parts are invertible up to clipping, so the
way back (B -> A) is well posed too.

Train split: the ``n`` patches are cut in two halves; A comes from the first
half and B is f of a patch from the second half (drawn at random per item), so
no (a, f(a)) pair is ever seen in training. Test split: ``n_test`` held-out
patches (the skimage-patches test split) as aligned pairs (a, f(a)); the
dataset says so with ``aligned_pairs = True`` and the ``cyclegan`` task scores
on them. Held-out crops come from the same eleven source photos as the
training crops, so their content may overlap; the pairs never do.
Options: ``n=2000``, ``n_test=256``, ``min_scale``, ``max_scale`` (as in skimage-patches).

``style-benchmark-aligned`` is the same benchmark for paired training
(``pix2pix``; layout ``aligned``): train item i is the pair (a_i, f(a_i)) of the
same first-half patch a_i whose A the unpaired train split serves, and the
test split is the same held-out pairs, so both score on identical pairs.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

import ganzoo
from ganzoo.api import DataOptions, DatasetSpec, GanzooError
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import from_array

# The skimage-patches options it passes on, and the benchmark's own values (its recorded results depend on them).
CROP_SCALES = {"min_scale": 0.1, "max_scale": 0.5}
HUE_DEGREES = 45.0
WARM = np.diag([1.08, 1.0, 0.85])
OFFSET = np.array([0.02, 0.0, 0.04])
GAMMA = 0.7
SHARPEN_RADIUS, SHARPEN_AMOUNT = 1.0, 1.5


def _colour_matrix() -> np.ndarray:
    """Rotation about the grey axis by HUE_DEGREES (keeps greys grey), then a warm per-channel gain."""
    theta, axis = np.deg2rad(HUE_DEGREES), np.ones(3) / np.sqrt(3)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.cos(theta) * np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * np.outer(axis, axis)
    return WARM @ rotation


COLOUR = _colour_matrix()


def style_filter(image: Tensor) -> Tensor:
    """The benchmark's known style f: a 3xHxW image in [-1, 1] to its styled version, deterministic."""
    if image.dim() != 3 or image.shape[0] != 3:
        raise GanzooError(f"style_filter expects one RGB image 3xHxW, got shape {tuple(image.shape)}")
    from skimage.exposure import adjust_gamma  # scikit-image's filters import scipy: only when styling
    from skimage.filters import unsharp_mask

    rgb = (image.permute(1, 2, 0).double().numpy() + 1) / 2
    graded = np.clip(rgb @ COLOUR.T + OFFSET, 0, 1)
    toned = adjust_gamma(graded, GAMMA)
    # channel_axis=2, not -1: scikit-image <= 0.26 slices the wrong axis for a negative one (issue #7264).
    styled = unsharp_mask(toned, radius=SHARPEN_RADIUS, amount=SHARPEN_AMOUNT, channel_axis=2)
    return from_array(np.clip(styled, 0, 1)).to(image.dtype)


class StyleBenchmark(Dataset):
    """Train: unpaired ``{"A": a, "B": f(a')}`` from disjoint halves (``paired``: ``{"A": a, "B": f(a)}``);
    test: aligned ``{"A": a, "B": f(a)}``."""

    def __init__(self, options: DataOptions, paired: bool = False) -> None:
        if options.channels not in (None, 3):
            raise GanzooError("dataset 'style-benchmark' is RGB (its filter grades colour); use --channels 3")
        self.train = options.split == "train"
        count = int(options.options["n"] if self.train else options.options["n_test"])
        if count < (2 if self.train else 1):
            raise GanzooError(f"dataset 'style-benchmark' needs n >= 2 and n_test >= 1, got {count}")
        patch_options = {k: options.options[k] for k in CROP_SCALES}
        self.patches = ganzoo.get("datasets", "skimage-patches").load(
            "skimage-patches", dataclasses.replace(options, channels=3, options={**patch_options, "n": count})
        )
        self.seed = options.seed
        self.half = count // 2
        self.aligned_pairs = paired or not self.train

    def __len__(self) -> int:
        return self.half if self.train else len(self.patches)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        a = self.patches[index]["image"]
        if self.aligned_pairs:
            return {"A": a, "B": style_filter(a)}
        return {"A": a, "B": style_filter(self.patches[self.b_source(index)]["image"])}

    def b_source(self, index: int) -> int:
        """The patch (in the second half) that train item ``index``'s B image is made from."""
        return self.half + int(np.random.default_rng((self.seed, 2, index)).integers(self.half))


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "style-benchmark",
        DatasetSpec(
            build=StyleBenchmark,
            description="Offline translation benchmark: A = skimage.data crops, B = A through a known colour+"
            "sharpen filter; train on disjoint halves, test on aligned pairs (options n=2000, n_test=256)",
            channels=3,
            layout="unaligned",
            options={"n": 2000, "n_test": 256, **CROP_SCALES},
        ),
    )
    register(
        "style-benchmark-aligned",
        DatasetSpec(
            build=partial(StyleBenchmark, paired=True),
            description="style-benchmark as pairs for pix2pix: train (a, f(a)) on the first half's patches, test on "
            "the same held-out pairs (options n=2000, n_test=256)",
            channels=3,
            layout="aligned",
            options={"n": 2000, "n_test": 256, **CROP_SCALES},
        ),
    )
