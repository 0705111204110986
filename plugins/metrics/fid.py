"""``fid``: Fréchet distance between Gaussian fits of real and generated classifier features.

The statistics and the matrix square root are torchmetrics'
``FrechetInceptionDistance``; its ``feature=`` module is the domain
classifier's penultimate layer, computed once per image set (see
:class:`ganzoo.metrics.Precomputed`). Lower is better;
identical sets give 0.
"""

from __future__ import annotations

from typing import ClassVar

from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import BATCH, ImageMetric, ImageSet, Precomputed


class FID(ImageMetric):
    description: ClassVar[str] = "Frechet distance of classifier features (torchmetrics FID, custom feature module)"

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        from torchmetrics.image.fid import FrechetInceptionDistance  # torchmetrics takes seconds: only when scoring

        metric = FrechetInceptionDistance(feature=Precomputed(real.features.shape[1]))
        for i in range(0, len(real), BATCH):
            metric.update(real.features[i:i + BATCH], real=True)
        for i in range(0, len(fake), BATCH):
            metric.update(fake.features[i:i + BATCH], real=False)
        return {"fid": float(metric.compute())}


@hookimpl
def register_metrics(register: Register) -> None:
    register("fid", FID)
