"""An inpainting run on every mask kind, per hole-area bin, against skimage's biharmonic fill.

The goal it measures: beat ``inpaint_biharmonic`` in hole PSNR and classifier accuracy for every mask kind in
every area bin from 10% up (biharmonic is strong on tiny holes, so the 0-10% bin is reported, not judged).
Scores come from the task's own evaluation (what ``ganzoo eval`` runs), once per mask kind, on the held-out
split.

    OMP_NUM_THREADS=2 python benchmarks/inpainting_masks.py runs/<inpainting run> \\
        --classifier mnist-classifier.safetensors --markdown benchmarks/results/inpainting_masks_mnist.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from ganzoo.bench import machine
from ganzoo.engine.trainer import load_for_inference

KINDS = "box,random-boxes,strokes,thin,medium,thick"


def table(results: dict[str, dict]) -> tuple[list[str], list[str]]:
    """Markdown rows (kind x bin: PSNR and accuracy of ganzoo and biharmonic, and the smooth fill's PSNR, what a
    ``prefill=smooth`` G starts from) and the (kind, bin) cells lost."""
    rows, lost = [], []
    for kind, result in results.items():
        for label, cell in result["bins"].items():
            ours, theirs = cell["methods"]["ganzoo"], cell["methods"]["biharmonic"]
            judged = not label.startswith("0%-")
            won = ours["hole_psnr"] > theirs["hole_psnr"] and ours.get("accuracy", 1) >= theirs.get("accuracy", 0)
            if judged and not won:
                lost.append(f"{kind} {label}")
            accuracy = (f"{ours['accuracy']:.3f} | {theirs['accuracy']:.3f}" if "accuracy" in ours else "- | -")
            verdict = "(not judged)" if not judged else ("ganzoo" if won else "**biharmonic**")
            smooth = cell["methods"]["smooth-fill"]["hole_psnr"]
            rows.append(f"| {kind} | {label} | {cell['count']} | {ours['hole_psnr']:.2f} | {theirs['hole_psnr']:.2f} | "
                        f"{smooth:.2f} | {accuracy} | {verdict} |")
    return rows, lost


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an inpainting run directory or checkpoint")
    parser.add_argument("--classifier", help="a `ganzoo features train` file: accuracy on the completed images")
    parser.add_argument("--kinds", default=KINDS, help=f"mask kinds to score [{KINDS}]")
    parser.add_argument("--num", type=int, default=1000, help="held-out images per mask kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", help="[the run's]")
    parser.add_argument("--markdown", help="write the table here")
    parser.add_argument("--grids", help="a folder for one grid per mask kind (KIND.png: masked | biharmonic | "
                        "ganzoo | truth, first 10 images)")
    parser.add_argument("--json", help="also write the evaluation's full results (every cell, every method) here")
    parser.add_argument("--trained-with", default="", help="the run's train command, quoted in the report")
    parser.add_argument("--self-ensemble", action="store_true",
                        help="average G over the 8 flips and quarter turns of each image (8x the time)")
    args = parser.parse_args(argv)

    asm, nets = load_for_inference(args.run, "cpu")
    options = {"num": args.num, "seed": args.seed, "classifier": args.classifier, "self_ensemble": args.self_ensemble,
               **({"data_root": args.data_root} if args.data_root else {})}
    results = {}
    for kind in args.kinds.split(","):
        start = time.perf_counter()
        out = {"out": str(Path(args.grids) / kind)} if args.grids else {}
        results[kind] = asm.task.evaluate(nets, torch.device("cpu"), mask=kind, **options, **out)
        if args.grids:
            Path(results[kind]["grid"]).replace(Path(args.grids) / f"{kind}.png")
            (Path(args.grids) / kind).rmdir()
        print(f"{kind}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    rows, lost = table(results)
    trained = asm.config.task_options
    lines = [
        "# Inpainting on every mask kind: ganzoo vs biharmonic, per hole-area bin", "",
        f"- command: `python {shlex.join(['benchmarks/inpainting_masks.py', *(sys.argv[1:] if argv is None else argv)])}`",
        f"- run: `{args.run}` (task options {json.dumps(trained)}, {asm.config.steps} steps, arch {asm.config.arch})"
        + (f", trained with `{args.trained_with}`" if args.trained_with else "")
        + ("; ganzoo's fills are self-ensembles (G averaged over 8 flips and quarter turns)"
           if args.self_ensemble else ""),
        f"- machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- {args.num} held-out images per mask kind (split test, seed {args.seed}); hole PSNR in dB over the missing "
        "pixels; accuracy: the classifier on the completed images", "",
        "| mask | hole area | images | ganzoo hole PSNR | biharmonic hole PSNR | smooth fill hole PSNR | ganzoo acc. | "
        "biharmonic acc. | better |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        ("Every judged cell (bins from 10% up) is ganzoo's." if not lost else
         f"Biharmonic wins {len(lost)} judged cells: {', '.join(lost)}."), "",
    ]
    if args.grids:
        lines += ["Grids (rows: masked | biharmonic | ganzoo | truth, first 10 held-out images):", ""]
        lines += [f"- {kind}: ![{kind}]({Path(args.grids).name}/{kind}.png)" for kind in results] + [""]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
