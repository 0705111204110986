"""Training speed of the engine's modes (eager, compile, kernels, bf16, ...) against the seed loops.

Every entry runs one full training step (D update + G update) at batch 64 on a
fixed synthetic batch already on the device, so the data pipeline is out of
the picture. Entries are timed in interleaved rounds (each round runs every
entry once, ``--steps`` steps each, synchronising the device before and after)
and the median round gives the figure. Baselines are benchmarks/baselines.py:
the seed 001 loop (32 px) and the pytorch/examples DCGAN recipe (64 px).

    python benchmarks/speed_modes.py --device cuda --markdown benchmarks/results/speed_modes_gpu.md
    python benchmarks/speed_modes.py --device cpu --steps 2 --rounds 3 --markdown benchmarks/results/speed_modes_cpu.md

``capture`` is ``--capture step`` (each D and G update compiled whole), ``capture+graphs`` adds CUDA
graphs (CUDA only). On the CPU only ratios to the seed loop mean anything; on a GPU img/s too.
benchmarks/gpu_check.sh runs this script with the modes worth checking whenever a GPU is available.
With a CUDA device the script also times the fused ``ganzoo::bias_act`` op
against its PyTorch reference on its own (``--kernel-bench``).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import BASELINES  # noqa: E402

from ganzoo.api import GanzooError  # noqa: E402
from ganzoo.bench import machine  # noqa: E402
from ganzoo.engine.config import RunConfig  # noqa: E402
from ganzoo.engine.trainer import Trainer  # noqa: E402

BATCH = 64
CONFIGS = {  # name: (arch, loss, image size)
    "dcgan-32": ("dcgan", "bce", 32),
    "dcgan-64": ("dcgan", "bce", 64),
    "resnet-sn-32": ("resnet-sn", "hinge", 32),
}
MODES = {  # name: RunConfig overrides
    "eager": {},
    "eager+kernels": {"kernels": "triton"},
    "compile": {"compile": True},
    "compile+kernels": {"compile": True, "kernels": "triton"},
    "bf16": {"precision": "bf16"},
    "bf16+cl": {"precision": "bf16", "channels_last": True},
    "compile+bf16": {"compile": True, "precision": "bf16"},
    "capture": {"capture": "step"},
    "capture+bf16": {"capture": "step", "precision": "bf16"},
    "capture+bf16+cl": {"capture": "step", "precision": "bf16", "channels_last": True},
    "compile+bf16+cl": {"compile": True, "precision": "bf16", "channels_last": True},
    "capture+graphs": {"capture": "graphs"},
    "capture+graphs+bf16": {"capture": "graphs", "precision": "bf16"},
}
CUDA_ONLY = ("kernels", "graphs")  # Triton needs CUDA (its interpreter is for tests), and so do CUDA graphs
BASELINE_OF = {32: "seed001", 64: "pytorch-examples"}


def set_batch(size: int) -> None:
    """``--batch-size``: every entry and baseline times this many images per step."""
    global BATCH
    BATCH = size


@dataclass
class Entry:
    """One timed thing: a ganzoo mode on a config, or a baseline loop."""

    name: str
    group: str
    step: Callable[[], None]
    times: list[float] = field(default_factory=list)
    error: str | None = None

    def img_per_s(self, steps: int) -> float:
        return BATCH * steps / statistics.median(self.times)


def synthetic(device: torch.device, size: int, channels_last: bool = False) -> torch.Tensor:
    images = torch.rand(BATCH, 3, size, size, device=device) * 2 - 1
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def ganzoo_entry(config: str, mode: str, device: torch.device, out: Path) -> Entry:
    arch, loss, size = CONFIGS[config]
    # width 64 and no EMA: the seed's and pytorch/examples' nets, whatever the task's defaults are.
    cfg = RunConfig(arch=arch, loss=loss, image_size=size, channels=3, batch_size=BATCH, width=64, ema=False,
                    device=str(device), progress=False, data_options={"n": BATCH}, out=str(out / f"{config}-{mode}"),
                    **MODES[mode])
    trainer = Trainer(cfg)
    batch = {"image": synthetic(trainer.device, size, cfg.channels_last),
             "label": torch.zeros(BATCH, dtype=torch.long, device=trainer.device)}

    def forever() -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield batch

    batches = forever()
    return Entry(mode, config, lambda: trainer.train_step(batches))


def baseline_entry(name: str, device: torch.device) -> Entry:
    make, size = BASELINES[name]
    step, images = make(device), synthetic(device, size)
    return Entry(f"{name} loop", f"baseline-{size}", lambda: step(images))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_entries(entries: list[Entry], device: torch.device, steps: int, rounds: int, warmup: int) -> None:
    for entry in entries:
        start = time.perf_counter()
        try:
            for _ in range(warmup):
                entry.step()
            sync(device)
        except Exception as exc:  # noqa: BLE001 - a mode that fails is reported in the table, not fatal
            entry.error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
        print(f"warm-up {entry.group}/{entry.name}: {time.perf_counter() - start:.1f} s {entry.error or ''}",
              flush=True)
    for r in range(rounds):
        for entry in [e for e in entries if e.error is None]:
            sync(device)
            start = time.perf_counter()
            for _ in range(steps):
                entry.step()
            sync(device)
            entry.times.append(time.perf_counter() - start)
        print(f"round {r + 1}/{rounds} done", flush=True)


def spread(base: Entry, entry: Entry) -> str:
    """``entry``'s speed over ``base``'s, round by round (both timed in the same round, so a load spike hits
    both): median [min-max] over rounds."""
    ratios = sorted(b / e for b, e in zip(base.times, entry.times, strict=True))
    return f"{statistics.median(ratios):.2f} [{ratios[0]:.2f}-{ratios[-1]:.2f}]"


def kernel_bench(device: torch.device) -> list[dict[str, Any]]:
    """The fused op alone vs the PyTorch reference (eager and compiled), forward+backward, resnet-sn D shapes."""
    import triton.testing

    from ganzoo.kernels import bias_act

    rows = []
    for shape in [(64, 128, 32, 32), (64, 128, 16, 16), (64, 128, 8, 8)]:
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
            b = torch.randn(shape[1], device=device, requires_grad=True)
            dy = torch.randn(shape, device=device, dtype=dtype)
            row: dict[str, Any] = {"shape": "x".join(map(str, shape)), "dtype": str(dtype).split(".")[1]}
            for impl in ("ref", "triton"):
                for compiled in (False, True):
                    fn = (lambda x, b, impl=impl: bias_act(x, b, 0.0, 1.0, impl))
                    if compiled:
                        fn = torch.compile(fn)

                    def fwd_bwd(fn=fn) -> None:
                        torch.autograd.backward(fn(x, b), dy)

                    key = f"{impl}{' compiled' if compiled else ''}"
                    row[key] = triton.testing.do_bench(fwd_bwd, warmup=50, rep=200, return_mode="median") * 1e3
            rows.append(row)
    return rows


def markdown(entries: list[Entry], args: argparse.Namespace, device: torch.device,
             kernels: list[dict[str, Any]]) -> str:
    seed = next(e for e in entries if e.name == "seed001 loop")
    gpu = device.type == "cuda"
    lines = [
        f"# Training speed by engine mode ({'GPU' if gpu else 'CPU'})",
        "",
        f"- command: `python benchmarks/speed_modes.py {' '.join(sys.argv[1:])}`",
        f"- machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- batch {BATCH}, synthetic images already on the device, one D + one G update per step; "
        f"{args.rounds} interleaved rounds of {args.steps} steps after {args.warmup} warm-up steps; each ratio is "
        f"per round (both timed in that round): median [min-max] over the rounds.",
        "- ratios are to the seed 001 loop (32 px) measured in the same run; `cl` = channels_last, "
        "`kernels` = `--kernels triton` (the fused bias+ReLU op; only resnet-sn's D has sites for it).",
        "",
        "| config | mode | " + ("img/s | " if gpu else "") + "× seed 001 loop | × same-size baseline |",
        "|---|---|" + ("---:|" if gpu else "") + "---:|---:|",
    ]
    by_group: dict[str, list[Entry]] = {}
    for e in entries:
        by_group.setdefault(e.group, []).append(e)
    for config, (_, _, size) in CONFIGS.items():
        if config not in by_group:
            continue
        base = next(e for e in entries if e.name == f"{BASELINE_OF[size]} loop")
        for e in [base, *by_group.get(config, [])]:
            label = f"baseline {size} px" if e is base else config
            if e.error:
                lines.append(f"| {label} | {e.name} | failed: {e.error} |" + (" |" if gpu else "") + " |")
                continue
            ips = e.img_per_s(args.steps)
            cells = [label, e.name] + ([f"{ips:,.0f}"] if gpu else []) + [spread(seed, e), spread(base, e)]
            lines.append("| " + " | ".join(cells) + " |")
    if kernels:
        lines += ["", "## The fused op alone: `ganzoo::bias_act` (bias + ReLU), forward + backward, µs (median)", "",
                  "| shape | dtype | ref eager | triton eager | ref compiled | triton compiled |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in kernels:
            lines.append(f"| {r['shape']} | {r['dtype']} | {r['ref']:.1f} | {r['triton']:.1f} | "
                         f"{r['ref compiled']:.1f} | {r['triton compiled']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ", ".join(CONFIGS))
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES))
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps first (compilation happens here; the "
                        "captured step runs eagerly first, compiles in step 2, records CUDA graphs in step 3)")
    parser.add_argument("--kernel-bench", action=argparse.BooleanOptionalAction, default=None,
                        help="also time the fused op alone [on with CUDA]")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    parser.add_argument("--json", type=Path, help="write raw timings here")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ganzoo-speed-modes"), help="scratch run directories")
    parser.add_argument("--batch-size", type=int, default=BATCH, help="images per step (a smoke run: small)")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend; aot_eager checks the compiled modes without Inductor's build")
    args = parser.parse_args()
    device = torch.device(args.device)
    set_batch(args.batch_size)
    if args.compile_backend != "inductor":
        torch.compile = functools.partial(torch.compile, backend=args.compile_backend)
    torch._dynamo.config.recompile_limit = 64  # many trainers share the same forward code objects here
    modes = [m for m in args.modes.split(",") if m]
    if device.type != "cuda":
        modes = [m for m in modes if not any(word in m for word in CUDA_ONLY)]
    entries = [baseline_entry(name, device) for name in BASELINES]
    for config in [c for c in args.configs.split(",") if c]:
        for mode in modes:
            if "kernels" in mode and CONFIGS[config][0] != "resnet-sn":
                continue  # no fused-op site: the same graph as without kernels
            try:
                entries.append(ganzoo_entry(config, mode, device, args.out))
            except GanzooError as exc:  # a combination the engine refuses is reported, not fatal
                entries.append(Entry(mode, config, lambda: None, error=str(exc)[:120]))
    time_entries(entries, device, args.steps, args.rounds, args.warmup)
    kernels = kernel_bench(device) if (args.kernel_bench or (args.kernel_bench is None and device.type == "cuda")) \
        else []
    table = markdown(entries, args, device, kernels)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)
    if args.json:
        args.json.write_text(json.dumps({"entries": [{"group": e.group, "name": e.name, "times": e.times,
                                                      "error": e.error}
                                                     for e in entries], "kernels": kernels}, indent=1))


if __name__ == "__main__":
    main()
