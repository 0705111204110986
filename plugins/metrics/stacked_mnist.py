"""``stacked-mnist``: modes covered out of 1000 and KL to uniform, the PacGAN/VEEGAN protocol.

Score 26,000 generated samples with a per-channel digit classifier (train it
with ``ganzoo features train --dataset stacked-mnist``); a mode (digit triple)
counts as covered when at least one sample lands in it, and KL(generated ||
uniform) = log 1000 - H(generated) is in nats. Reference figures (PacGAN
Table 3, VEEGAN setting): DCGAN 99 modes / KL 3.40, PacDCGAN2 1000 / 0.06.
The protocol counts the classifier's top class however unsure it is, so noise
can cover hundreds of modes: ``stacked_confidence`` (mean top-class
probability; held-out real stacks score about 0.97) tells digits from noise.
``stacked_kl_digits`` sums each channel's digit frequencies' KL to uniform: the
part of ``stacked_kl`` that comes from some digits being drawn too rarely (it
equals ``stacked_kl`` when the channels are independent).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ganzoo.api import GanzooError
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.metrics import ImageMetric, ImageSet
from ganzoo_plugins.metrics.histograms import confidence, histogram, kl_divergence

MODES = 1000


class StackedMnistModes(ImageMetric):
    description: ClassVar[str] = "Stacked MNIST: modes covered of 1000 and KL to uniform over 26,000 samples"
    num: ClassVar[int | None] = 26000
    needs_real: ClassVar[bool] = False

    def compute(self, real: ImageSet | None, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        if fake.logits.shape[1] != MODES:
            raise GanzooError(
                f"metric 'stacked-mnist' needs a 1000-class per-channel classifier, got {fake.logits.shape[1]} "
                "classes; train one with `ganzoo features train --dataset stacked-mnist`"
            )
        counts = histogram(fake.labels, MODES)
        digits = [fake.labels // 100, fake.labels // 10 % 10, fake.labels % 10]
        return {
            "stacked_modes": int((counts > 0).sum()),
            "stacked_kl": kl_divergence(counts, torch.ones(MODES, dtype=torch.float64)),
            "stacked_kl_digits": sum(kl_divergence(histogram(d, 10), torch.ones(10, dtype=torch.float64))
                                     for d in digits),
            "stacked_samples": len(fake),
            "stacked_confidence": confidence(fake.logits),
        }


@hookimpl
def register_metrics(register: Register) -> None:
    register("stacked-mnist", StackedMnistModes)
