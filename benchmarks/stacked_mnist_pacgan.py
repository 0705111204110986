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
        --classifier ../artifacts/stacked-mnist-classifier.safetensors --steps 2000 --evals 2 --seeds 3 \\
        --packs 1,2,4 --jobs 2 --markdown benchmarks/results/stacked_mnist_pacgan.md

Scoring 26,000 samples takes about two minutes of one CPU core (the classifier
reads 78,000 digits), so ``--evals`` costs as much as training at these sizes.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shlex
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
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
BATCH = 128  # packed samples D judges per step


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for one value)."""
    if len(values) < 2:
        return values[0], 0.0
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def configurations(packs: list[int], extras: list[str]) -> list[tuple[str, dict]]:
    """(label, RunConfig overrides): one per pack, then one per ``--extra`` (a ``ganzoo bench --variant``).

    D judges 128 packed samples per step whatever m is, as in the paper's code, so G draws 128 m images.
    """
    found = [("DCGAN" if m == 1 else f"PacDCGAN{m}", {"pack": m, "batch_size": BATCH * m}) for m in packs]
    for extra in extras:
        overrides = parse_variant(extra)
        found.append((f"ganzoo: {extra}", {"batch_size": BATCH * overrides.get("pack", 1), **overrides}))
    return found


def folder(label: str) -> str:
    """A configuration's folder name: its runs under ``--out`` and its grid beside the report."""
    return label.replace(" ", "_").replace(":", "").replace("=", "-")


def train_unit(label: str, config: RunConfig, seed: int, args: argparse.Namespace) -> dict:
    """One configuration and seed, scored ``--evals`` times; runs in its own process under ``--jobs``."""
    torch.set_num_threads(1)
    out = Path(args.out) / folder(label) / f"s{seed}"
    spec = BenchSpec(archs=[config.arch], losses=[config.loss], base=replace(config, seed=seed), steps=args.steps,
                     evals=args.evals, repeats=1, metrics=["stacked-mnist"], curve_metric="stacked-mnist", num=args.num,
                     classifier=args.classifier, out=str(out))
    row = run_bench(spec, echo=lambda line: print(f"{label}: {line}", file=sys.stderr, flush=True))[0]
    return {**row, "label": label}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", help="the per-channel digit classifier (needed to train)")
    parser.add_argument("--data-root", default="../shared/data/mnist")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--evals", type=int, default=4,
                        help="score this many times along each run (the last at the end)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed..first-seed+seeds-1")
    parser.add_argument("--packs", default="1,2,3,4", help="PacDCGAN-m rows to train ('' for none: --extra rows only)")
    parser.add_argument("--extra", action="append", default=[],
                        help="another configuration as 'key=value ...', as ganzoo bench --variant takes it")
    parser.add_argument("--num", type=int, default=NUM, help="samples scored (the protocol: 26,000)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one process and one thread each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="runs/stacked-mnist-pacgan")
    parser.add_argument("--markdown", default="benchmarks/results/stacked_mnist_pacgan.md")
    parser.add_argument("--report-from", nargs="+", metavar="JSON",
                        help="train nothing: report the runs of earlier invocations, from the JSON each wrote beside "
                        "its --markdown (to split configurations or seeds over processes or machines)")
    args = parser.parse_args(argv)
    command = shlex.join(["benchmarks/stacked_mnist_pacgan.py", *(sys.argv[1:] if argv is None else argv)])
    if not args.report_from and not args.classifier:
        parser.error("--classifier is required to train (a `ganzoo features train --dataset stacked-mnist` file)")
    if args.report_from:
        parts = [json.loads(Path(name).read_text()) for name in args.report_from]
    else:
        parts = [train(args, command)]
        Path(args.markdown).with_suffix(".json").write_text(json.dumps(parts[0], indent=1))
    text = report(parts, command, Path(args.markdown))
    Path(args.markdown).write_text(text)
    print(text)


def train(args: argparse.Namespace, command: str) -> dict:
    """Every configuration x seed, ``--jobs`` at once; the invocation and its rows, for the JSON and the report."""
    base = RunConfig(arch="pacgan-table3", loss="bce", dataset="stacked-mnist", data_root=args.data_root,
                     image_size=28, channels=3, batch_size=BATCH, nz=256, lr=1e-4, lr_d=2e-4, beta1=0.5, beta2=0.99,
                     ema=False, device=args.device, data_options={"holdout": 2000}, n_samples=64, log_every=10**9,
                     sample_every=10**9, ckpt_every=10**9)
    configs = [(label, replace(base, **overrides))
               for label, overrides in configurations([int(m) for m in args.packs.split(",") if m], args.extra)]
    units = [(label, config, seed) for label, config in configs
             for seed in range(args.first_seed, args.first_seed + args.seeds)]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = list(pool.map(train_unit, *zip(*units, strict=True), [args] * len(units)))
    return {"command": command, "machine": machine(), "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d", time.gmtime()), "classifier": args.classifier, "num": args.num,
            "jobs": args.jobs, "wall_s": round(time.perf_counter() - started), "rows": rows}


def report(parts: list[dict], command: str, markdown: Path) -> str:
    """Published rows beside ours (mean +- s.e. over seeds), modes along the runs, every run's commands, grids."""
    rows = [row for part in parts for row in part["rows"]]
    labels = list(dict.fromkeys(row["label"] for row in rows))
    results = [(label, [row for row in rows if row["label"] == label]) for label in labels]
    steps = sorted({row["steps"] for row in rows})
    lines = [
        "# PacGAN Table 3 on Stacked MNIST: D a quarter of G's size", "",
        f"- command: `OMP_NUM_THREADS=1 python {command}`",
        *[f"  - runs from: `OMP_NUM_THREADS=1 python {part['command']}` ({part['machine']}; torch {part['torch']}; "
          f"{part['date']}; {part['wall_s']} s wall with --jobs {part['jobs']})"
          for part in parts if part["command"] != command],
        *[f"- machine: {part['machine']}; torch {part['torch']}; date {part['date']}; {part['wall_s']} s wall with "
          f"--jobs {part['jobs']}" for part in parts if part["command"] == command],
        "- nets: `pacgan-table3` (the paper's G and D); D judges 128 samples per step, packed ones for PacDCGAN-m "
        "(G draws 128 m images, in one batch where the paper's code ran G once per slot), BCE, Adam D 2e-4 / "
        f"G 1e-4, betas (0.5, 0.99), nz 256; {', '.join(map(str, steps))} iterations (the paper: 500,000); "
        "training stacks from the first 8,000 MNIST t10k digits (the paper: the 60k train digits)",
        f"- metric: {parts[0]['num']} samples, each channel read by the digit classifier `{parts[0]['classifier']}`; "
        "modes of 1000 covered (at least one sample), KL(generated || uniform) in nats; mean +- standard error "
        "over seeds; confidence: the classifier's mean top-class probability on the samples (held-out real stacks: "
        "about 0.97; noise covers many modes at a low confidence)", "",
        "| model | modes (published) | KL (published) | modes (ganzoo) | KL (ganzoo) | confidence (ganzoo) | seeds | "
        "s per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    published = {name: (m, ms, k, ks) for name, _, m, ms, k, ks in PUBLISHED}
    for label, runs in results:
        modes = mean_se([r["metrics"]["stacked_modes"] for r in runs])
        kl = mean_se([r["metrics"]["stacked_kl"] for r in runs])
        paper = published.get(label)
        pm = f"{paper[0]} +- {paper[1]}" if paper else "-"
        pk = f"{paper[2]} +- {paper[3]}" if paper else "-"
        secs = statistics.fmean(r["train_s"] for r in runs)
        sure = [r["metrics"]["stacked_confidence"] for r in runs if "stacked_confidence" in r["metrics"]]
        confident = f"{statistics.fmean(sure):.2f}" if sure else "not measured"
        ours = (f"{modes[0]:.1f} +- {modes[1]:.1f} | {kl[0]:.2f} +- {kl[1]:.2f}" if len(runs) > 1
                else f"{modes[0]:.0f} (one seed) | {kl[0]:.2f} (one seed)")
        lines.append(f"| {label} | {pm} | {pk} | {ours} | {confident} | {len(runs)} | {secs:.0f} |")
    lines += ["", "Modes and KL (mean over seeds) along the runs: does a shorter run give the same ordering?", "",
              "| model | step: modes / KL |", "|---|---|"]
    for label, runs in results:
        points = zip(*(run["curve"] for run in runs), strict=True)
        cells = [f"{at[0]['step']}: {statistics.fmean(p['figures']['stacked_modes'] for p in at):.0f} / "
                 f"{statistics.fmean(p['figures']['stacked_kl'] for p in at):.2f}" for at in points]
        lines.append(f"| {label} | " + ", ".join(cells) + " |")
    lines += ["", "Per run (reproduce any row with its two commands):", ""]
    for label, runs in results:
        for row in runs:
            lines.append(f"- {label}, seed {row['seed']}: modes {row['metrics']['stacked_modes']}, KL "
                         f"{row['metrics']['stacked_kl']:.3f}: `{row['train_command']} && {row['eval_command']}`")
    grids = markdown.with_suffix("")
    grids.mkdir(parents=True, exist_ok=True)
    missing = []
    for label, runs in results:  # a merged report keeps the grid there is when the runs are gone
        source, target = Path(runs[0]["run_dir"]) / "samples.png", grids / f"{folder(label)}.png"
        if source.exists():
            shutil.copyfile(source, target)
        elif not target.exists():
            missing.append(label)
    lines += ["", f"Samples of each configuration's first seed, one channel per digit: `{grids.name}/`"
              + (f" (none for {', '.join(missing)}: its runs are gone)" if missing else "") + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
