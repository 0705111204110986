"""The domain feature extractor: a small CNN classifier trained on the dataset itself.

Inception features say little about 28 px digits, so, as is usual for "MNIST
FID", ganzoo trains a small classifier on the dataset and uses its penultimate
layer for FID/KID/precision-recall/density-coverage and its logits for IS and
mode coverage. ``ganzoo features train --dataset mnist`` writes one as
safetensors (through the checkpoint helpers: no pickle, atomic write) with its
dataset, size, channels, classes and held-out accuracy in the metadata.

A stacked dataset (``channels`` > 1 and ``num_classes == k ** channels``, e.g.
Stacked MNIST: 3 digits, 1000 modes) gets a *per-channel* classifier: one digit
net applied to each channel, whose class log-probabilities are summed over the
label grid ``label = sum(d_c * k ** (C - 1 - c))``, the PacGAN/VEEGAN protocol.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import click
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ganzoo
from ganzoo.api import DataOptions, GanzooError, GanzooWarning
from ganzoo.data import held_out_options, read_split
from ganzoo.files import check_writable
from ganzoo.hookspecs import Register, hookimpl
from ganzoo.images import resize
from ganzoo.metrics import FeatureSpec
from ganzoo.runs import SEED

KIND = "ganzoo-classifier"
TRAIN_HINT = ("train one on the run's dataset with `ganzoo features train --dataset NAME --out classifier.safetensors` "
              "(e.g. --dataset shapes; --dataset mnist --data-root ../shared/data/mnist)")


class DigitNet(nn.Module):
    """conv-conv-pool x2, a ``4 * width``-wide penultimate layer, a linear head."""

    def __init__(self, channels: int, num_classes: int, image_size: int, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * (image_size // 4) ** 2, 4 * width), nn.ReLU(True),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)
        return features, self.head(self.dropout(features))


class DomainClassifier(nn.Module):
    """``features(x) -> (N, d)``, ``forward(x) -> logits (N, num_classes)``, ``predict(x) -> labels``.

    Inputs are images in [-1, 1], ``(N, C, H, W)`` at any size: they are resized
    to the classifier's own ``image_size`` with :func:`ganzoo.images.resize`.
    """

    def __init__(self, channels: int, num_classes: int, image_size: int, width: int = 32,
                 per_channel: bool = False, meta: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.channels, self.num_classes, self.image_size = channels, num_classes, image_size
        self.per_channel, self.width = per_channel, width
        self.base_classes = round(num_classes ** (1 / channels)) if per_channel else num_classes
        self.net = DigitNet(1 if per_channel else channels, self.base_classes, image_size, width)
        self.num_features = 4 * width * (channels if per_channel else 1)
        self.meta = meta or {}

    def _prepare(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise GanzooError(
                f"the classifier was trained on {self.channels}-channel images (dataset "
                f"'{self.meta.get('dataset', '?')}'), got a batch of shape {tuple(x.shape)}; "
                "train one for this data with `ganzoo features train --dataset NAME`"
            )
        x = resize(x.float(), self.image_size)  # a no-op at the classifier's own size
        if self.per_channel:  # (N, C, H, W) -> (N*C, 1, H, W): every channel is one digit
            x = x.reshape(-1, 1, self.image_size, self.image_size)
        return x

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Penultimate features and class logits in one pass (what the metrics share)."""
        n = x.shape[0]
        features, logits = self.net(self._prepare(x))
        if not self.per_channel:
            return features, logits
        features = features.reshape(n, -1)
        logp = F.log_softmax(logits, dim=1).reshape(n, self.channels, self.base_classes)
        joint = logp[:, 0]
        for c in range(1, self.channels):  # log p(d_0..d_c) over the label grid, most significant digit first
            joint = (joint[:, :, None] + logp[:, c][:, None, :]).reshape(n, -1)
        return features, joint

    def features(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[1]

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self(x).argmax(dim=1)


def _stacked_base(channels: int, num_classes: int) -> int | None:
    """``k`` when ``num_classes == k ** channels`` for a multi-channel dataset (a stacked dataset)."""
    if channels < 2 or num_classes < 2:
        return None
    k = round(num_classes ** (1 / channels))
    return k if k**channels == num_classes else None


def _digit_view(images: Tensor, labels: Tensor, base: int) -> tuple[Tensor, Tensor]:
    """Split stacked images into single-channel images with one digit label each."""
    n, channels = images.shape[:2]
    powers = base ** torch.arange(channels - 1, -1, -1)
    digits = (labels[:, None] // powers) % base
    return images.reshape(n * channels, 1, *images.shape[2:]), digits.reshape(-1)


@torch.no_grad()
def accuracy(model: DomainClassifier, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    model.eval()
    correct = sum(int((model.predict(images[i:i + batch_size]) == labels[i:i + batch_size]).sum())
                  for i in range(0, len(images), batch_size))
    return correct / len(images)


def train_classifier(dataset_name: str, data_root: str | None, out: str | Path, image_size: int = 28,
                     channels: int | None = None, epochs: float = 3.0, steps: int | None = None,
                     batch_size: int = 64, lr: float = 1e-3, width: int = 32,
                     data_options: dict[str, Any] | None = None, seed: int = 0, limit: int | None = None,
                     progress: bool = False, download: bool = False) -> Path:
    """Train the feature classifier on split "train", report accuracy on split "test", save safetensors.

    ``data_options`` default to :data:`ganzoo.data.HELD_OUT_OPTIONS` where the dataset has them (MNIST:
    first 8000 images train, last 2000 held out; a folder: a fifth held out). ``steps`` overrides ``epochs``;
    ``limit`` caps the images read per split (for quick checks); ``download`` lets the dataset fetch its files.
    """
    options = held_out_options(dataset_name, data_options)
    spec = ganzoo.get("datasets", dataset_name).with_classes(dataset_name, DataOptions(root=data_root,
                                                                                       options=options))
    if not spec.num_classes:
        raise GanzooError(f"dataset '{dataset_name}' has no labels; the feature classifier needs a labelled dataset")
    channels = channels or spec.channels or 3
    torch.manual_seed(seed)
    split = dict(data_root=data_root, image_size=image_size, channels=channels, data_options=options, seed=seed,
                 limit=limit, download=download)
    images, labels = read_split(dataset_name, "train", **split)
    test_images, test_labels = read_split(dataset_name, "test", **split)
    base = _stacked_base(channels, spec.num_classes)
    model = DomainClassifier(channels, spec.num_classes, image_size, width, per_channel=base is not None)
    x, y = _digit_view(images, labels, base) if base else (images, labels)
    steps = steps if steps is not None else max(1, math.ceil(epochs * len(x) / batch_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(len(x), generator=gen), 0
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        if pos + batch_size > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        batch = x[idx]
        # Shift by up to 2 px so generated digits that are slightly off-centre are still read well.
        dy, dx = torch.randint(-2, 3, (2,), generator=gen).tolist()
        batch = torch.roll(batch, shifts=(dy, dx), dims=(2, 3))
        _, logits = model.net(resize(batch, image_size))
        loss = F.cross_entropy(logits, y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if progress and (step + 1) % 100 == 0:
            click.echo(f"step {step + 1}/{steps}  loss {loss.item():.4f}", err=True)
    model.eval()
    acc = accuracy(model, test_images, test_labels)
    meta = {
        "kind": KIND, "dataset": dataset_name, "data_root": data_root, "data_options": options,
        "image_size": image_size, "channels": channels, "num_classes": spec.num_classes, "width": width,
        "per_channel": base is not None, "steps": steps, "batch_size": batch_size, "seed": seed,
        "train_images": len(images), "test_images": len(test_images), "test_accuracy": round(acc, 5),
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    return ganzoo.save_checkpoint(out, model.state_dict(), meta)


def load_classifier(path: str | Path) -> DomainClassifier:
    """Load a classifier written by :func:`train_classifier` (in eval mode, on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise GanzooError(f"classifier '{path}' does not exist; {TRAIN_HINT}")
    try:
        tensors, meta = ganzoo.load_checkpoint(path)
    except GanzooError as exc:
        raise GanzooError(f"--classifier: {exc}. A classifier is the file `ganzoo features train` writes; "
                          f"{TRAIN_HINT}") from None
    if meta.get("kind") != KIND:
        raise GanzooError(f"'{path}' is a ganzoo checkpoint but not a feature classifier; pass the file that "
                          "`ganzoo features train` wrote")
    model = DomainClassifier(meta["channels"], meta["num_classes"], meta["image_size"], meta["width"],
                             meta["per_channel"], meta)
    model.load_state_dict(tensors)
    accuracy, chance = meta.get("test_accuracy"), 1 / meta["num_classes"]
    if isinstance(accuracy, (int, float)) and accuracy < (1 + chance) / 2:  # nearer chance than perfect
        warnings.warn(GanzooWarning(
            f"classifier '{path}' gets only {accuracy:.1%} of held-out images right ({chance:.0%} is chance): its "
            "features barely tell the classes apart, so FID, KID and the other figures it scores mean little; "
            "train it longer (more --epochs, no --limit)"))
    return model.eval()


@hookimpl
def register_features(register: Register) -> None:
    register("classifier", FeatureSpec(
        load_classifier, "The domain classifier `ganzoo features train` writes: --classifier FILE",
        source=lambda path: Path(path).resolve(),
    ))


@hookimpl
def register_commands(cli: Any) -> None:
    @cli.group("features", context_settings=ganzoo.CONTEXT)
    def features() -> None:
        """The domain feature extractor behind FID/KID/IS/PR/DC/mode metrics."""

    @features.command("train")
    @click.option("--dataset", required=True, help="A labelled image dataset (ganzoo list datasets).")
    @click.option("--data-root", help="Directory with the dataset files (e.g. ../shared/data/mnist).")
    @click.option("--out", default="classifier.safetensors", show_default=True, type=click.Path(dir_okay=False))
    @click.option("--image-size", default=28, show_default=True, type=click.IntRange(min=8),
                  help="Side the classifier works at.")
    @click.option("--channels", type=int, help="Image channels. [the dataset's own]")
    @click.option("--epochs", default=3.0, show_default=True, help="Passes over the train split.")
    @click.option("--steps", type=click.IntRange(min=1), help="Optimiser steps (overrides --epochs).")
    @click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
    @click.option("--width", default=32, show_default=True, type=click.IntRange(min=1),
                  help="Base conv width; features are 4x this.")
    @click.option("--seed", default=0, show_default=True, type=SEED)
    @click.option("--limit", type=click.IntRange(min=1), help="Use at most this many images per split (quick checks).")
    @click.option("--data-opt", "data_options", multiple=True, metavar="K=V",
                  help="Dataset option. [mnist: holdout=2000, score on the last 2000; folder: test_fraction=0.2]")
    @click.option("--download", is_flag=True, help="Let the dataset fetch missing files (needs internet).")
    def train(dataset: str, data_root: str | None, out: str, image_size: int, channels: int | None, epochs: float,
              steps: int | None, batch_size: int, width: int, seed: int, limit: int | None,
              data_options: tuple[str, ...], download: bool) -> None:
        """Train the feature classifier on split "train" and report its accuracy on split "test".

        \b
        Example:
          ganzoo features train --dataset mnist --data-root ../shared/data/mnist --out mnist-classifier.safetensors
          ganzoo features train --dataset stacked-mnist --data-root ../shared/data/mnist --out stacked.safetensors
        """
        check_writable(out, "--out")  # before the training, not after it; a run's own file is named as such
        if Path(out).suffix != ".safetensors":
            raise GanzooError(f"--out {out}: a feature classifier is a .safetensors file; name it e.g. "
                              f"{Path(out).with_suffix('.safetensors').name}")
        if Path(out).exists():  # replacing an older classifier is fine (said first), anything else is the user's
            try:
                old = ganzoo.load_checkpoint(out)[1]
            except GanzooError:
                old = {}
            if old.get("kind") != KIND:
                raise GanzooError(f"--out {out} exists and is not a feature classifier; pick another name (this "
                                  "would replace it)")
        if steps is None and not 0 < epochs < math.inf:  # nan too
            raise GanzooError(f"--epochs {epochs}: give a finite number of passes above 0, or --steps")
        if Path(out).exists():
            accuracy = old.get("test_accuracy")
            held_out = f", {accuracy:.2%} held-out accuracy" if isinstance(accuracy, (int, float)) else ""
            warnings.warn(f"--out {out} holds a classifier of '{old.get('dataset')}'{held_out}; this training "
                          "replaces it", GanzooWarning, stacklevel=2)
        path = train_classifier(dataset, data_root, out, image_size, channels, epochs, steps, batch_size,
                                width=width, data_options=ganzoo.parse_options(data_options, "--data-opt"),
                                seed=seed, limit=limit, progress=True, download=download)
        model = load_classifier(path)
        meta = model.meta
        click.echo(f"wrote {path}: {meta['num_classes']} classes, {model.num_features}-d features, "
                   f"held-out accuracy {meta['test_accuracy']:.2%} on {meta['test_images']} images")
