"""The metric protocol and the evaluation pipeline for generated images (public API).

A metric plugin subclasses :class:`ImageMetric`: it gets the real (held-out),
generated and, when it asks for them, training images as :class:`ImageSet`
objects and returns a flat dict of numbers. A task scores its generator with
:func:`evaluate_generator`, which samples it, reads the held-out split, embeds
every set once and runs the chosen metrics.

Why the pipeline is core and the feature nets are plugins: the pipeline is
orchestration (sampling, caching, the held-out check, seeding), which every
task and every third-party metric shares, so it must not live in a built-in
plugin that they would have to import. The networks that turn images into
features (the domain classifier that ``ganzoo features train`` fits, the FID
Inception net) are model code, which the core never holds: they are
registered as the ``features`` kind (:class:`FeatureSpec`), and the pipeline
finds the one a ``--classifier`` value names through the registry (see
:func:`feature_net`). A third party adds a feature space the same way.

Features and logits are computed once per image set and shared by all metrics
(FID, KID, IS, PR, DC and mode counts read the same pass), and the real sets
are cached between calls so ``ganzoo bench`` can score a run many times over
its training without re-reading the data.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .api import FeatureSpec, GanzooError, GanzooWarning, Metric, StepContext, set_options
from .data import read_split
from .registry import get_registry

__all__ = [
    "BATCH", "DEFAULT_METRICS", "FeatureSpec", "ImageMetric", "ImageSet", "Precomputed", "embed",
    "evaluate_generator", "feature_net", "resolve_metrics", "score", "shared_images",
]

DEFAULT_METRICS = ("fid", "kid", "is", "pr", "dc", "modes")
DEFAULT_NUM = 2000
BATCH = 500  # images per forward pass of a feature net, and per torchmetrics update
OVERLAP_TOLERANCE = 0.01  # held-out images also trained on that make training-set comparisons meaningless
FILE_FEATURES = "classifier"  # the feature extractor a --classifier value that names none is a file for


@dataclass
class ImageSet:
    """Images in [-1, 1] on the CPU, with the feature net's features and logits when there is one."""

    images: Tensor
    features: Tensor | None = None
    logits: Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labels(self) -> Tensor:
        """The feature net's predicted class of every image."""
        return self.logits.argmax(dim=1)


class ImageMetric(Metric):
    """A metric of generated images against real ones.

    ``needs_classifier``: reads ``features``/``logits`` (a feature net);
    ``needs_real``: compares with held-out real images (else ``real`` is None);
    ``needs_train``: also gets the training images; ``num``: the number of
    generated samples its protocol prescribes (``None``: the caller's choice).
    Options come from ``--metric-opt name.key=value`` and must be class attributes;
    an option ``k`` means k nearest neighbours (see :meth:`min_samples`).
    """

    needs_classifier: ClassVar[bool] = True
    needs_real: ClassVar[bool] = True
    needs_train: ClassVar[bool] = False
    num: ClassVar[int | None] = None

    def __init__(self, **options: Any) -> None:
        set_options(self, "--metric-opt", "metric", options)

    def min_samples(self) -> int:
        """The fewest generated images the metric is defined on: 2 (a spread needs two), k + 1 with neighbours."""
        return max(2, getattr(self, "k", 0) + 1)

    def compute(self, real: ImageSet | None, fake: ImageSet, train: ImageSet | None = None) -> dict[str, float]:
        """The metric's figures for one generated set (a flat dict of numbers)."""
        raise NotImplementedError


class Precomputed(nn.Module):
    """The ``feature=`` module handed to torchmetrics: features arrive already computed.

    torchmetrics calls ``feature(x)`` on whatever ``update`` gets and expects
    ``(N, d)``; ``num_features`` spares it a dummy forward pass.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x.double()


def _feature_key(spec: str | Path) -> tuple[str, str, str, float]:
    """(extractor name, its argument, the file it reads, that file's mtime) for a ``--classifier`` value."""
    value = str(spec)
    name, _, arg = value.partition(":")
    registry = get_registry()
    if not any(entry.name == name for entry in registry.list("features")):
        name, arg = FILE_FEATURES, value
    source = registry.get("features", name).source
    path = source(arg) if source else None
    mtime = path.stat().st_mtime if path is not None and path.is_file() else 0.0
    return name, arg, str(path or ""), mtime


def classifier_record(spec: str) -> str:
    """A ``--classifier`` value as provenance records it: a file's path made absolute, ``inception[:PATH]`` as is."""
    name, arg, _, _ = _feature_key(spec)
    if name == FILE_FEATURES:
        return str(Path(arg).resolve())
    return f"{name}:{Path(arg).resolve()}" if arg else spec


@lru_cache(maxsize=4)
def _cached_net(name: str, arg: str, source: str, mtime: float) -> nn.Module:
    return get_registry().get("features", name).load(arg)


def feature_net(spec: str | Path) -> nn.Module:
    """The feature net a ``--classifier`` value names: a ``ganzoo features train`` file or ``inception[:PATH]``.

    Loaded once and cached while its file is unchanged; see :class:`FeatureSpec` for its interface.
    """
    return _cached_net(*_feature_key(spec))


@torch.no_grad()
def embed(images: Tensor, net: nn.Module | None, device: torch.device) -> ImageSet:
    """Features and logits of ``images`` from a feature net in batches (on ``device``), kept on the CPU."""
    if net is None:
        return ImageSet(images)
    net = net.to(device).eval()
    batch = getattr(net, "batch_size", BATCH)
    feats, logits = [], []
    for i in range(0, len(images), batch):
        f, lg = net.features_and_logits(images[i:i + batch].to(device))
        feats.append(f.float().cpu())
        logits.append(lg.float().cpu())
    return ImageSet(images, torch.cat(feats), torch.cat(logits))


def shared_images(images: Tensor, others: Tensor) -> int:
    """How many of ``images`` are pixel-for-pixel copies of one of ``others``."""
    seen = {hash(other.numpy().tobytes()) for other in others}
    return sum(hash(image.numpy().tobytes()) in seen for image in images)


def check_heldout(metrics: dict[str, ImageMetric], dataset: str, real: ImageSet, train: ImageSet) -> None:
    """Refuse training-set comparisons when the "held-out" images were trained on; warn when only a few were."""
    shared = shared_images(real.images, train.images)
    names = ", ".join(n for n, m in metrics.items() if m.needs_train)
    if shared > OVERLAP_TOLERANCE * len(real):
        fix = ("retrain with --data-opt holdout=2000, which keeps the last 2000 images out of training"
               if "holdout" in get_registry().get("datasets", dataset).options
               else "use a dataset whose 'test' split holds images the run was not trained on")
        raise GanzooError(f"{shared} of the {len(real)} held-out '{dataset}' images are also in the training split, "
                          f"so {names} cannot tell copying from generalising and its figures mean nothing; {fix}")
    if shared:
        warnings.warn(f"{shared} of the {len(real)} held-out '{dataset}' images are also training images; "
                      f"{names} figures are slightly off", GanzooWarning, stacklevel=3)


@lru_cache(maxsize=4)
def _cached_real(dataset: str, root: str | None, split: str, size: int, channels: int, options: str, seed: int,
                 skip_bad_images: bool, limit: int | None, classifier: tuple[str, str, str, float] | None,
                 device: str) -> ImageSet:
    images, _ = read_split(dataset, split, data_root=root, image_size=size, channels=channels,
                           data_options=json.loads(options), seed=seed, skip_bad_images=skip_bad_images, limit=limit)
    return embed(images, _cached_net(*classifier) if classifier else None, torch.device(device))


def real_images(config: Any, split: str, data_root: str | None, limit: int | None, classifier: str | None,
                device: torch.device) -> ImageSet:
    """A split of the run's own dataset at the run's size and channels, embedded, cached."""
    return _cached_real(config.dataset, data_root or config.data_root, split, config.image_size, config.channels,
                        json.dumps(config.data_options, sort_keys=True), config.seed,
                        bool(getattr(config, "skip_bad_images", False)), limit,
                        _feature_key(classifier) if classifier else None, str(device))


def heldout_floor(config: Any, num: int, classifier: str, metrics: str = "fid",
                  device: torch.device = torch.device("cpu")) -> dict[str, float]:
    """What a perfect generator scores: ``num`` real training images against the ``num`` held-out ones that
    every evaluation of a run with this ``config`` compares with (its dataset, options, size and channels)."""
    held_out = real_images(config, "test", None, num, classifier, device)
    train = real_images(config, "train", None, num, classifier, device)
    return score(resolve_metrics(metrics), held_out, train, None, config.seed)


def resolve_metrics(names: list[str] | tuple[str, ...] | str | None,
                    options: dict[str, Any] | None = None) -> dict[str, ImageMetric]:
    """Metric objects by name (None: :data:`DEFAULT_METRICS`); ``options`` maps ``name.key`` to a value."""
    if names is None:
        names = DEFAULT_METRICS
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    per_metric: dict[str, dict[str, Any]] = {}
    for key, value in (options or {}).items():
        name, sep, option = key.partition(".")
        if not sep:
            raise GanzooError(f"--metric-opt expects NAME.KEY=VALUE (e.g. kid.subset_size=500), got '{key}'")
        per_metric.setdefault(name.replace("_", "-"), {})[option.replace("-", "_")] = value
    registry = get_registry()
    metrics = {name.strip(): registry.get("metrics", name.strip())(**per_metric.pop(name.strip(), {}))
               for name in names}
    if per_metric:
        raise GanzooError(f"--metric-opt for {', '.join(per_metric)}, which is not in --metrics {','.join(metrics)}")
    return metrics


def score(metrics: dict[str, ImageMetric], real: ImageSet | None, fake: ImageSet, train: ImageSet | None,
          seed: int = 0) -> dict[str, float]:
    """Run every metric (with a fixed seed, leaving the caller's RNG untouched) and merge their figures."""
    results: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        for metric in metrics.values():
            torch.manual_seed(seed)
            results.update(metric.compute(real, fake, train))
    return results


def refuse_unused_classifier(chosen: dict[str, Any], classifier: str | None) -> None:
    """Refuse a --classifier that none of the ``chosen`` metrics (instances or classes) would read."""
    if classifier and chosen and not any(metric.needs_classifier for metric in chosen.values()):
        raise GanzooError(f"--classifier: metrics {', '.join(chosen)} read no feature net; drop --classifier")


@torch.no_grad()
def evaluate_generator(task: Any, nets: dict[str, nn.Module], device: torch.device, metrics: Any = None,
                       num: int | None = None, data_root: str | None = None, classifier: str | None = None,
                       seed: int = 0, metric_options: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
    """Sample ``num`` images from a generation task's nets and score them against the held-out split.

    What a task's ``evaluate`` returns for ``ganzoo eval``: ``task`` gives
    ``config`` (the run's dataset, size, channels) and draws its images with
    ``fixed_inputs(ctx, None, n)`` then ``samples(nets, fixed)``; the other
    arguments are ``evaluate``'s options (``metrics`` names or None for the
    defaults, ``classifier`` a ``--classifier`` value, ``metric_options``
    ``{"name.key": value}``); options it has no use for are ignored.
    """
    chosen = resolve_metrics(metrics, metric_options)
    if num is None:
        num = max([m.num for m in chosen.values() if m.num] or [DEFAULT_NUM])
    too_few = [f"{name} needs at least {m.min_samples()}" for name, m in chosen.items() if num < m.min_samples()]
    if too_few:
        raise GanzooError(f"-n {num} generated samples are too few: {', '.join(too_few)}; pass a larger -n")
    if any(m.needs_classifier for m in chosen.values()) and not classifier:
        names = ", ".join(n for n, m in chosen.items() if m.needs_classifier)
        raise GanzooError(
            f"metrics {names} need the domain feature classifier: pass --classifier PATH, e.g. after "
            f"`ganzoo features train --dataset {task.config.dataset} --out classifier.safetensors`"
        )
    cls_path = classifier if any(m.needs_classifier for m in chosen.values()) else None
    if cls_path:
        trained_on = feature_net(cls_path).meta.get("dataset")
        if trained_on not in (None, task.config.dataset):
            warnings.warn(f"classifier {cls_path} was trained on '{trained_on}', the run on "
                          f"'{task.config.dataset}'; its features may not suit these images", GanzooWarning,
                          stacklevel=2)
    real = None
    if any(m.needs_real for m in chosen.values()):
        real = real_images(task.config, "test", data_root, num, cls_path, device)
        short = [f"{name} needs at least {m.min_samples()}" for name, m in chosen.items()
                 if m.needs_real and len(real) < m.min_samples()]
        if short:
            raise GanzooError(f"the held-out split of '{task.config.dataset}' has {len(real)} image(s): "
                              f"{', '.join(short)}; choose other --metrics, or give the dataset more images")
    train = None
    if any(m.needs_train for m in chosen.values()):
        train = real_images(task.config, "train", data_root, None, cls_path, device)
        if real is not None:
            check_heldout(chosen, task.config.dataset, real, train)
    modes = {name: net.training for name, net in nets.items()}
    for net in nets.values():
        net.eval()
    try:
        ctx = StepContext(nets, nets, None, device, torch.Generator().manual_seed(seed))
        chunks, drawn = [], 0
        while drawn < num:  # a task may give fewer than asked (conditional: whole rows of classes); ask again
            fixed = task.fixed_inputs(ctx, None, min(BATCH, num - drawn))
            chunks.append(task.samples(nets, fixed).float().clamp(-1, 1).cpu())
            if not len(chunks[-1]):
                raise GanzooError(f"task {type(task).__name__} drew no samples when asked for {num - drawn}")
            drawn += len(chunks[-1])
    finally:
        for name, net in nets.items():
            net.train(modes[name])
    fake = embed(torch.cat(chunks), feature_net(cls_path) if cls_path else None, device)
    results: dict[str, Any] = {"num_generated": num, "num_real": len(real) if real is not None else 0}
    results.update(score(chosen, real, fake, train, seed))
    return results
