"""Seed 001's training loop as its user wrote it vs ``ganzoo train``'s step, side by side in one process.

Both train the same 32 px, 3-channel DCGAN (seed 001's widths: G 256-128-64,
D 64-128-256) at the same batch size on the same image tensors, already on
the device. The seed loop is eager fp32 with Sigmoid + BCELoss and a second G
forward for the G step (benchmarks/baselines.py); ganzoo runs
``Trainer.train_step`` with whatever ``--precision``/``--compile``/
``--channels-last`` asks for. Rounds alternate between the two (A B, B A, ...)
so drifting machine load hits both alike; each round times ``--steps`` steps
after a device sync, and the table gives the median step time per contender
and the ratio ganzoo / seed (below 1: ganzoo is faster).

    python benchmarks/speed_vs_seed.py --device cpu --markdown benchmarks/results/speed_vs_seed_cpu.md
    python benchmarks/speed_vs_seed.py --device cuda --precision bf16 --compile --markdown out.md
"""

from __future__ import annotations

import argparse
import functools
import itertools
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import seed001  # noqa: E402

from ganzoo.api import DataOptions  # noqa: E402
from ganzoo.bench import machine  # noqa: E402
from ganzoo.engine.config import RunConfig  # noqa: E402
from ganzoo.engine.trainer import Trainer, resolve_device  # noqa: E402
from ganzoo.registry import get  # noqa: E402

SIZE, CHANNELS = 32, 3


def real_images(n: int, device: torch.device) -> torch.Tensor:
    """``n`` images of the embedded shapes dataset (no download), on the device."""
    dataset = get("datasets", "shapes").load("shapes", DataOptions(image_size=SIZE, channels=CHANNELS, options={"n": n}))
    return torch.stack([dataset[i]["image"] for i in range(n)]).to(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ganzoo_step(args: argparse.Namespace, device: torch.device, data: list[torch.Tensor]) -> Callable[[], None]:
    config = RunConfig(arch="dcgan", loss="bce", dataset="shapes", image_size=SIZE, channels=CHANNELS, width=64,
                       ema=False, lr=2e-4, beta1=0.5, beta2=0.999,
                       batch_size=args.batch_size, device=str(device), precision=args.precision,
                       compile=args.compile, capture=args.capture, channels_last=args.channels_last, progress=False,
                       data_options={"n": args.batch_size}, out="runs/speed_vs_seed")
    trainer = Trainer(config)
    memory = torch.channels_last if args.channels_last else torch.contiguous_format
    batches: Iterator[dict[str, torch.Tensor]] = (
        {"image": x.contiguous(memory_format=memory), "label": torch.zeros(len(x), dtype=torch.long, device=device)}
        for x in itertools.cycle(data)
    )
    return lambda: trainer.train_step(batches)


def seed_step(device: torch.device, data: list[torch.Tensor]) -> Callable[[], None]:
    step, batches = seed001(device, CHANNELS), itertools.cycle(data)
    return lambda: step(next(batches))


def time_round(step: Callable[[], None], steps: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="steps timed per round")
    parser.add_argument("--repeats", type=int, default=7, help="rounds per contender (alternating)")
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps first (compile happens here; the "
                        "captured step runs eagerly first, compiles in step 2, records CUDA graphs in step 3)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="ganzoo only")
    parser.add_argument("--compile", action="store_true", help="torch.compile ganzoo's G and D")
    parser.add_argument("--channels-last", action="store_true", help="ganzoo only")
    parser.add_argument("--capture", choices=["off", "step", "graphs"], default="off",
                        help="ganzoo's captured step (graphs: with CUDA graphs)")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend; aot_eager checks the compiled modes without Inductor's build")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", help="write the result table here")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    if args.compile_backend != "inductor":
        torch.compile = functools.partial(torch.compile, backend=args.compile_backend)
    torch.manual_seed(args.seed)
    images = real_images(args.batch_size * 4, device)
    data = list(images.split(args.batch_size))
    contenders = {"seed 001 loop (eager fp32, Sigmoid+BCELoss)": seed_step(device, data),
                  "ganzoo train step": ganzoo_step(args, device, data)}
    for step in contenders.values():
        for _ in range(args.warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for round_ in range(args.repeats):
        for name in order if round_ % 2 == 0 else order[::-1]:
            times[name].append(time_round(contenders[name], args.steps, device))
    seed_name, ganzoo_name = order
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians[ganzoo_name] / medians[seed_name]
    ganzoo_mode = " + ".join([args.precision] + ["compile"] * args.compile + ["channels_last"] * args.channels_last
                             + ([f"capture {args.capture}"] if args.capture != "off" else []))
    lines = [
        "# Step time: seed 001's loop vs ganzoo", "",
        f"- command: `python {shlex.join(['benchmarks/speed_vs_seed.py', *(sys.argv[1:] if argv is None else argv)])}`",
        f"- machine: {machine()}; device {device}; torch {torch.__version__}; "
        f"date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- DCGAN {SIZE} px, {CHANNELS} channels, batch {args.batch_size}, same image tensors for both; ganzoo: "
        f"{ganzoo_mode}; {args.repeats} alternating rounds of {args.steps} steps after {args.warmup} warm-up steps",
        "",
        "| contender | median ms/step | min ms/step | max ms/step | img/s (median) |",
        "|---|---|---|---|---|",
    ]
    for name, values in times.items():
        lines.append(f"| {name} | {1e3 * medians[name]:.2f} | {1e3 * min(values):.2f} | {1e3 * max(values):.2f} | "
                     f"{args.batch_size / medians[name]:.0f} |")
    lines += ["", f"**ratio ganzoo / seed (median step time): {ratio:.3f}** "
              f"({1 / ratio:.2f}x the seed loop's speed)", ""]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(report)
    return {"ratio": ratio, **{name: medians[name] for name in medians}}


if __name__ == "__main__":
    main()
