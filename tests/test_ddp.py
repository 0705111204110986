"""DDP through torchrun: 2 gloo processes on the CPU train exactly like one process with the global batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.distributed import SyncBatchNorm, convert_sync_batchnorm
from ganzoo.engine.trainer import Trainer, resume_hint

COMMON = ["--arch", "dcgan", "--loss", "bce", "--width", "8", "--nz", "16", "--steps", "3", "--log-every", "1",
          "--data-opt", "n=64", "--device", "cpu", "--no-progress", "--ema"]


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_two_processes_equal_one_process_with_the_global_batch(tmp_path, monkeypatch):
    """dcgan (BatchNorm -> SyncBatchNorm) + EMA: same losses, weights, BN statistics; rank 0 alone writes."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--nproc", "2", "--batch-size", "8", "--out", str(tmp_path / "ddp"), *COMMON])
    assert result.exit_code == 0, result.output
    single = Trainer(RunConfig(arch="dcgan", loss="bce", width=8, nz=16, steps=3, log_every=1, ema=True,
                               batch_size=16, data_options={"n": 64}, device="cpu", progress=False,
                               out=str(tmp_path / "single"))).fit()
    ddp_log, single_log = read_log(tmp_path / "ddp"), read_log(single)
    assert [r["step"] for r in ddp_log] == [1, 2, 3], "one writer: rank 0"
    for a, b in zip(ddp_log, single_log, strict=True):
        for key in ("d_loss", "g_loss", "D(x)", "D(G(z))"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (a["step"], key)
    ddp_weights, _ = load_checkpoint(tmp_path / "ddp")
    single_weights, _ = load_checkpoint(single)
    keys = [k for k in single_weights if k.startswith(("G.", "D.", "ema."))]
    assert any(k.endswith("running_var") for k in keys)
    for key in keys:
        torch.testing.assert_close(ddp_weights[key], single_weights[key], rtol=1e-4, atol=1e-5, msg=key)
    assert sorted(p.name for p in (tmp_path / "ddp" / "samples").iterdir()) == ["step_000003.png"]


def test_ctrl_c_stops_both_processes_after_one_step_with_a_checkpoint_to_resume(tmp_path):
    """SIGINT to `ganzoo train --nproc 2` (as Ctrl-C, or `kill -INT`): both workers stop after the same step,
    rank 0 saves and says once how to go on, exit status 130, no process is left behind, and the run resumes."""
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "ganzoo", "train", "--nproc", "2", "--batch-size", "4", "--out",
                                str(run), *COMMON, "--steps", "100000"], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not ((run / "log.jsonl").is_file() and (run / "log.jsonl").read_text().strip()):
        assert process.poll() is None and time.monotonic() < deadline, "training did not start"
        time.sleep(0.2)
    family = _descendants(process.pid)  # torchrun and its two workers
    assert len(family) >= 3, family
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    said = [line for line in err.splitlines() if line.startswith("SIGINT: stopped at step")]
    assert len(said) == 1 and said[0].endswith(f"continue with `ganzoo train --resume {run} --nproc 2`"), err
    step = int(said[0].split()[4].rstrip(";"))
    assert load_checkpoint(run)[1]["step"] == step and "Traceback" not in err
    assert not [pid for pid in family if Path(f"/proc/{pid}").exists()], "a process outlived the run"
    resumed = CliRunner().invoke(cli, ["train", "--resume", str(run), "--nproc", "2", "--steps", str(step + 1)])
    assert resumed.exit_code == 0 and load_checkpoint(run)[1]["step"] == step + 1, resumed.output


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (Linux /proc), found by parent pid."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_sync_batchnorm_is_plain_batchnorm_in_one_process_and_keeps_checkpoint_names():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    names = list(net.state_dict())
    reference = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    reference.load_state_dict(net.state_dict())
    convert_sync_batchnorm(net)
    assert isinstance(net[1], SyncBatchNorm) and list(net.state_dict()) == names
    x = torch.randn(5, 3, 8, 8)
    torch.testing.assert_close(net(x), reference(x))
    torch.testing.assert_close(net[1].running_var, reference[1].running_var)


def test_the_resume_hint_names_nproc_on_one_machine_and_the_torchrun_job_across_nodes(monkeypatch):
    run = Path("runs/r")
    assert resume_hint(run, 1) == "continue with `ganzoo train --resume runs/r`"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert resume_hint(run, 4) == "continue with `ganzoo train --resume runs/r --nproc 4`"
    hint = resume_hint(run, 8)  # two nodes of 4: --nproc 8 would start 8 processes on one machine
    assert "--nproc" not in hint and "same torchrun job on every node" in hint and "--resume runs/r" in hint


def test_nproc_inside_torchrun_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(cli, ["train", "--nproc", "2", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "inside a torchrun job" in result.output


WORKER = """
import json, os, sys
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer
rank = int(os.environ.get("RANK", 0))
out = os.path.join(sys.argv[1], f"run{os.environ.get('WORLD_SIZE')}")
Trainer(RunConfig(arch="dcgan", loss="bce", width=8, nz=16, steps=2, batch_size=8, data_options={"n": 64},
                  device="cpu", progress=False, out=out)).fit()
with open(out + f"-rank{rank}.json", "w") as fh:  # a file per rank: their stdout lines would interleave
    json.dump({"threads": len(os.listdir("/proc/self/task"))}, fh)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through Linux's /proc")
def test_leaving_the_group_stops_its_threads(tmp_path):
    """After fit a rank runs no more threads than a lone process: none left to abort the interpreter's exit.

    (Before the fix DDP's reducers kept gloo's threads alive into teardown: rank 1 died of SIGABRT in CI.)
    """
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def threads(world: str, *launcher: str) -> list[int]:
        subprocess.run([sys.executable, *launcher, str(script), str(tmp_path)], env=env, check=True,
                       capture_output=True)
        return [json.loads(p.read_text())["threads"] for p in sorted(tmp_path.glob(f"run{world}-rank*.json"))]

    alone = threads("None")
    ranks = threads("2", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2")
    assert len(alone) == 1 and ranks == alone * 2
