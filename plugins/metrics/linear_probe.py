"""``ganzoo probe``: a trained discriminator's features for classification (DCGAN paper, section 5.1).

The discriminator learns features without labels; a linear classifier on
them, fitted with only a few labels per class, shows what they are worth.
Following Radford et al., every hidden conv/linear layer's response is
max-pooled to at most 4x4, flattened and concatenated; a linear classifier
is fitted on ``labels_per_class`` images per class of split "train" and
scored on split "test". The same is done for raw pixels and for an untrained
discriminator of the same architecture, the controls that say how much the
GAN training added.

Two solvers, both on standardised features (``SOLVERS``): ``ridge``
(default; scikit-learn ``RidgeClassifierCV``, one-vs-all least squares with
its penalty chosen by efficient leave-one-out over a log grid, one
eigendecomposition of the n x n Gram matrix for the whole grid) and ``svm``
(the paper's linear SVM: ``LinearSVC``, C by 3-fold cross-validation).
With thousands of features and a thousand examples liblinear needs minutes
per fit where ridge needs about a second, at the same or better held-out
accuracy (benchmarks/results/probe_solvers.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ganzoo
from ganzoo.api import DataOptions, GanzooError, GanzooWarning
from ganzoo.data import held_out_options, read_split
from ganzoo.files import check_writable, write_atomic
from ganzoo.hookspecs import hookimpl
from ganzoo.runs import SEED

POOL = 4
C_GRID = (1e-3, 1e-2, 1e-1, 1.0)
ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 13))


def _pooled(output: Tensor) -> Tensor:
    if output.dim() == 4:
        return F.adaptive_max_pool2d(output, (min(POOL, output.shape[-2]), min(POOL, output.shape[-1]))).flatten(1)
    return output.flatten(1)


@torch.no_grad()
def discriminator_features(D: nn.Module, images: Tensor, device: torch.device, batch: int = 256) -> Tensor:
    """Every hidden conv/linear layer's response, max-pooled to <= 4x4 and concatenated, for each image."""
    outputs: list[Tensor] = []
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.append(o)) for m in layers]
    D = D.to(device).eval()
    chunks = []
    try:
        for chunk in images.split(batch):
            outputs.clear()
            D(chunk.to(device))
            hidden = outputs[:-1]  # the last one computes the real/fake score itself
            if not hidden:
                raise GanzooError(f"{type(D).__name__} has no hidden conv or linear layer to read features from")
            chunks.append(torch.cat([_pooled(o.float()) for o in hidden], 1).cpu())
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat(chunks)


def few_labels(labels: Tensor, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` examples of every class (all of a class that has fewer), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    y = labels.numpy()
    picks = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(picks))


def fit_and_score(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, seed: int,
                  tick: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Linear SVM on standardised features, C by stratified k-fold cross-validation; accuracy on the test set.

    k is 3, fewer when a class has fewer examples: ``fits(k)`` fits in all, and ``tick`` is called after each
    (the probe's progress bar). The same choice as scikit-learn's ``GridSearchCV`` (first C of the best mean).
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    folds = min(3, int(np.bincount(train_y.numpy()).min()))
    if folds < 2:
        raise GanzooError("the probe needs at least 2 labelled examples per class; raise --labels-per-class")
    x, y = train_x.numpy(), train_y.numpy()

    def fitted(C: float, rows: np.ndarray) -> Any:
        model = make_pipeline(StandardScaler(), LinearSVC(C=C, random_state=seed, max_iter=5000)).fit(x[rows], y[rows])
        tick()
        return model

    splits = list(StratifiedKFold(folds).split(x, y))
    means = [np.mean([fitted(C, train).score(x[held], y[held]) for train, held in splits]) for C in C_GRID]
    best = C_GRID[int(np.argmax(means))]
    accuracy = float((fitted(best, np.arange(len(y))).predict(test_x.numpy()) == test_y.numpy()).mean())
    return {"dim": int(train_x.shape[1]), "accuracy": round(accuracy, 5), "C": best}


def ridge_fit_and_score(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, seed: int,
                        tick: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Ridge classifier on standardised features, alpha by leave-one-out over :data:`ALPHAS`; test accuracy."""
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS)).fit(train_x.numpy(), train_y.numpy())
    tick()
    accuracy = float((model.predict(test_x.numpy()) == test_y.numpy()).mean())
    return {"dim": int(train_x.shape[1]), "accuracy": round(accuracy, 5), "alpha": float(model[-1].alpha_)}


SOLVERS = {"ridge": ridge_fit_and_score, "svm": fit_and_score}


def fits(folds: int = 3, solver: str = "svm") -> int:
    """Fits a solver makes: ridge one; the SVM every C on every fold, then the chosen C on all examples."""
    return 1 if solver == "ridge" else len(C_GRID) * folds + 1


def probe(run: ganzoo.Run, labels_per_class: int = 100, num_test: int | None = 2000,
          data_root: str | None = None, seed: int = 0, progress: bool = False,
          solver: str = "ridge") -> dict[str, Any]:
    """Accuracy of a linear classifier on the trained D's features, an untrained D's and raw pixels.

    ``solver``: a key of :data:`SOLVERS`. ``progress``: a bar over the fits (3 feature sets x :func:`fits`).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from tqdm.auto import tqdm

    if solver not in SOLVERS:
        raise GanzooError(f"--solver {solver}: choose one of {', '.join(SOLVERS)}")
    cfg, nets = run.config, run.nets
    if cfg.task != "unconditional" or "D" not in nets:
        raise GanzooError(f"ganzoo probe reads the discriminator of an unconditional GAN; '{run.checkpoint}' is a "
                          f"'{cfg.task}' run")
    options = held_out_options(cfg.dataset, cfg.data_options)
    added = {key: value for key, value in options.items() if key not in cfg.data_options}
    if added:  # the probe holds these images out; the GAN was trained on them
        flags = " ".join(f"--data-opt {key}={value}" for key, value in added.items())
        warnings.warn(f"the run trained without {flags}, so its GAN saw the held-out images the probe tests on: "
                      f"the probe's accuracy may be optimistic; train with {flags} for a clean one", GanzooWarning,
                      stacklevel=2)
    root = data_root or cfg.data_root
    num_classes = run.dataset.with_classes(cfg.dataset, DataOptions(root=root, options=options)).num_classes
    if not num_classes:
        raise GanzooError(f"dataset '{cfg.dataset}' has no labels to probe with; train on a labelled one (mnist)")
    pool_size = 10 * labels_per_class * num_classes
    train_images, train_labels = read_split(cfg, "train", data_root=root, data_options=options, limit=pool_size)
    test_images, test_labels = read_split(cfg, "test", data_root=root, data_options=options, limit=num_test)
    if num_test is not None and len(test_labels) < num_test:
        warnings.warn(f"--num-test {num_test}: the held-out split has only {len(test_labels)} images; the probe "
                      "scores on all of them", GanzooWarning, stacklevel=2)
    smallest = int(torch.bincount(train_labels).min())
    if smallest < labels_per_class:
        warnings.warn(f"--labels-per-class {labels_per_class}: the training split has only {smallest} images of "
                      "some class; the probe uses all it has there", GanzooWarning, stacklevel=2)
    picked = torch.from_numpy(few_labels(train_labels, labels_per_class, seed))
    train_images, train_labels = train_images[picked], train_labels[picked]
    torch.manual_seed(seed)
    untrained = run.task.build()["D"]
    views = {
        "gan-discriminator": lambda x: discriminator_features(nets["D"], x, run.device),
        "untrained-discriminator": lambda x: discriminator_features(untrained, x, run.device),
        "pixels": lambda x: x.flatten(1),
    }
    results: dict[str, Any] = {}
    folds = min(3, int(torch.bincount(train_labels).min()))
    bar = tqdm(total=len(views) * fits(folds, solver), desc=f"probe: {solver} fits", unit="fit",
               disable=not progress)
    with bar, warnings.catch_warnings():  # small C on few examples: liblinear stops early, which is fine here
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, view in views.items():
            bar.set_postfix_str(name)
            results[name] = SOLVERS[solver](view(train_images), train_labels, view(test_images), test_labels, seed,
                                            lambda: bar.update(1))
    return {
        "checkpoint": str(Path(run.checkpoint).resolve()), "arch": cfg.arch, "loss": cfg.loss, "dataset": cfg.dataset,
        "labels_per_class": labels_per_class, "num_train": len(train_labels), "num_test": len(test_labels),
        "seed": seed, "solver": solver, "features": results,
    }


@hookimpl
def register_commands(cli: Any) -> None:
    @ganzoo.run_command(cli, "probe", ema=False)
    @click.option("--labels-per-class", default=100, show_default=True, type=click.IntRange(min=2),
                  help="Labelled training images per class the linear classifier may use.")
    @click.option("--num-test", default=2000, show_default=True, type=click.IntRange(min=1),
                  help="Held-out images to score on.")
    @click.option("--data-root", help="Dataset directory. [the one the run was trained with]")
    @click.option("--seed", default=0, show_default=True, type=SEED,
                  help="Which labelled examples; the untrained D's init.")
    @click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results as JSON.")
    @click.option("--solver", type=click.Choice(list(SOLVERS)), default="ridge", show_default=True,
                  help="ridge: ridge classifier, penalty by leave-one-out (seconds); svm: the DCGAN paper's linear "
                       "SVM, C by 3-fold CV (minutes).")
    @click.option("--progress/--no-progress", default=True, show_default=True,
                  help="A progress bar over the fits (3 feature sets; svm: 13 fits each).")
    def probe_cmd(run: ganzoo.Run, labels_per_class: int, num_test: int, data_root: str | None, seed: int,
                  json_path: str | None, solver: str, progress: bool) -> None:
        """GAN features for classification: a linear classifier on the trained discriminator's features.

        Few labels, many unlabelled images: the GAN learned from the images
        alone; a linear classifier on its discriminator's features (every
        hidden layer max-pooled to 4x4, as in the DCGAN paper) is fitted on
        --labels-per-class examples per class and compared with the same
        classifier on raw pixels and on an untrained discriminator.

        How long: reading and embedding the images takes seconds; the fits
        take seconds with --solver ridge (default) and, with --solver svm,
        about 12 minutes of CPU at --labels-per-class 100 on dcgan's 7168
        features (2-core AMD EPYC, 2026-11-30), under a minute at 10. A bar
        counts the fits.

        \b
        Example:
          ganzoo train --arch dcgan --dataset mnist --data-root ../shared/data/mnist --data-opt holdout=2000 \\
              --steps 3000 --out runs/mnist
          ganzoo probe runs/mnist --labels-per-class 100 --json probe.json
        """
        if json_path:  # before the fits, not after them
            check_writable(json_path, "--json")
        result = probe(run, labels_per_class, num_test, data_root, seed, progress, solver)
        click.echo(f"{result['arch']}+{result['loss']} on {result['dataset']}: {result['labels_per_class']} labels "
                   f"per class ({result['num_train']} images), scored on {result['num_test']} held-out images, "
                   f"{solver} solver")
        for name, row in result["features"].items():
            penalty = f"C={row['C']}" if solver == "svm" else f"alpha={row['alpha']:g}"
            click.echo(f"  {name:<24} accuracy {row['accuracy']:.2%}  ({row['dim']} features, {penalty})")
        if json_path:
            write_atomic(json_path, json.dumps(result, indent=2) + "\n")
            click.echo(f"wrote {json_path}")
