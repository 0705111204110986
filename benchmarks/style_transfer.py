"""Offline style-transfer benchmark for the ``cyclegan`` task, with ground truth.

Trains cyclegan on ``style-benchmark`` (domain A = crops of skimage.data photos,
B = A through a known colour + sharpen filter f, A and B from disjoint halves
so no pair is ever seen), then scores held-out pairs: PSNR/SSIM of G_AB(a) vs
f(a) and of G_BA(f(a)) vs a, against the identity map and
``skimage.exposure.match_histograms`` (see ``CycleGAN.evaluate``). Writes
``<results>/<name>.md``, ``.json`` and ``.png`` (the held-out grid).

``--timing`` adds a per-iteration timing at the reference recipe's settings
(batch 1, 256 px, resnet-9blocks, width 64, lsgan, pool 50): ganzoo's
``Trainer.train_step`` against :func:`reference_step`, the training iteration
of junyanz/pytorch-CycleGAN written out plainly (G step first with D frozen,
then each D with its own backward, a Python-list pool) on the same networks.
Both are measured interleaved in one process on the same pre-made batches;
the report gives the ratio.

    OMP_NUM_THREADS=1 nice python benchmarks/style_transfer.py --device cpu --timing
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ganzoo.engine.config import RunConfig, parse_options
from ganzoo.engine.trainer import Trainer, resolve_device
from ganzoo_plugins.architectures.patchgan import PatchDiscriminator
from ganzoo_plugins.architectures.resnet_generator import ResnetGenerator

RESULTS = Path(__file__).resolve().parent / "results"


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, torch.get_num_threads()={torch.get_num_threads()}"


def config(args: argparse.Namespace, out: str, **overrides: Any) -> RunConfig:
    values = dict(
        task="cyclegan", arch=args.arch, dataset="style-benchmark", image_size=args.image_size, width=args.width,
        batch_size=args.batch_size, steps=args.steps, lr_policy="linear", seed=args.seed, device=args.device,
        out=out, progress=False, log_every=50, sample_every=max(1, args.steps // 10), ckpt_every=args.steps,
        n_samples=8, data_options={"n": args.n, "n_test": args.n_test},
        task_options=parse_options(tuple(args.task_opt), "--task-opt"),
        arch_options=parse_options(tuple(args.arch_opt), "--arch-opt"),
    )
    values.update(overrides)
    return RunConfig(**values)


def train_and_score(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    trainer = Trainer(config(args, str(run_dir)))
    start, cpu_start, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    trainer.fit()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    nets = trainer.sample_nets()
    for net in nets.values():
        net.eval()
    scores = trainer.task.evaluate(nets, trainer.device, num=args.n_test, out=str(run_dir))
    return {"train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
            "load_average_at_start": load, "scores": scores}


def reference_step(G_A: nn.Module, G_B: nn.Module, D_A: nn.Module, D_B: nn.Module,
                   lambda_cycle: float = 10.0, lambda_identity: float = 0.5,
                   pool_size: int = 50) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One iteration of the reference CycleGAN recipe, as its users run it.

    G_A: A -> B judged by D_A; G_B: B -> A judged by D_B (the reference's naming).
    """
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    opt_G = torch.optim.Adam([*G_A.parameters(), *G_B.parameters()], lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam([*D_A.parameters(), *D_B.parameters()], lr=2e-4, betas=(0.5, 0.999))
    pools: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])

    def from_pool(pool: list[torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        chosen = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(pool) < pool_size:
                pool.append(image)
                chosen.append(image)
            elif random.uniform(0, 1) > 0.5:
                k = random.randint(0, pool_size - 1)
                chosen.append(pool[k].clone())
                pool[k] = image
            else:
                chosen.append(image)
        return torch.cat(chosen)

    def gan(pred: torch.Tensor, real: bool) -> torch.Tensor:
        return mse(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    def step(real_A: torch.Tensor, real_B: torch.Tensor) -> None:
        fake_B, fake_A = G_A(real_A), G_B(real_B)
        rec_A, rec_B = G_B(fake_B), G_A(fake_A)
        for D in (D_A, D_B):
            D.requires_grad_(False)
        opt_G.zero_grad()
        loss_idt = (l1(G_A(real_B), real_B) + l1(G_B(real_A), real_A)) * lambda_cycle * lambda_identity
        loss_G = (gan(D_A(fake_B), True) + gan(D_B(fake_A), True) + l1(rec_A, real_A) * lambda_cycle
                  + l1(rec_B, real_B) * lambda_cycle + loss_idt)
        loss_G.backward()
        opt_G.step()
        for D in (D_A, D_B):
            D.requires_grad_(True)
        opt_D.zero_grad()
        for D, real, fake in ((D_A, real_B, from_pool(pools[0], fake_B)), (D_B, real_A, from_pool(pools[1], fake_A))):
            loss_D = (gan(D(real), True) + gan(D(fake.detach()), False)) * 0.5
            loss_D.backward()
        opt_D.step()

    return step


def time_iterations(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Per-iteration seconds of ganzoo and the reference loop at the reference settings, interleaved."""
    size, batch = 256, 1
    cfg = config(args, str(work / "timing"), arch="resnet-9blocks", image_size=size, width=64, batch_size=batch,
                 steps=10**6, lr_policy="linear", data_options={"n": 64, "n_test": 8}, task_options={},
                 arch_options={})
    trainer = Trainer(cfg)
    device = trainer.device
    batches = [{k: v.to(device) for k, v in torch.utils.data.default_collate([trainer.dataset[i]]).items()}
               for i in range(4)]
    nets = [ResnetGenerator(3, 3, 64, 9), ResnetGenerator(3, 3, 64, 9), PatchDiscriminator(3, 64, 3, "instance"),
            PatchDiscriminator(3, 64, 3, "instance")]
    reference = reference_step(*(net.to(device) for net in nets))

    def ganzoo_iteration(i: int) -> None:
        trainer.train_step(iter([batches[i % len(batches)]]))

    def reference_iteration(i: int) -> None:
        reference(batches[i % len(batches)]["A"], batches[i % len(batches)]["B"])

    def timed(fn: Callable[[int], None], i: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn(i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for i in range(args.timing_warmup):
        timed(ganzoo_iteration, i)
        timed(reference_iteration, i)
    ours, ref = [], []
    for i in range(args.timing_iters):
        ours.append(timed(ganzoo_iteration, i))
        ref.append(timed(reference_iteration, i))
    return {"settings": f"batch {batch}, {size} px, resnet-9blocks, width 64, lsgan, pool 50, fp32",
            "iterations": args.timing_iters, "ganzoo_median_s": statistics.median(ours),
            "reference_median_s": statistics.median(ref),
            "ratio_ganzoo_over_reference": statistics.median(ours) / statistics.median(ref)}


def _row(name: str, label: str, scores: dict[str, Any]) -> str:
    a, b = scores["AtoB"][name], scores["BtoA"][name]
    return f"| {label} | {a['psnr']:.2f} | {a['ssim']:.3f} | {b['psnr']:.2f} | {b['ssim']:.3f} |"


def report(args: argparse.Namespace, device: torch.device, result: dict[str, Any]) -> str:
    lines = [
        f"# CycleGAN on the offline style benchmark ({args.name})",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d}",
        f"- machine: {machine(device)}",
        f"- torch {torch.__version__}, Python {platform.python_version()}",
        f"- command: `{' '.join(['python', *sys.argv])}`",
    ]
    if "scores" in result:
        lines += quality_section(args, result)
    if "timing" in result:
        lines += timing_section(result["timing"], device)
    return "\n".join(lines) + "\n"


def quality_section(args: argparse.Namespace, result: dict[str, Any]) -> list[str]:
    scores = result["scores"]
    baselines = ("identity", "match_histograms_one", "match_histograms_domain")
    beats = {d: all(scores[d]["model"]["psnr"] > scores[d][b]["psnr"] for b in baselines) for d in ("AtoB", "BtoA")}
    options = ", ".join([*args.task_opt, *args.arch_opt]) or "default options"
    return [
        f"- budget: {args.steps} steps at batch {args.batch_size} ({args.steps * args.batch_size} images per "
        f"domain), {args.arch}, width {args.width}, {args.image_size} px, lsgan, {options}, lr 2e-4 constant then "
        f"linear decay to 0 from step {args.steps // 2}; training took {result['train_seconds']:.0f} s wall clock, "
        f"{result['train_cpu_seconds']:.0f} s of CPU time (machine load average {result['load_average_at_start']:.1f} "
        "at the start: the wall clock includes other users' jobs)",
        f"- data: style-benchmark, n={args.n} train patches (A from one half, B = f of the other half), "
        f"{scores['pairs']} held-out aligned pairs (a, f(a)); f = 45 degree hue rotation + warm cast + gamma 0.7 "
        "+ unsharp mask (radius 1, amount 1.5)",
        "",
        "Held-out scores (RGB in [0, 1], mean over pairs). A->B: G_AB(a) vs f(a); B->A: G_BA(f(a)) vs a.",
        "`match_histograms` (one): the input matched to the target-domain image of train item i; (domain): matched "
        f"to the first {scores['histogram_references']} target-domain train images tiled together.",
        "",
        "| method | A->B PSNR | A->B SSIM | B->A PSNR | B->A SSIM |",
        "| --- | --- | --- | --- | --- |",
        _row("model", "cyclegan (ganzoo)", scores),
        _row("identity", "identity map", scores),
        _row("match_histograms_one", "match_histograms (one train image)", scores),
        _row("match_histograms_domain", "match_histograms (train domain)", scores),
        "",
        f"Model beats every baseline on held-out PSNR: A->B {'yes' if beats['AtoB'] else 'NO'}, "
        f"B->A {'yes' if beats['BtoA'] else 'NO'}.",
        "",
        f"![held-out grid]({args.name}.png)",
        "",
        "Grid rows: a | f(a) | G_AB(a) | match_histograms(a, domain B) | f(a) | a | G_BA(f(a)) | "
        "match_histograms(f(a), domain A).",
    ]


def timing_section(timing: dict[str, Any], device: torch.device) -> list[str]:
    absolute = (f" ({timing['ganzoo_median_s'] * 1e3:.1f} ms vs {timing['reference_median_s'] * 1e3:.1f} ms)"
                if device.type == "cuda" else "")
    return [
        "",
        "## Per-iteration time at the reference recipe's settings",
        "",
        f"{timing['settings']}; median of {timing['iterations']} iterations each, measured interleaved in one "
        "process on the same batches. Reference = the junyanz/pytorch-CycleGAN iteration written out plainly "
        "(`reference_step` in the script) on the same networks.",
        "",
        f"- ganzoo `Trainer.train_step` / reference iteration: **{timing['ratio_ganzoo_over_reference']:.2f}x** "
        f"the time{absolute}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--arch", default="resnet-6blocks")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--task-opt", action="append", default=[], metavar="K=V",
                        help="cyclegan task option, repeatable, e.g. lambda_identity=0")
    parser.add_argument("--arch-opt", action="append", default=[], metavar="K=V",
                        help="architecture option, repeatable, e.g. n_layers=1")
    parser.add_argument("--timing", action="store_true", help="Also time iterations at the reference settings.")
    parser.add_argument("--timing-only", action="store_true", help="Only the timing, no training.")
    parser.add_argument("--timing-iters", type=int, default=5)
    parser.add_argument("--timing-warmup", type=int, default=1)
    parser.add_argument("--name", default="style_transfer", help="Output file stem under --results.")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--run-dir", type=Path, help="Keep the training run here (default: a temp folder).")
    args = parser.parse_args()
    device = resolve_device(args.device)
    args.results.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.timing_only:
            run_dir = args.run_dir or Path(tmp) / "run"
            result = train_and_score(args, run_dir)
            shutil.copy(run_dir / "cyclegan_eval.png", args.results / f"{args.name}.png")
        if args.timing or args.timing_only:
            result["timing"] = time_iterations(args, Path(tmp))
    (args.results / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    text = report(args, device, result)
    (args.results / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
