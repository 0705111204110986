"""Where a training step's CPU time goes, for one architecture against dcgan at the same settings.

For each entry (``--arch`` at every ``--width``, then ``--baseline`` at ``--baseline-width``) the script builds
a :class:`~ganzoo.engine.trainer.Trainer` from a RunConfig, as benchmarks/speed_modes.py does, and times its
own ``train_step`` (n_critic D updates + one G update) on a fixed synthetic batch, so the data pipeline is out
of the picture. It prints, per entry:

- seconds per G step (wall and process CPU time; CPU time is steadier on a shared machine);
- the FLOPs of one whole step (forward, backward, every D update) and G's and D's forward FLOPs per batch,
  counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add; convolutions, linear
  layers and matmuls, so elementwise ops, norms and the optimizer are not counted), and the GFLOP/s reached:
  if two nets reach similar GFLOP/s, their time ratio is their FLOP ratio;
- the cost of spectral norm, where D has it: D forward+backward timed with its parametrizations and on a copy
  with them removed (the same weights, plain);
- for the first entry, the top ops by self CPU time under torch.profiler.

    OMP_NUM_THREADS=1 python benchmarks/profile_step.py --arch resnet-sn --loss bce --width 32 \\
        --image-size 32 --channels 1 --batch-size 64 --steps 3
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from ganzoo.bench import machine
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer


@dataclass
class Measured:
    """One entry's figures (times per G step, FLOPs per step or per batch)."""

    name: str
    wall_s: float
    cpu_s: float
    step_flops: int
    g_flops: int
    d_flops: int
    sn_share: float | None  # spectral norm's share of D forward+backward time
    params_g: int
    params_d: int


def build(arch: str, width: int, args: argparse.Namespace, out: Path) -> tuple[Trainer, Callable[[], object]]:
    """A trainer at these settings and a callable running one of its steps on a fixed synthetic batch."""
    cfg = RunConfig(arch=arch, loss=args.loss, width=width, image_size=args.image_size, channels=args.channels,
                    batch_size=args.batch_size, n_critic=args.n_critic, threads=args.threads, device="cpu",
                    progress=False, data_options={"n": args.batch_size}, out=str(out / f"{arch}-w{width}"))
    trainer = Trainer(cfg)
    gen = torch.Generator().manual_seed(0)
    batch = {"image": torch.rand(args.batch_size, args.channels, args.image_size, args.image_size,
                                 generator=gen) * 2 - 1,
             "label": torch.zeros(args.batch_size, dtype=torch.long)}

    def forever() -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield batch

    batches = forever()
    return trainer, lambda: trainer.train_step(batches)


def timed(step: Callable[[], object], n: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one call over ``n`` calls."""
    walls, cpus = [], []
    for _ in range(n):
        w, c = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return sorted(walls)[n // 2], sorted(cpus)[n // 2]


def flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def spectral_norm_share(D: nn.Module, images: torch.Tensor, n: int) -> float | None:
    """1 - (D fwd+bwd without spectral norm) / (with it), same weights; None when D has no parametrization."""
    plain = copy.deepcopy(D)
    names = [(m, k) for m in plain.modules() if parametrize.is_parametrized(m) for k in list(m.parametrizations)]
    if not names:
        return None
    for module, key in names:
        # a parametrized class is shared by deep copies, and removal deletes the property from it: give the
        # copy a class of its own first, so the original D keeps its spectral norm
        cls = type(module)
        module.__class__ = type(cls.__name__, cls.__bases__, dict(cls.__dict__))
        parametrize.remove_parametrizations(module, key, leave_parametrized=True)

    def pass_of(net: nn.Module) -> Callable[[], None]:
        def run() -> None:
            net.zero_grad(set_to_none=True)
            net(images).sum().backward()
        return run

    with_sn, without = pass_of(D), pass_of(plain)
    with_sn(), without()  # warm-up
    times: dict[str, list[float]] = {"sn": [], "plain": []}
    for _ in range(n):  # interleaved, so a load spike hits both
        for key, run in (("sn", with_sn), ("plain", without)):
            start = time.process_time()
            run()
            times[key].append(time.process_time() - start)
    sn, bare = (sorted(times[k])[n // 2] for k in ("sn", "plain"))
    D.zero_grad(set_to_none=True)
    return 1 - bare / sn


def measure(arch: str, width: int, args: argparse.Namespace, out: Path, profile_ops: bool) -> Measured:
    trainer, step = build(arch, width, args, out)
    G, D = trainer.eager["G"], trainer.eager["D"]
    for _ in range(args.warmup):
        step()
    wall, cpu = timed(step, args.steps)
    step_flops = flops(step)
    z = torch.randn(args.batch_size, trainer.config.nz)
    images = torch.rand(args.batch_size, args.channels, args.image_size, args.image_size) * 2 - 1
    with torch.no_grad():
        g_flops, d_flops = flops(lambda: G(z)), flops(lambda: D(images))
    share = spectral_norm_share(D, images, args.steps)
    if profile_ops:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        print(f"\n## top ops by self CPU time: {arch} width {width}, {args.steps} steps\n")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    n_params = [sum(p.numel() for p in net.parameters()) for net in (G, D)]
    return Measured(f"{arch} w{width}", wall, cpu, step_flops, g_flops, d_flops, share, *n_params)


def report(rows: list[Measured], base: Measured) -> str:
    head = ("| entry | s/step (wall) | s/step (cpu) | time x base | GFLOP/step | FLOPs x base | GFLOP/s | "
            "G fwd GFLOP/batch | D fwd GFLOP/batch | params G / D | spectral norm share of D fwd+bwd |")
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        sn = "-" if r.sn_share is None else f"{100 * r.sn_share:.1f}%"
        lines.append(f"| {r.name} | {r.wall_s:.3f} | {r.cpu_s:.3f} | {r.cpu_s / base.cpu_s:.1f} | "
                     f"{r.step_flops / 1e9:.3g} | {r.step_flops / base.step_flops:.1f} | "
                     f"{r.step_flops / 1e9 / r.cpu_s:.3g} | {r.g_flops / 1e9:.3g} | {r.d_flops / 1e9:.3g} | "
                     f"{r.params_g / 1e6:.2f}M / {r.params_d / 1e6:.2f}M | {sn} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet-sn")
    parser.add_argument("--loss", default="bce")
    parser.add_argument("--width", default="32", help="comma-separated widths, each measured")
    parser.add_argument("--baseline", default="dcgan", help="the architecture every ratio is to ('' for none)")
    parser.add_argument("--baseline-width", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-critic", type=int, default=None, help="D updates per G step (default: the loss's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="measured steps (the median counts)")
    parser.add_argument("--top", type=int, default=15, help="rows of the op table")
    parser.add_argument("--no-ops", action="store_true", help="skip the profiler's op table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    entries = [(args.arch, int(w)) for w in args.width.split(",")]
    if args.baseline:
        entries.append((args.baseline, args.baseline_width))
    print(f"machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}")
    print(f"loss {args.loss}, {args.image_size} px, {args.channels} channel(s), batch {args.batch_size}, "
          f"n_critic {args.n_critic or 'the loss default'}, {args.threads} thread(s)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for i, (arch, width) in enumerate(entries):
            rows.append(measure(arch, width, args, Path(tmp), profile_ops=i == 0 and not args.no_ops))
            print(f"measured {rows[-1].name}: {rows[-1].cpu_s:.3f} CPU-s per G step", flush=True)
    print("\n## per G step (median of the measured steps); ratios to the last row\n")
    print(report(rows, rows[-1]))


if __name__ == "__main__":
    main()
