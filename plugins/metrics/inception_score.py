"""``is``: Inception Score computed from the domain classifier's logits.

torchmetrics ``InceptionScore`` with the classifier as the feature module:
exp(E KL(p(y|x) || p(y))) over ``splits`` splits. High when every sample is
classified confidently and the classes are used evenly; at most the number of
classes (10 for MNIST).
"""

from __future__ import annotations

import warnings
from typing import ClassVar

from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet, Precomputed


class IS(ImageMetric):
    description: ClassVar[str] = "Inception Score from the classifier's logits (torchmetrics; option splits)"
    needs_real: ClassVar[bool] = False
    splits: int = 10

    def compute(self, real: ImageSet | None, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        from torchmetrics.image.inception import InceptionScore  # torchmetrics takes seconds: only when scoring

        with warnings.catch_warnings():  # "will save all extracted features": they are already in memory
            warnings.simplefilter("ignore")
            metric = InceptionScore(feature=Precomputed(fake.logits.shape[1]), splits=self.splits)
        metric.update(fake.logits)
        mean, std = metric.compute()
        return {"is": float(mean), "is_std": float(std)}


@hookimpl
def register_metrics(register: Register) -> None:
    register("is", IS)
