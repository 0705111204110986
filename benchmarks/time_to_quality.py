"""Time to quality on MNIST: the CPU seconds each contender takes to first reach a FID threshold, side by side.

Every contender (a recipe, or ``ganzoo bench --variant`` settings over the task's
default arch and loss) trains in this one process, one after another, with a
fixed thread count and the same budget of process CPU seconds, through
``ganzoo.bench`` (so each row is reproducible by its ``ganzoo train`` command).
FID with the project's classifier is scored at ``--evals`` evenly spaced points.
The floor is the FID of real training digits against the held-out ones, with
the same classifier and number of images; the threshold is ``--threshold-factor``
x the floor. The baseline is the seed 001 recipe: the report also gives when
each contender first reaches seed001's final FID, and that time over seed001's.
Every row shares one image size and channel count (``--image-size``,
``--channels``, given over each recipe's), so one classifier and one floor apply;
32 px because ``dcgan`` (seed001's arch) builds 32 or 64 px, and the classifier
resizes its input to the 28 px it was trained at.

    OMP_NUM_THREADS=1 python benchmarks/time_to_quality.py --classifier ../artifacts/mnist-classifier.safetensors \\
        --recipes seed001,dcgan --variant 'loss=hinge ema=true' --seconds 600 --evals 20 \\
        --markdown benchmarks/results/time_to_quality.md --json benchmarks/results/time_to_quality.json \\
        --plot benchmarks/results/time_to_quality.png
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo import RunConfig, parse_options
from ganzoo.bench import PLOT_HINT, BenchSpec, machine, markdown_table, plot_curves, row_label, run_bench
from ganzoo.metrics import heldout_floor
from ganzoo.registry import get_registry

BASELINE = "seed001"


def first_reach(points: list[tuple[float, float | None]], level: float) -> float | None:
    """The x of the first (x, fid) point at or below ``level``; None when no point is."""
    return next((x for x, fid in points if fid is not None and fid <= level), None)


def summary(rows: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """One line per contender: final and best FID, CPU seconds to the threshold and to seed001's final FID."""
    def points(row: dict[str, Any]) -> list[tuple[float, float | None]]:
        return [(p["cpu_s"], p["value"]) for p in row["curve"]]

    baseline = next(row for row in rows if row["variant"] == f"recipe {BASELINE}")
    target = baseline["curve"][-1]["value"]
    own = first_reach(points(baseline), target)
    lines = []
    for row in rows:
        fids = [fid for _, fid in points(row) if fid is not None]
        reached, matched = first_reach(points(row), threshold), first_reach(points(row), target)
        lines.append({
            "contender": row_label(row), "steps": row["steps"], "cpu_s": row["cpu_s"],
            "final fid": row["curve"][-1]["value"], "best fid": min(fids, default=None),
            f"CPU-s to fid <= {threshold:.4g}": "not reached" if reached is None else reached,
            f"CPU-s to {BASELINE}'s final fid": "not reached" if matched is None else matched,
            f"x {BASELINE}'s": round(matched / own, 3) if matched is not None and own else "",
        })
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True, help="a `ganzoo features train` file")
    parser.add_argument("--recipes", default=BASELINE, help=f"comma-separated recipes; must include {BASELINE}")
    parser.add_argument("--variant", action="append", default=[], metavar="'K=V ...'",
                        help="a contender as ganzoo bench --variant settings (repeatable)")
    parser.add_argument("--seconds", type=float, default=600.0, help="CPU seconds of training per contender")
    parser.add_argument("--evals", type=int, default=20, help="FID points along each run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threshold-factor", type=float, default=2.0)
    parser.add_argument("-n", "--num", type=int, default=2000, help="images per FID, generated and real")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-root", default="../shared/data/mnist")
    parser.add_argument("--data-opt", action="append", metavar="K=V", help="[holdout=2000]")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=f"runs/time-to-quality-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--markdown")
    parser.add_argument("--json")
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    recipes = [name.strip() for name in args.recipes.split(",") if name.strip()]
    if BASELINE not in recipes:
        parser.error(f"--recipes must include {BASELINE}, the baseline")
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # say so before the hour of training
        parser.error(f"--plot: {PLOT_HINT}")
    torch.set_num_threads(args.threads)

    # Given over every recipe's settings, as `ganzoo bench --recipes` takes the options given to it.
    given = dict(dataset=args.dataset, data_root=args.data_root, image_size=args.image_size, channels=args.channels,
                 data_options=parse_options(tuple(args.data_opt or ["holdout=2000"]), "--data-opt"),
                 threads=args.threads, device="cpu", seed=args.seed)
    base = RunConfig(**given, log_every=10**9, sample_every=10**9, ckpt_every=10**9)
    task = get_registry().get("tasks", base.task)
    spec = BenchSpec(archs=[task.default_arch] if args.variant else [],
                     losses=[task.default_loss] if args.variant else [], base=base, given=frozenset(given),
                     variants=args.variant, recipes=recipes, seconds=args.seconds, evals=args.evals,
                     metrics=["fid"], curve_metric="fid", num=args.num, classifier=args.classifier, out=args.out)
    floor = heldout_floor(base, args.num, args.classifier)["fid"]
    threshold = args.threshold_factor * floor
    print(f"floor (real train vs held-out FID): {floor:.4g}; threshold {threshold:.4g}", file=sys.stderr)
    rows = run_bench(spec, echo=lambda line: print(line, file=sys.stderr))
    lines = summary(rows, threshold)
    table = markdown_table(lines)
    print(table)

    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    command = env + shlex.join(["python", "benchmarks/time_to_quality.py", *(sys.argv[1:] if argv is None else argv)])
    date = time.strftime("%Y-%m-%d", time.gmtime())
    result = {"command": command, "machine": machine(), "torch": torch.__version__, "date": date, "floor": floor,
              "threshold_factor": args.threshold_factor, "threshold": threshold, "summary": lines, "rows": rows}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot_curves(rows, args.plot, x="cpu_s", hlines={f"threshold {args.threshold_factor:g} x floor": threshold,
                                                        "floor (real vs held-out)": floor})
    if args.markdown:
        parts = [
            "# Time to quality on MNIST: CPU seconds to a FID threshold", "",
            f"- command: `{command}`",
            f"- machine: {machine()}; torch {torch.__version__}; date {date}",
            f"- budget: {args.seconds:g} s of process CPU time of training per contender, all in one process with "
            f"{args.threads} torch thread(s), one contender after another; {args.dataset} at {args.image_size} px, "
            f"{args.channels} channel(s)",
            f"- FID with `{args.classifier}` on {args.num} generated vs {args.num} held-out images, at "
            f"{args.evals + 1} points (every {args.seconds / args.evals:.3g} CPU-s, so a time below is the first "
            "point at or below the level)",
            f"- floor: FID of {args.num} real training images vs the held-out ones = {floor:.4g}; threshold = "
            f"{args.threshold_factor:g} x floor = {threshold:.4g}",
            f"- baseline: recipe {BASELINE}; 'x {BASELINE}'s' is the CPU time to {BASELINE}'s final FID over "
            f"{BASELINE}'s own", "",
            table, "",
        ]
        if args.plot:
            parts += [f"![FID against CPU seconds]({Path(args.plot).name})", ""]
        parts += ["## Reproduce a contender", ""]
        parts += [f"- {row_label(row)}: `{row['train_command']}`" for row in rows]
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text("\n".join(parts) + "\n")
    return result


if __name__ == "__main__":
    main()
