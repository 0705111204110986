"""GAN features for classification on real MNIST: `ganzoo probe` at a few label budgets and seeds.

Run after training the DCGAN the README shows (the GAN never sees the 2000
held-out digits the probe is scored on)::

    ganzoo train --arch dcgan --loss bce --width 64 --lr 2e-4 --beta1 0.5 --beta2 0.999 --no-ema \\
        --dataset mnist --data-root ../shared/data/mnist --data-opt holdout=2000 \\
        --steps 3000 --out runs/mnist-dcgan
    python benchmarks/gan_features_mnist.py runs/mnist-dcgan --markdown benchmarks/results/gan_features_mnist.md

Each (labels per class, seed) pair draws its own labelled examples; the table
gives the mean and spread of held-out accuracy for the trained
discriminator's features, an untrained discriminator's and raw pixels.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.bench import machine
from ganzoo_plugins.metrics.linear_probe import probe


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--labels", default="10,100", help="Labels per class, comma-separated.")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--num-test", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--solver", default="svm", help="svm (the protocol recorded here) or ridge")
    parser.add_argument("--markdown", default="benchmarks/results/gan_features_mnist.md")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    runs = []
    run = ganzoo.load_run(args.checkpoint, args.device, ema=False)
    for per_class in (int(x) for x in args.labels.split(",")):
        for seed in range(args.seeds):
            result = probe(run, per_class, args.num_test, seed=seed, solver=args.solver)
            runs.append(result)
            print(per_class, seed, {k: v["accuracy"] for k, v in result["features"].items()}, file=sys.stderr)
    first = runs[0]
    lines = [
        "# GAN features for classification (MNIST)", "",
        f"- command: `python {shlex.join(['benchmarks/gan_features_mnist.py', *(argv or sys.argv[1:])])}`",
        f"- checkpoint: `{args.checkpoint}` ({first['arch']} + {first['loss']} on {first['dataset']}); "
        f"scored on {first['num_test']} held-out digits the GAN never saw",
        f"- machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}; "
        f"{time.perf_counter() - start:.0f} s in all",
        "- protocol: " + ("linear SVM (scikit-learn LinearSVC on standardised features, C from {1e-3, 1e-2, 1e-1, 1} "
                          "by 3-fold CV)" if args.solver == "svm" else "ridge classifier (RidgeClassifierCV on "
                          "standardised features, alpha by leave-one-out)")
        + " on N labelled training digits per class; features = every hidden layer of D max-pooled to "
        "4x4 (DCGAN paper, section 5.1)", "",
        "| labels per class | features | dim | accuracy, mean over seeds | min | max |",
        "|---|---|---|---|---|---|",
    ]
    for per_class in dict.fromkeys(r["labels_per_class"] for r in runs):
        group = [r for r in runs if r["labels_per_class"] == per_class]
        for name in first["features"]:
            accs = [r["features"][name]["accuracy"] for r in group]
            lines.append(f"| {per_class} | {name} | {group[0]['features'][name]['dim']} | "
                         f"{statistics.mean(accs):.4f} | {min(accs):.4f} | {max(accs):.4f} |")
    Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
    Path(args.markdown).write_text("\n".join(lines) + "\n")
    Path(args.markdown).with_suffix(".json").write_text(json.dumps(runs, indent=2) + "\n")
    print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
