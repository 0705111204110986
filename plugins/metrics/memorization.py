"""``memorization``: are generated images closer to the training set than fresh real images are?

For each generated image, the pixel-space L2 distance to its nearest training
image; the same for each held-out real image. ``memorization_ratio`` is the
ratio of the medians (generated / held-out): well below 1 means samples sit
nearer the training images than unseen data does, a sign of copying (the
privacy question); around 1 or above, no sign of it. ``memorization_copies``
is the share of generated images closer to a training image than the closest
held-out image is to any training image. ``heldout_overlap`` is the share of
held-out images that are exact copies of training images; ``ganzoo eval``
refuses the metric above 1% (e.g. MNIST without ``holdout``), where the check
means nothing.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from ganzoo.api import GanzooError
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet, shared_images

CHUNK = 512


def nearest_distance(query: Tensor, reference: Tensor) -> Tensor:
    """L2 distance from each query image to its nearest reference image (flattened pixels)."""
    ref = reference.flatten(1).double()
    return torch.cat([torch.cdist(q.flatten(1).double(), ref).min(dim=1).values for q in query.split(CHUNK)])


class Memorization(ImageMetric):
    description: ClassVar[str] = "Nearest-training-image distance, generated vs held-out real (ratio < 1: copying)"
    needs_classifier: ClassVar[bool] = False
    needs_train: ClassVar[bool] = True

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        if train is None:
            raise GanzooError("metric 'memorization' needs the training images")
        d_fake = nearest_distance(fake.images, train.images)
        d_real = nearest_distance(real.images, train.images)
        return {
            "memorization_ratio": float(d_fake.median() / d_real.median().clamp_min(1e-12)),
            "nn_dist_generated": float(d_fake.median()),
            "nn_dist_heldout": float(d_real.median()),
            "memorization_copies": float((d_fake < d_real.min()).double().mean()),
            "heldout_overlap": shared_images(real.images, train.images) / len(real.images),
        }


@hookimpl
def register_metrics(register: Register) -> None:
    register("memorization", Memorization)
