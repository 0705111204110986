"""PacGAN Table 3 on Stacked MNIST (D 1/4 the size of G): DCGAN vs PacDCGAN-m, and ganzoo's additions.

Trains ``pacgan-table3`` (the paper's G and quarter-size D) with the paper's
optimiser (batch 128, BCE, Adam D lr 2e-4, G lr 1e-4, betas (0.5, 0.99), nz
256) for each ``--packs`` value and seed, plus any ``--extra`` configurations
(packing, augmentation, regulariser, loss: ganzoo train options), through
``ganzoo.bench`` so each row is reproducible by its printed commands. Scores
26,000 samples with the per-channel digit classifier (modes of 1000, KL to
uniform in nats) and writes mean +- standard error over seeds next to the
published rows (50 trials each, 500,000 iterations on the 60k MNIST train
digits; ours: the 8,000 t10k training digits' stacks, ``--steps`` iterations).

    ganzoo features train --dataset stacked-mnist --data-root ../shared/data/mnist --data-opt n=6000 \\
        --out ../artifacts/stacked-mnist-classifier.safetensors
    OMP_NUM_THREADS=1 python benchmarks/stacked_mnist_pacgan.py \\
        --classifier ../artifacts/stacked-mnist-classifier.safetensors --steps 5000 --seeds 3 \\
        --extra "pack=4 augment=diffaugment" --markdown benchmarks/results/stacked_mnist_pacgan.md
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from ganzoo.bench import BenchSpec, machine, parse_variant, run_bench
from ganzoo.engine.config import RunConfig

PUBLISHED = [  # PacGAN Table 3, "D is 1/4 size of G": modes (mean +- s.e.), KL (mean +- s.e.), 50 trials
    ("DCGAN", 1, 78.5, 17.56, 5.21, 0.19), ("PacDCGAN2", 2, 484.5, 32.99, 2.61, 0.22),
    ("PacDCGAN3", 3, 601.3, 32.18, 2.00, 0.17), ("PacDCGAN4", 4, 667.4, 29.00, 1.81, 0.15),
]
NUM = 26000


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for one value)."""
    if len(values) < 2:
        return values[0], 0.0
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def configurations(packs: list[int], extras: list[str]) -> list[tuple[str, dict]]:
    """(label, RunConfig overrides): one per pack, then one per ``--extra`` (a ``ganzoo bench --variant``)."""
    found = [("DCGAN" if m == 1 else f"PacDCGAN{m}", {"pack": m}) for m in packs]
    return found + [(f"ganzoo: {extra}", parse_variant(extra)) for extra in extras]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--data-root", default="../shared/data/mnist")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--packs", default="1,2,3,4")
    parser.add_argument("--extra", action="append", default=[],
                        help="another configuration as 'key=value ...', as ganzoo bench --variant takes it")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="runs/stacked-mnist-pacgan")
    parser.add_argument("--markdown", default="benchmarks/results/stacked_mnist_pacgan.md")
    args = parser.parse_args(argv)

    base = RunConfig(arch="pacgan-table3", loss="bce", dataset="stacked-mnist", data_root=args.data_root,
                     image_size=28, channels=3, batch_size=128, nz=256, lr=1e-4, lr_d=2e-4, beta1=0.5, beta2=0.99,
                     device=args.device, data_options={"holdout": 2000}, n_samples=64, log_every=10**9,
                     sample_every=10**9, ckpt_every=10**9)
    results = []
    for label, overrides in configurations([int(m) for m in args.packs.split(",")], args.extra):
        config = replace(base, **overrides)
        spec = BenchSpec(archs=[config.arch], losses=[config.loss], base=config, steps=args.steps, evals=1,
                         repeats=args.seeds, metrics=["stacked-mnist"], curve_metric="stacked-mnist", num=NUM,
                         classifier=args.classifier, out=str(Path(args.out) / label.replace(" ", "_").replace(":", "")))
        print(f"== {label}", file=sys.stderr)
        rows = run_bench(spec, echo=lambda line: print(line, file=sys.stderr))
        results.append((label, rows))

    lines = [
        "# PacGAN Table 3 on Stacked MNIST: D a quarter of G's size", "",
        f"- command: `OMP_NUM_THREADS=1 python {shlex.join(['benchmarks/stacked_mnist_pacgan.py', *(sys.argv[1:] if argv is None else argv)])}`",
        f"- machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- nets: `pacgan-table3` (the paper's G and D); batch 128, BCE, Adam D 2e-4 / G 1e-4, betas (0.5, 0.99), "
        f"nz 256; {args.steps} iterations (the paper: 500,000); training stacks from the first 8,000 MNIST t10k "
        "digits (the paper: the 60k train digits); seeds 0.." + str(args.seeds - 1),
        f"- metric: {NUM} samples, each channel read by the digit classifier `{args.classifier}`; modes of 1000 "
        "covered (at least one sample), KL(generated || uniform) in nats; mean +- standard error over seeds", "",
        "| model | modes (published) | KL (published) | modes (ganzoo) | KL (ganzoo) | seeds | s per run |",
        "|---|---|---|---|---|---|---|",
    ]
    published = {name: (m, ms, k, ks) for name, _, m, ms, k, ks in PUBLISHED}
    for label, rows in results:
        modes = mean_se([r["metrics"]["stacked_modes"] for r in rows])
        kl = mean_se([r["metrics"]["stacked_kl"] for r in rows])
        paper = published.get(label)
        pm = f"{paper[0]} +- {paper[1]}" if paper else "-"
        pk = f"{paper[2]} +- {paper[3]}" if paper else "-"
        secs = statistics.fmean(r["train_s"] for r in rows)
        lines.append(f"| {label} | {pm} | {pk} | {modes[0]:.1f} +- {modes[1]:.1f} | {kl[0]:.2f} +- {kl[1]:.2f} | "
                     f"{len(rows)} | {secs:.0f} |")
    lines += ["", "Per run (reproduce any row with its two commands):", ""]
    for label, rows in results:
        for row in rows:
            lines.append(f"- {label}, seed {row['seed']}: modes {row['metrics']['stacked_modes']}, KL "
                         f"{row['metrics']['stacked_kl']:.3f}: `{row['train_command']} && {row['eval_command']}`")
    grid = Path(args.markdown).with_name("stacked_mnist_pacgan_samples.png")
    shutil.copyfile(Path(results[-1][1][0]["run_dir"]) / "samples.png", grid)
    lines += ["", f"Samples of the last configuration's first seed: `{grid.name}`.", ""]
    Path(args.markdown).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
