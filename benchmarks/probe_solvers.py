"""Linear-probe solvers side by side: time and held-out accuracy on the same discriminator features.

``ganzoo probe`` fits a linear classifier on ~7000 features (dcgan's D at 32
px, every hidden layer max-pooled to 4x4) from a few labelled images per class.
This script extracts those features once (MNIST, ``--labels-per-class`` per
class from the training part, ``--num-test`` held-out digits) from a run's D,
or with no checkpoint from an untrained dcgan D of the default width (the
probe's own control: same dimension, same data), then times each solver on
them in one process:

* ``linearsvc-cv``: the probe's linear SVM (LinearSVC on standardised
  features, C from {1e-3, 1e-2, 1e-1, 1} by 3-fold CV, then a refit);
* ``ridge-gcv``: RidgeClassifierCV on standardised features (one-vs-all
  least squares, alpha from a log grid by efficient leave-one-out: one
  eigendecomposition of the n x n Gram matrix for the whole grid).

    OMP_NUM_THREADS=1 nice python benchmarks/probe_solvers.py --data-root ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np
import torch

import ganzoo
from ganzoo.bench import machine
from ganzoo.data import read_split
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import assemble
from ganzoo_plugins.metrics.linear_probe import discriminator_features, few_labels, fit_and_score


def ridge(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> dict:
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-1, 5, 13)))
    model.fit(train_x.numpy(), train_y.numpy())
    accuracy = float((model.predict(test_x.numpy()) == test_y.numpy()).mean())
    return {"accuracy": accuracy, "alpha": float(model[-1].alpha_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a dcgan run on mnist (default: an untrained dcgan D)")
    parser.add_argument("--data-root", default="../shared/data/mnist")
    parser.add_argument("--labels-per-class", type=int, default=100)
    parser.add_argument("--num-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = RunConfig(arch="dcgan", dataset="mnist", data_root=args.data_root, image_size=32,
                       data_options={"holdout": 2000}, device="cpu", seed=args.seed)
    if args.checkpoint:
        D, source = ganzoo.load_run(args.checkpoint, "cpu", ema=False).nets["D"], args.checkpoint
    else:
        torch.manual_seed(args.seed)
        D, source = assemble(config).nets["D"], "untrained dcgan D (width 64)"
    images, labels = read_split(config, "train", limit=10 * 10 * args.labels_per_class)
    picked = torch.from_numpy(few_labels(labels, args.labels_per_class, args.seed))
    test_images, test_y = read_split(config, "test", limit=args.num_test)
    views = {"discriminator": lambda x: discriminator_features(D, x, torch.device("cpu")),
             "pixels": lambda x: x.flatten(1)}
    lines = ["# Linear-probe solvers: time and accuracy on the same features", "",
             f"- command: `{shlex.join(['python', *sys.argv])}`",
             f"- machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start (shared: compare the "
             f"ratios, not the seconds); torch {torch.__version__}; {time.strftime('%Y-%m-%d', time.gmtime())}",
             f"- features from {source}; mnist, {args.labels_per_class} labels per class ({len(picked)} images), "
             f"scored on {len(test_y)} held-out digits", "",
             "| features | dim | solver | seconds | held-out accuracy | chosen |", "|---|---|---|---|---|---|"]
    for name, view in views.items():
        train_x, test_x = view(images[picked]), view(test_images)
        train_y = labels[picked]
        start = time.process_time()
        svc = fit_and_score(train_x, train_y, test_x, test_y, args.seed)
        svc_s = time.process_time() - start
        start = time.process_time()
        rc = ridge(train_x, train_y, test_x, test_y)
        rc_s = time.process_time() - start
        lines += [f"| {name} | {train_x.shape[1]} | linearsvc-cv | {svc_s:.1f} | {svc['accuracy']:.4f} | C={svc['C']} |",
                  f"| {name} | {train_x.shape[1]} | ridge-gcv | {rc_s:.1f} | {rc['accuracy']:.4f} | "
                  f"alpha={rc['alpha']:g} |"]
        print("\n".join(lines[-2:]), file=sys.stderr, flush=True)
    lines += ["", "seconds: CPU time of the fit (process time), so other users' load counts less than in wall time."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
