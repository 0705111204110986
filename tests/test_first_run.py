"""What a new user sees of a run: its first line, threads, no silent no-op on resume, no third-party noise,
grids that ``ganzoo sample`` redraws exactly and that conditional runs lay out in whole rows of classes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import io

import ganzoo.metrics
from ganzoo.cli import cli
from ganzoo.engine.trainer import cpu_threads

TINY = ["--width", "8", "--nz", "16", "--batch-size", "8", "--data-opt", "n=64", "--device", "cpu",
        "--log-every", "1", "--n-samples", "16"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    """A 2-step run trained through the CLI, and what the CLI printed."""
    out = tmp_path_factory.mktemp("first") / "run"
    result = CliRunner().invoke(cli, ["train", *TINY, "--steps", "2", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_first_line_says_what_trains_on_what_for_how_long_and_where(run):
    out, output = run
    first = output.splitlines()[0]
    assert first.startswith("training dcgan + hinge for task unconditional on shapes (64 items, 32 px, 3 channels), "
                            "batch 8, 2 steps, on cpu (fp32, ")
    assert first.endswith(f"); writing {out}")
    assert "kernels" not in output


def test_resume_with_nothing_to_train_fails_after_its_notice_and_shows_no_progress_bar(run):
    out, _ = run
    result = CliRunner().invoke(cli, ["train", "--resume", str(out), "--steps", "2"])  # progress bar on
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: the run is at step 2 and --steps is 2: nothing to train; pass a --steps above 2 to go on"]


def test_sample_with_seed_plus_one_redraws_the_training_grid_exactly(run, tmp_path):
    out, _ = run
    grid = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, ["sample", str(out), "-n", "16", "--seed", "1", "--out", str(grid),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(io.imread(grid), io.imread(out / "samples.png"))


def test_threads_setting_and_its_default(run, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(run[0], out)
    before = torch.get_num_threads()
    try:
        result = CliRunner().invoke(cli, ["train", "--resume", str(out), "--steps", "3", "--threads", "1",
                                          "--no-progress"])
        assert result.exit_code == 0, result.output
        assert "(fp32, 1 thread); writing" in result.output.splitlines()[0]
        assert torch.get_num_threads() == 1
        refused = CliRunner().invoke(cli, ["train", "--threads", "0"])
        assert refused.exit_code == 1 and "threads = 0 (--threads): must be at least 1" in refused.output
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
        torch.set_num_threads(8)
        assert (cpu_threads(None), cpu_threads(None, processes=2), cpu_threads(6)) == (4, 2, 6)
        torch.set_num_threads(2)
        assert cpu_threads(None) == 2, "the default only ever lowers torch's own count"
    finally:
        torch.set_num_threads(before)


def test_conditional_grids_hold_whole_rows_of_classes_and_eval_still_counts_every_sample(tmp_path, monkeypatch):
    out = tmp_path / "cond"
    args = ["train", *TINY, "--task", "conditional", "--steps", "1", "--no-progress", "--n-samples", "10"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    pad, side = 2, 32  # save_grid's padding; shapes has 4 classes: 10 samples -> 2 whole rows of 4
    assert io.imread(out / "samples.png").shape[:2] == (2 * side + 3 * pad, 4 * side + 5 * pad)
    grid = tmp_path / "grid.png"
    sampled = CliRunner().invoke(cli, ["sample", str(out), "-n", "10", "--seed", "1", "--out", str(grid),
                                       "--device", "cpu"])
    assert sampled.exit_code == 0 and sampled.output.strip() == (
        f"wrote 8 samples to {grid} (-n 10: task 'conditional' draws whole rows of 4)")
    assert np.array_equal(io.imread(grid), io.imread(out / "samples.png"))
    counted = []
    monkeypatch.setattr(ganzoo.metrics, "embed", lambda images, net, device: counted.append(len(images)) or
                        ganzoo.metrics.ImageSet(images))
    run = ganzoo.load_run(out, "cpu")
    ganzoo.metrics.evaluate_generator(run.task, run.nets, torch.device("cpu"), metrics="memorization", num=13)
    assert counted[-1] == 13


def test_torchs_no_cuda_runtime_notice_is_kept_out_of_the_terminal(tmp_path):
    """``--compile`` imports torch.utils.cpp_extension, which logs it on any CPU machine with a CUDA toolkit."""
    if torch.cuda.is_available():
        pytest.skip("the notice only appears without a CUDA runtime")
    code = ("from click.testing import CliRunner; from ganzoo.cli import cli; "
            "CliRunner().invoke(cli, ['list', 'losses']); import torch.utils.cpp_extension")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "CUDA_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "No CUDA runtime" not in result.stderr
