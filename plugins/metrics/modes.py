"""``modes``: which classes the generator produces, and how far its class histogram is from the data's.

The domain classifier labels generated and held-out real images alike (so its
own errors affect both sides); ``modes_covered`` counts classes with at least
``min_count`` generated samples, ``modes_kl`` is KL(generated || real) of the
two class histograms in nats (0 when they match; empty real classes are
floored at ``1e-6`` so the figure stays finite). ``confidence`` is the
classifier's mean top-class probability on generated images, beside
``confidence_real`` on held-out ones: samples a person can name score close to
the real images, blurred or mixed shapes score lower.
"""

from __future__ import annotations

from typing import ClassVar

from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet
from ganzoo_plugins.metrics.histograms import confidence, histogram, kl_divergence


class ModeCoverage(ImageMetric):
    description: ClassVar[str] = ("Classes covered, KL(generated || data) class histograms and the classifier's "
                                   "confidence (option min_count=1)")
    min_count: int = 1

    def compute(self, real: ImageSet, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        num_classes = fake.logits.shape[1]
        fake_counts, real_counts = histogram(fake.labels, num_classes), histogram(real.labels, num_classes)
        return {
            "modes_covered": int((fake_counts >= self.min_count).sum()),
            "modes_total": num_classes,
            "modes_kl": kl_divergence(fake_counts, real_counts),
            "confidence": confidence(fake.logits),
            "confidence_real": confidence(real.logits),
        }


@hookimpl
def register_metrics(register: Register) -> None:
    register("modes", ModeCoverage)
