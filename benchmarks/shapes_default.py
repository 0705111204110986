"""The main job's settings, measured: candidate defaults for `ganzoo train` on `shapes`, scored against held-out shapes.

Each alternative is one `ganzoo train` command (spelled out in full, so it means the same whatever the defaults
are), scored every 300 steps by the engine's own --eval-every with the project's shapes classifier (FID, KID,
class coverage and the classifier's confidence on 1000 samples). The floor is what real images score: 1000
training shapes against the 1000 held-out ones, per dataset setting. The report gives each alternative's curve,
its seconds per step (from the run's log) and its last grid.

    ganzoo features train --dataset shapes --image-size 32 --epochs 5 --out shapes-classifier.safetensors
    OMP_NUM_THREADS=1 python benchmarks/shapes_default.py --classifier shapes-classifier.safetensors \\
        --out runs/shapes-default --markdown benchmarks/results/shapes_default_alternatives.md

Alternatives run one after another, one thread each (two can run side by side with --only); a finished run
(its log reaches its last step) is reused, not retrained.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from ganzoo import parse_options
from ganzoo.bench import machine
from ganzoo.metrics import heldout_floor

OLD = ["--loss", "bce", "--lr", "2e-4", "--beta1", "0.5", "--beta2", "0.999", "--no-ema"]
NEW = ["--loss", "hinge", "--lr", "1e-3", "--beta1", "0", "--beta2", "0.99", "--ema"]
SIMPLE = ["--data-opt", "max_shapes=1", "--data-opt", "gradient=0"]
ALTERNATIVES: dict[str, tuple[str, int, list[str]]] = {
    "seed001": ("the old default = seed 001's recipe: bce, Adam 2e-4 (0.5, 0.999), width 64, no EMA", 1500,
                ["--recipe", "seed001", "--width", "64", *OLD]),
    "bce-w32": ("bce, Adam 2e-4 (0.5, 0.999), width 32, no EMA", 1800, OLD),
    "hinge-ema": ("hinge + EMA, Adam 2e-4 (0.5, 0.999)", 1800,
                  ["--loss", "hinge", "--lr", "2e-4", "--beta1", "0.5", "--beta2", "0.999", "--ema"]),
    "hinge-ema-lr5e-4": ("hinge + EMA, Adam 5e-4 (0.5, 0.99)", 1800,
                         ["--loss", "hinge", "--lr", "5e-4", "--beta1", "0.5", "--beta2", "0.99", "--ema"]),
    "new-default": ("hinge + EMA, Adam 1e-3 (0, 0.99), width 32: the new default", 1800, NEW),
    "bce-lr1e-3": ("bce + EMA, Adam 1e-3 (0, 0.99)", 1800,
                   ["--loss", "bce", "--lr", "1e-3", "--beta1", "0", "--beta2", "0.99", "--ema"]),
    "new-default-w48": ("the new default at width 48", 1800, [*NEW, "--width", "48"]),
    "one-shape": ("the new default on one shape per image, plain backgrounds", 1800, [*NEW, *SIMPLE]),
    "lr-decay": ("the new default with its LR decayed linearly to 0 over the second half of the default 1500 steps",
                 1500, [*NEW, "--lr-policy", "linear", "--decay-start", "0.5"]),
    "r1": ("the new default with R1 (gamma 0.1, lazy: every 4 D steps)", 1500,
           [*NEW, "--reg", "r1", "--reg-opt", "r1.gamma=0.1", "--reg-opt", "r1.interval=4"]),
    "batch32": ("the new default at batch 32 for twice the steps (the same images seen, about the same time)", 3000,
                [*NEW, "--batch-size", "32"]),
    "bf16": ("the new default in bf16 with channels_last (fast only where the CPU has native bf16: AMX or "
             "AVX512-BF16)", 1800, [*NEW, "--precision", "bf16", "--channels-last"]),
    "lr-d-half": ("the new default with D's LR halved (5e-4; G keeps 1e-3): D leads the game at the default", 1500,
                  [*NEW, "--lr-d", "5e-4"]),
    "d-spectral": ("the new default with spectral norm instead of batch norm in D (SNGAN's standard CNN way: real "
                   "and fake batches share no batch statistics)", 1500, [*NEW, "--arch-opt", "d_norm=spectral"]),
    "d-none": ("the new default with no normalisation in D", 1500, [*NEW, "--arch-opt", "d_norm=none"]),
    "conditional": ("the new default as a class-conditional GAN (`--task conditional`: G gets the kind of the largest "
                    "shape, D projects it; evaluated with kinds drawn in turn, as the data has them)", 1500,
                    [*NEW, "--task", "conditional"]),
    "n-critic-2": ("the new default with two D steps per G step", 1500, [*NEW, "--n-critic", "2"]),
    "g-nearest": ("the new default with G upsampling by nearest neighbour + 3x3 conv instead of transposed convs",
                  1500, [*NEW, "--arch-opt", "g_up=nearest"]),
    "batch128": ("the new default at batch 128", 1500, [*NEW, "--batch-size", "128"]),
    "d-stem": ("the new default with a 3x3 stride-1 conv at full resolution before D's first downsampling", 1500,
               [*NEW, "--arch-opt", "d_stem=first"]),
    "g-nearest-d-stem": ("g-nearest and d-stem together", 1500,
                         [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=first"]),
    "g-nearest-d-stem-all-decay": ("g-nearest-d-stem-all with the LR decayed linearly to 0 from step 450: it was at "
                                   "FID 48 at step 600 before collapsing", 1500,
                                   [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all",
                                    "--lr-policy", "linear", "--decay-start", "0.3"]),
    "g-nearest-d-stem-all-none-r1": ("g-nearest-d-stem-all without normalisation in D, with R1 (gamma 0.1, every 4 D "
                                     "steps), as StyleGAN's D", 1500,
                                     [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--arch-opt",
                                      "d_norm=none", "--reg", "r1", "--reg-opt", "r1.gamma=0.1",
                                      "--reg-opt", "r1.interval=4"]),
    "g-nearest-d-stem-all-diffaugment": ("g-nearest-d-stem-all with DiffAugment (colour, translation, cutout) on "
                                         "everything D sees", 1500,
                                         [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all",
                                          "--augment", "diffaugment"]),
    "g-nearest-d-stem-all-lecam": ("g-nearest-d-stem-all with LeCam (weight 0.3)", 1500,
                                   [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--reg", "lecam"]),
    "g-nearest-d-stem-all-lr5e-4": ("g-nearest-d-stem-all at half the default's Adam rate (5e-4 for G and D)", 1500,
                                    [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--lr", "5e-4"]),
    "g-nearest-d-stem-all-lr5e-4-seed1": ("g-nearest-d-stem-all-lr5e-4, seed 1", 1500,
                                          [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--lr",
                                           "5e-4", "--seed", "1"]),
    "d-stem-all-lr5e-4": ("d_stem=all at Adam 5e-4 with the default (transposed-conv) G", 1500,
                          [*NEW, "--arch-opt", "d_stem=all", "--lr", "5e-4"]),
    "g-nearest-d-stem-all-lr2e-4": ("g-nearest-d-stem-all at Adam 2e-4 for G and D", 1500,
                                    [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--lr", "2e-4"]),
    "d-stem-all-spectral": ("the new default with SNGAN's standard-CNN D: a 3x3 stride-1 conv before every "
                            "downsampling, spectral norm instead of batch norm", 1500,
                            [*NEW, "--arch-opt", "d_stem=all", "--arch-opt", "d_norm=spectral"]),
    "g-nearest-d-stem-all-spectral": ("g-nearest with d-stem-all-spectral's D", 1500,
                                      [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all",
                                       "--arch-opt", "d_norm=spectral"]),
    "new-default-seed1": ("the new default, seed 1 (how much FID moves between seeds)", 1500, [*NEW, "--seed", "1"]),
    "g-nearest-seed1": ("g-nearest, seed 1", 1500, [*NEW, "--arch-opt", "g_up=nearest", "--seed", "1"]),
    "g-nearest-d-stem-all": ("g-nearest with a 3x3 stride-1 conv before every downsampling in D (SNGAN's standard "
                             "CNN pattern)", 1500, [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all"]),
    "g-nearest-d-stem-all-r1": ("g-nearest-d-stem-all with R1 (gamma 1, every 4 D steps) against its collapse", 1500,
                                [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--reg", "r1",
                                 "--reg-opt", "r1.gamma=1", "--reg-opt", "r1.interval=4"]),
    "g-nearest-d-stem-all-lr-d": ("g-nearest-d-stem-all with D at a quarter of G's rate (2.5e-4)", 1500,
                                  [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--lr-d", "2.5e-4"]),
    "pack2": ("the default with PacGAN packing: D judges pairs of samples (`--pack 2`), against palette collapse",
              1500, [*NEW, "--pack", "2"]),
    "g-nearest-d-stem-all-lr5e-4-pack2": ("g-nearest-d-stem-all-lr5e-4 with `--pack 2`", 1500,
                                          [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all", "--lr",
                                           "5e-4", "--pack", "2"]),
    "g-nearest-d-stem-all-lr5e-4-pack2-seed1": ("g-nearest-d-stem-all-lr5e-4-pack2, seed 1", 1500,
                                                [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_stem=all",
                                                 "--lr", "5e-4", "--pack", "2", "--seed", "1"]),
    "d-max": ("the default with D downsampling by 3x3 conv + 2x2 max-pool (`--arch-opt d_down=max`), the pattern "
              "that learns polygon-or-round fastest (shapes_yardsticks.md)", 1500, [*NEW, "--arch-opt", "d_down=max"]),
    "g-nearest-d-max": ("d-max with G upsampling by nearest neighbour + 3x3 conv", 1500,
                        [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_down=max"]),
    "g-nearest-d-max-lr-d": ("g-nearest-d-max with D at a quarter of G's rate (2.5e-4): that D wins the game at 1e-3",
                             1500, [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_down=max",
                                    "--lr-d", "2.5e-4"]),
    "g-nearest-d-max-bce": ("g-nearest-d-max with bce (non-saturating) instead of hinge: a hinge D that wins gets no "
                            "gradient, a bce D keeps learning", 1500,
                            [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_down=max", "--loss", "bce"]),
    "bcr": ("the default with balanced consistency regularisation (`--reg bcr`: D(T(x)) ~ D(x) for real and fake, "
            "T = translation + flip; Zhao et al. 2020)", 1500, [*NEW, "--reg", "bcr"]),
    "conditional-g-nearest-d-max": ("class-conditional with g-nearest-d-max: G need not morph one kind into another "
                                    "across its latent space, and a D that sees corners can check the kind",
                                    1500, [*NEW, "--task", "conditional", "--arch-opt", "g_up=nearest", "--arch-opt",
                                           "d_down=max"]),
    "conditional-d-max": ("class-conditional with d-max (transposed-conv G)", 1500,
                          [*NEW, "--task", "conditional", "--arch-opt", "d_down=max"]),
    "bcr-light": ("bcr at a tenth of the paper's weights (1 for real and fake)", 1500,
                  [*NEW, "--reg", "bcr", "--reg-opt", "bcr.weight_real=1", "--reg-opt", "bcr.weight_fake=1"]),
    "g-nearest-d-max-bcr-light": ("g-nearest-d-max-bcr at weights 1", 1500,
                                  [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_down=max", "--reg", "bcr",
                                   "--reg-opt", "bcr.weight_real=1", "--reg-opt", "bcr.weight_fake=1"]),
    "g-nearest-d-max-bcr": ("g-nearest-d-max with bCR: a D that sees corners, kept from keying on position",
                            1500, [*NEW, "--arch-opt", "g_up=nearest", "--arch-opt", "d_down=max", "--reg", "bcr"]),
}
EVAL_EVERY = 300


def shared(name: str, steps: str, out: Path, classifier: str) -> list[str]:
    """The `ganzoo train` settings every alternative shares."""
    return ["ganzoo", "train", "--width", "32", "--steps", steps, "--threads", "1", "--no-progress",
            "--out", str(out / name), "--overwrite", "--eval-every", str(EVAL_EVERY), "--metrics", "fid,kid,modes",
            "--classifier", classifier, "--eval-num", "1000", "--sample-every", str(EVAL_EVERY)]


def command(name: str, out: Path, classifier: str) -> list[str]:
    """The alternative's `ganzoo train` command: the shared settings, then its own (which win where they repeat)."""
    _, steps, extra = ALTERNATIVES[name]
    return [*shared(name, str(steps), out, classifier), *extra]


def records(run: Path) -> tuple[list[dict], list[dict]]:
    """The run's evaluations and its training log lines."""
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in lines if "eval/fid" in r], [r for r in lines if "img_per_s" in r]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True, help="a `ganzoo features train --dataset shapes` file")
    parser.add_argument("--out", default="runs/shapes-default", help="folder of the alternatives' runs")
    parser.add_argument("--only", help=f"comma-separated alternatives to train [{','.join(ALTERNATIVES)}]")
    parser.add_argument("--report-only", action="store_true", help="report the runs there are, train nothing")
    parser.add_argument("--markdown", help="write the report here")
    args = parser.parse_args(argv)
    out = Path(args.out)
    names = args.only.split(",") if args.only else list(ALTERNATIVES)
    for name in names if not args.report_only else []:
        evals = records(out / name)[0] if (out / name / "log.jsonl").exists() else []
        if evals and evals[-1]["step"] >= ALTERNATIVES[name][1]:
            continue
        print(shlex.join(command(name, out, args.classifier)), file=sys.stderr)
        subprocess.run(command(name, out, args.classifier), check=True)

    torch.set_num_threads(1)
    floors: dict[str, dict] = {}
    rows, curves = [], []
    for name, (what, steps, extra) in ALTERNATIVES.items():
        run = out / name
        if not (run / "log.jsonl").exists():
            continue
        evals, train = records(run)
        data = tuple(extra[i + 1] for i, flag in enumerate(extra) if flag == "--data-opt")
        if data not in floors:
            config = SimpleNamespace(dataset="shapes", data_root=None, image_size=32, channels=3, seed=0,
                                     data_options=parse_options(data, "--data-opt"))
            floors[data] = heldout_floor(config, 1000, args.classifier, "fid,kid,modes")
        floor = floors[data]
        last = evals[-1]
        speed = sorted(r["img_per_s"] for r in train)[len(train) // 2] if train else float("nan")
        rows.append(f"| {name} | {what} | {last['step']} of {steps} | {last['eval/fid']:.1f} | "
                    f"{last['eval/fid'] / floor['fid']:.1f}x | {last['eval/kid_x1000']:.0f} | "
                    f"{last['eval/confidence']:.3f} (real {floor['confidence']:.3f}) | "
                    f"{int(last['eval/modes_covered'])} | {speed:.0f} |")
        curves.append(f"- {name}: " + ", ".join(f"{r['step']}: {r['eval/fid']:.0f}" for r in evals))
    floor_lines = [f"- floor with `{' '.join(k) or 'the default dataset options'}`: FID {v['fid']:.2f}, KID x1000 "
                   f"{v['kid_x1000']:.0f}, confidence {v['confidence']:.3f}" for k, v in floors.items()]
    report = "\n".join([
        "# Candidate defaults for the main job, on `shapes` (32 px, batch 64)", "",
        f"- machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- command: `{shlex.join(['python', 'benchmarks/shapes_default.py', *(argv or sys.argv[1:])])}`",
        f"- each run: `{shlex.join(shared('NAME', 'STEPS', out, args.classifier))}` "
        "+ its settings (`ALTERNATIVES` in the script; `--only NAME` trains one)",
        "- img/s is the median of the run's log, one thread, with another run beside it: compare within the table",
        *floor_lines, "",
        "| alternative | settings | steps | FID | x floor | KID x1000 | confidence | classes | img/s |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows, "", "## FID every 300 steps", "", *curves, "",
    ])
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report)


if __name__ == "__main__":
    main()
