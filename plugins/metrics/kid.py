"""``kid``: kernel distance (unbiased polynomial-kernel MMD^2) between classifier features.

torchmetrics ``KernelInceptionDistance`` with the domain classifier as the
feature module; unbiased, so it is usable on a few hundred samples where FID
is biased upwards. Mean and standard deviation over ``subsets`` random subsets
of ``subset_size`` (capped by the number of samples). Lower is better.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

from torchmetrics.image.kid import KernelInceptionDistance

from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet, Precomputed


class KID(ImageMetric):
    description: ClassVar[str] = (
        "Kernel distance of classifier features (torchmetrics KID; options subsets, subset_size)"
    )
    subsets: int = 100
    subset_size: int = 1000

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        size = min(self.subset_size, len(real), len(fake))
        with warnings.catch_warnings():  # "will save all extracted features": they are already in memory
            warnings.simplefilter("ignore")
            metric = KernelInceptionDistance(feature=Precomputed(real.features.shape[1]), subsets=self.subsets,
                                             subset_size=size)
        metric.update(real.features, real=True)
        metric.update(fake.features, real=False)
        mean, std = metric.compute()
        return {"kid": float(mean), "kid_std": float(std)}


@hookimpl
def register_metrics(register: Register) -> None:
    register("kid", KID)
