"""``stacked-mnist``: three independent MNIST digits in the R, G and B channels (1000 modes).

The mode-collapse benchmark of Metz et al. (Unrolled GAN), VEEGAN and PacGAN:
label ``100 * d_R + 10 * d_G + d_B``, so a generator that covers every mode
produces all 1000 digit triples evenly. Item ``i`` picks its three digits with
``np.random.default_rng((seed, split, i))``, so it is the same on every call.
Digits come from the ``mnist`` plugin (same files, same ``holdout`` option:
"train" stacks the first N - holdout images, "test" the last ``holdout``).
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

import ganzoo
from ganzoo.api import DataOptions, DatasetSpec, GanzooError, item_count, item_rng, split_id
from ganzoo.hookspecs import Register, hookimpl

CHANNELS = 3


class StackedMnist(Dataset):
    """3-channel stacks of MNIST digits; option ``n`` (default 60000) items per split."""

    def __init__(self, options: DataOptions) -> None:
        self.seed, self.split = options.seed, split_id("stacked-mnist", options.split)
        if options.channels not in (None, CHANNELS):
            raise GanzooError(f"dataset 'stacked-mnist' has 3 channels (one digit each), not --channels "
                              f"{options.channels}; drop --channels")
        digits = ganzoo.get("datasets", "mnist").load("mnist", DataOptions(
            root=options.root, image_size=options.image_size, channels=1, split=options.split, seed=options.seed,
            download=options.download, options={"holdout": options.options["holdout"]}))
        # Prepared once: a stack is three lookups, not three decodes (data was a third of a PacGAN step).
        items = [digits[i] for i in range(len(digits))]
        self.images = torch.stack([item["image"] for item in items])
        self.labels = [int(item["label"]) for item in items]
        self.n = item_count("stacked-mnist", options)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = item_rng(self.seed, self.split, index, self.n)
        picks = rng.integers(len(self.images), size=CHANNELS).tolist()
        label = sum(self.labels[j] * 10 ** (CHANNELS - 1 - c) for c, j in enumerate(picks))
        return {"image": self.images[picks].flatten(0, 1), "label": torch.tensor(label)}


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "stacked-mnist",
        DatasetSpec(
            build=StackedMnist,
            description="Stacked MNIST: 3 MNIST digits in the RGB channels, 1000 modes (options n=60000, holdout=N)",
            channels=CHANNELS,
            num_classes=10**CHANNELS,
            needs_root=True,
            default_root=lambda: ganzoo.get("datasets", "mnist").root(),  # its digits' files
            options={"n": 60000, "holdout": 0},
        ),
    )
