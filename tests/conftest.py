"""Shared test fixtures: third-party test distributions installed offline, the CLI in a subprocess, and the two runs
of an exact-resume test with the checks that compare them."""

from __future__ import annotations

import copy
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """pip-install a test distribution of tests/plugins (no network, no build isolation) into its own folder,
    the first time a test asks for it: ``installed["ganzoo-example"]`` is that folder."""

    class Installed(dict):
        def __missing__(self, name: str) -> Path:
            work = tmp_path_factory.mktemp(name)
            shutil.copytree(PLUGINS / name, work / "src")
            target = work / "site"
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                 "--target", str(target), str(work / "src")],
                check=True, capture_output=True,
            )
            self[name] = target
            return target

    return Installed()


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """An MNIST IDX file (gzipped where the name ends in .gz)."""
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_fake_mnist(folder: Path) -> Path:
    """100 'digits' as MNIST's t10k files in ``folder``: image i is filled with 20 * (i % 10), its label i % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(100) % 10
    images = np.repeat((labels * 20)[:, None, None], 28, axis=1).repeat(28, axis=2)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images, 0x803)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels, 0x801)
    return folder


@pytest.fixture
def fake_mnist(tmp_path: Path) -> Path:
    """tmp_path holding :func:`write_fake_mnist`'s 100 digits."""
    return write_fake_mnist(tmp_path)


def ganzoo_cli(*args: str, sites: list[Path] = (), env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m ganzoo ARGS`` with ``sites`` (installed test distributions) on the path and no GANZOO_* settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GANZOO_")}
    environ["PYTHONPATH"] = os.pathsep.join([*map(str, sites), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=environ,
                          timeout=300)


@pytest.fixture
def resume_pair(tmp_path):
    """The two runs an exact-resume test compares: ``resume_pair(make, steps)`` trains ``make(out, steps)`` straight
    into tmp_path/a, and ``steps // 2`` into tmp_path/b before resuming that to ``steps``; returns both run
    directories and their log records."""
    from ganzoo.engine.config import RunConfig
    from ganzoo.engine.trainer import Trainer

    def train(make: Callable[[str, int], Any], steps: int) -> tuple[Path, Path, list[dict], list[dict]]:
        straight = Trainer(make(str(tmp_path / "a"), steps)).fit()
        Trainer(make(str(tmp_path / "b"), steps // 2)).fit()
        resumed = Trainer(RunConfig(steps=steps), resume=tmp_path / "b").fit()
        assert resumed == tmp_path / "b"
        logs = [[json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
                for run in (straight, resumed)]
        return straight, resumed, *logs

    return train


# What every tiny test run shares: few samples, no progress bar, a log line each step, no checkpoint or grid midway
QUIET = dict(n_samples=4, progress=False, log_every=1, sample_every=1000, ckpt_every=1000)


def tiny_run(**settings: Any) -> Callable[..., Any]:
    """A test file's maker of tiny runs: ``tiny(tmp_path, name="run", **overrides)`` is a RunConfig with
    :data:`QUIET`, then the file's ``settings``, then ``overrides``, writing to ``tmp_path / name``."""
    from ganzoo.engine.config import RunConfig

    def tiny(tmp_path: Path, name: str = "run", **overrides: Any) -> RunConfig:
        return RunConfig(**copy.deepcopy({**QUIET, **settings, "out": str(tmp_path / name), **overrides}))

    return tiny


def one_error_line(result, exit_code: int = 1) -> str:
    """The output is exactly one ``Error:`` line (train's start line and its shared-CPU warning aside, both printed
    before any step), and the command failed: exit status 1 for ganzoo's errors, 2 for click's usage errors."""
    lines = [line for line in result.output.splitlines()
             if line.strip() and not line.startswith(("training ", "warning: load average"))]
    assert result.exit_code == exit_code and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def assert_same_logs(log_a: list[dict], log_b: list[dict], keys: tuple[str, ...]) -> None:
    """Step for step, the logged ``keys`` agree (float tolerance: the same ops, perhaps in another order)."""
    assert [r["step"] for r in log_a] == [r["step"] for r in log_b]
    for a, b in zip(log_a, log_b, strict=True):
        for key in keys:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (a["step"], key)


def assert_same_weights(run_a: Path, run_b: Path, prefixes: tuple[str, ...] = ("G.", "D."), exact: bool = False) -> None:
    """The two checkpoints hold the same tensors under ``prefixes`` (bit for bit when ``exact``)."""
    from ganzoo.engine.checkpoint import load_checkpoint

    weights_a, _ = load_checkpoint(run_a)
    weights_b, _ = load_checkpoint(run_b)
    assert weights_a.keys() == weights_b.keys()
    tolerance = dict(rtol=0, atol=0) if exact else dict(rtol=1e-5, atol=1e-6)
    for key in weights_a:
        if key.startswith(prefixes):
            torch.testing.assert_close(weights_a[key], weights_b[key], **tolerance, msg=key)
