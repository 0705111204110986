"""``pr`` and ``dc``: k-nearest-neighbour manifold metrics on classifier features.

* Precision/recall (Kynkäänniemi et al. 2019, k=3): a sample lies on a set's
  manifold when it is inside some member's ball reaching to that member's k-th
  nearest neighbour in the set. Precision: share of generated samples on the
  real manifold (fidelity); recall: share of real samples on the generated
  manifold (diversity).
* Density/coverage (Naeem et al. 2020, k=5 as they recommend): density counts
  how many real balls hold each generated sample, divided by k (about 1 when
  the two sets match, and not fooled by outliers in the real set); coverage is
  the share of real balls holding at least one generated sample.

No well-kept library implements these for arbitrary features, so they are
here, in a few lines over ``torch.cdist`` done in chunks so 26,000 samples fit
in memory.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet

CHUNK = 1024


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each point to its k-th nearest neighbour among the others."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} points, got {len(x)}")
    return torch.cat([torch.cdist(x[i:i + CHUNK], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), CHUNK)])


def ball_counts(query: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """For each query point, how many of the balls (centres, radii) contain it."""
    return torch.cat([(torch.cdist(query[i:i + CHUNK], centres) <= radii[None, :]).sum(dim=1)
                      for i in range(0, len(query), CHUNK)])


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    real, fake = real.double(), fake.double()
    precision = (ball_counts(fake, real, knn_radii(real, k)) > 0).double().mean()
    recall = (ball_counts(real, fake, knn_radii(fake, k)) > 0).double().mean()
    return float(precision), float(recall)


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[float, float]:
    real, fake = real.double(), fake.double()
    radii = knn_radii(real, k)
    density = ball_counts(fake, real, radii).double().sum() / (k * len(fake))
    nearest_fake = torch.cat([torch.cdist(real[i:i + CHUNK], fake).min(dim=1).values
                              for i in range(0, len(real), CHUNK)])
    coverage = (nearest_fake <= radii).double().mean()
    return float(density), float(coverage)


class PrecisionRecall(ImageMetric):
    description: ClassVar[str] = "Precision/recall of classifier features (Kynkaanniemi 2019; option k=3)"
    k: int = 3

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        precision, recall = precision_recall(real.features, fake.features, self.k)
        return {"precision": precision, "recall": recall}


class DensityCoverage(ImageMetric):
    description: ClassVar[str] = "Density/coverage of classifier features (Naeem 2020; option k=5)"
    k: int = 5

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        density, coverage = density_coverage(real.features, fake.features, self.k)
        return {"density": density, "coverage": coverage}


@hookimpl
def register_metrics(register: Register) -> None:
    register("pr", PrecisionRecall)
    register("dc", DensityCoverage)
