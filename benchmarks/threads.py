"""CPU threads vs speed of the default ``ganzoo train`` step, side by side in one process.

Trains the default recipe (dcgan + bce on ``shapes``, 32 px, batch 64) with
``Trainer.train_step`` and switches ``torch.set_num_threads`` between rounds
(1 2, 2 1, ...), so drifting machine load hits every thread count alike. Each
round times ``--steps`` steps; the table gives the median img/s per thread
count and the ratio to the first. ``--competitors N`` starts N background
processes that each run a torch matmul loop with every core (another user's
training job, say) for the whole measurement, to see what happens when other
jobs share the cores; the load average before and after is recorded.

    python benchmarks/threads.py --threads 1,2 --markdown out.md
    python benchmarks/threads.py --threads 1,2 --competitors 2 --markdown out_loaded.md
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from ganzoo.bench import machine
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer

COMPETITOR = "import torch\na = torch.randn(512, 512)\nwhile True:\n    a = (a @ a).tanh()\n"


def main(argv: list[str] | None = None) -> dict[int, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts to compare, comma-separated")
    parser.add_argument("--steps", type=int, default=10, help="steps timed per round")
    parser.add_argument("--repeats", type=int, default=7, help="rounds per thread count (alternating)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--competitors", type=int, default=0, help="background torch jobs to run meanwhile")
    parser.add_argument("--markdown", help="write the result table here")
    args = parser.parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]

    config = RunConfig(device="cpu", progress=False, out="runs/threads-bench", data_options={"n": 256})
    trainer = Trainer(config)
    stream = trainer.batch_stream()
    batches = itertools.cycle([next(stream) for _ in range(4)])  # the same 4 batches for every thread count
    competitors = [subprocess.Popen([sys.executable, "-c", COMPETITOR]) for _ in range(args.competitors)]
    try:
        time.sleep(2 if competitors else 0)
        load_before = os.getloadavg()[0]
        for t in counts:
            torch.set_num_threads(t)
            for _ in range(args.warmup):
                trainer.train_step(batches)
        rates: dict[int, list[float]] = {t: [] for t in counts}
        for round_ in range(args.repeats):
            for t in counts if round_ % 2 == 0 else counts[::-1]:
                torch.set_num_threads(t)
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step(batches)
                rates[t].append(args.steps * config.batch_size / (time.perf_counter() - start))
        load_after = os.getloadavg()[0]
    finally:
        for process in competitors:
            process.kill()
            process.wait()
    medians = {t: statistics.median(r) for t, r in rates.items()}
    first = counts[0]
    lines = [
        "# Threads vs img/s of the default `ganzoo train` step", "",
        f"- command: `python {shlex.join(['benchmarks/threads.py', *(sys.argv[1:] if argv is None else argv)])}`",
        f"- machine: {machine()}, {len(os.sched_getaffinity(0))} CPUs available to the process; torch "
        f"{torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- {args.competitors} background torch job(s) using every core; load average {load_before:.1f} before, "
        f"{load_after:.1f} after (1-minute)",
        f"- dcgan + bce, shapes, 32 px, batch {config.batch_size}; {args.repeats} alternating rounds of "
        f"{args.steps} steps per thread count after {args.warmup} warm-up steps each",
        "",
        "| torch threads | median img/s | min | max | ratio to " + f"{first} thread(s) |",
        "|---|---|---|---|---|",
    ]
    for t in counts:
        lines.append(f"| {t} | {medians[t]:.0f} | {min(rates[t]):.0f} | {max(rates[t]):.0f} | "
                     f"{medians[t] / medians[first]:.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(report)
    return medians


if __name__ == "__main__":
    main()
