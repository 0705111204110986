"""Does the captured step train as its reference does? One line, exit status 1 when not.

On CUDA: ``--capture graphs`` (Inductor + CUDA graphs) against ``--capture step`` (the same graphs, no CUDA
graphs; both draw the same noise on the device). On the CPU: ``--capture step`` against the eager step. A
tiny dcgan with EMA trains a few steps each way through ``Trainer.fit`` (the real loop, which keeps each
step's logs while the next one runs); the logged losses must agree. Run by benchmarks/gpu_check.sh, where
pytest is not installed.

    python benchmarks/captured_check.py --device cuda
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer

KEYS = ("d_loss", "g_loss", "D(x)", "D(G(z))")


def losses(capture: str, device: str, steps: int, out: Path) -> list[dict[str, float]]:
    config = RunConfig(arch="dcgan", loss="bce", batch_size=16, width=16, nz=16, steps=steps, n_samples=4,
                       progress=False, log_every=1, sample_every=10**6, ckpt_every=10**6, data_options={"n": 64},
                       device=device, capture=capture, ema=True, out=str(out / capture))
    run = Trainer(config).fit()
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--compile-backend", default="inductor")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="relative, on every logged loss")
    args = parser.parse_args()
    if args.compile_backend != "inductor":
        torch.compile = functools.partial(torch.compile, backend=args.compile_backend)
    cuda = args.device.startswith("cuda")
    tested, reference = ("graphs", "step") if cuda else ("step", "off")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ref = losses(reference, args.device, args.steps, Path(tmp))
        got = losses(tested, args.device, args.steps, Path(tmp))
    worst = 0.0
    for a, b in zip(ref, got, strict=True):
        for key in KEYS:
            if a[key] is None or b[key] is None:
                worst = math.inf
                continue
            worst = max(worst, abs(a[key] - b[key]) / max(abs(a[key]), 1e-3))
    ok = worst <= args.tolerance
    print(f"captured check on {args.device}: --capture {tested} vs --capture {reference}, {args.steps} steps: "
          f"largest relative loss difference {worst:.2e} ({'ok' if ok else 'FAILED'}; tolerance {args.tolerance:g}); "
          f"{time.perf_counter() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
