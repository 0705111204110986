"""``kid``: kernel distance (unbiased polynomial-kernel MMD^2) between classifier features.

torchmetrics ``KernelInceptionDistance`` with the domain classifier as the
feature module; unbiased, so it is usable on a few hundred samples where FID
is biased upwards. Lower is better.

Scale: reported x 1000, as ``kid_x1000`` and ``kid_x1000_std`` (the "KID x 10^3"
of papers that report KID on Inception features, e.g. Karras et al. 2020,
StyleGAN2-ADA); torchmetrics and clean-fid return the raw value, 1000 times
smaller. Values depend on the feature net: one classifier's are comparable
among themselves, not with another's or with Inception's.

Mean and standard deviation over ``subsets`` random subsets of ``subset_size``
samples, capped at half the smaller set so the subsets differ and the standard
deviation says how much the estimate moves with the samples drawn (a subset as
large as the set is the same set every time: a std of zero that means nothing).
The mean is unbiased at any subset size. Below 4 samples there are no two
distinct subsets of 2: the std is left out, with a warning.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

from ganzoo.api import GanzooWarning
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet, Precomputed

SCALE = 1000.0


class KID(ImageMetric):
    description: ClassVar[str] = (
        "Kernel distance of classifier features x 1000 (torchmetrics KID; options subsets, subset_size)"
    )
    subsets: int = 100
    subset_size: int = 1000

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        from torchmetrics.image.kid import KernelInceptionDistance  # torchmetrics takes seconds: only when scoring

        n = min(len(real), len(fake))
        size = min(self.subset_size, n // 2)
        spread = size >= 2
        if not spread:
            size = n
            warnings.warn(f"kid: {n} samples are too few for distinct subsets, so kid_x1000_std is left out; "
                          "pass a larger -n", GanzooWarning, stacklevel=2)
        with warnings.catch_warnings():  # "will save all extracted features": they are already in memory
            warnings.simplefilter("ignore")
            metric = KernelInceptionDistance(feature=Precomputed(real.features.shape[1]), subsets=self.subsets,
                                             subset_size=size)
        metric.update(real.features, real=True)
        metric.update(fake.features, real=False)
        mean, std = metric.compute()
        return {"kid_x1000": SCALE * float(mean), **({"kid_x1000_std": SCALE * float(std)} if spread else {})}


@hookimpl
def register_metrics(register: Register) -> None:
    register("kid", KID)
