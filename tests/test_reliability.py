"""Issue 15, reliability: no run is lost or clobbered, divergence is caught, damaged files are one error line.

Each test names the item of the issue it covers. Runs that must be killed are real processes forked from a
forkserver that has ganzoo and its plugins imported, so each costs a fork, not an interpreter start.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import resource
import signal
import stat
import time
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from skimage import io

from ganzoo.api import GanzooError
from ganzoo.cli import cli
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer
from conftest import one_error_line

NETS = ["--width", "8", "--nz", "16", "--batch-size", "4", "--n-samples", "4", "--no-progress", "--sample-every",
        "1000", "--device", "cpu"]
TINY = [*NETS, "--data-opt", "n=32"]


def train(*args: str):
    return CliRunner().invoke(cli, ["train", *TINY, *args])


def log_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A tiny finished run (2 steps), never modified by the tests: copy what you change."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = train("--steps", "2", "--log-every", "1", "--out", str(run))
    assert result.exit_code == 0, result.output
    return run


def test_no_command_writes_over_a_runs_own_files(finished):
    """eval --json, features train --out or sample --out naming a run's own file is refused before any work."""
    before = {name: (finished / name).read_bytes() for name in ("checkpoint.safetensors", "config.toml", "log.jsonl",
                                                                "samples.png")}
    for name in before:
        for args in (["eval", str(finished), "--metrics", "fid", "--json", str(finished / name)],
                     ["features", "train", "--dataset", "shapes", "--steps", "1", "--out", str(finished / name)]):
            message = one_error_line(CliRunner().invoke(cli, args))
            assert message.endswith(f"that is a run's own {name}; write elsewhere"), args
    inside = CliRunner().invoke(cli, ["sample", str(finished), "--out", str(finished / "samples.png")])  # `sample .`
    assert one_error_line(inside).endswith("that is a run's own samples.png; write elsewhere")
    grid = next((finished / "samples").iterdir())  # a training grid
    before[f"samples/{grid.name}"] = grid.read_bytes()
    over = CliRunner().invoke(cli, ["sample", str(finished), "--out", str(grid)])
    assert one_error_line(over).endswith(f"that is a run's own {grid.name}; write elsewhere")
    assert before == {name: (finished / name).read_bytes() for name in before}


def test_json_dash_is_refused_not_written_as_a_file_named_dash(finished, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["eval", str(finished), "--metrics", "fid", "--json", "-"], ["probe", str(finished), "--json", "-"]):
        assert one_error_line(CliRunner().invoke(cli, args)).endswith(
            "--json -: name a file; '-' (stdout) is not supported, the command prints its own report there")
    assert not (tmp_path / "-").exists()


def test_a_run_folder_before_its_first_checkpoint_says_so(finished, tmp_path):
    """--resume or sample of a run still training (config.toml written, no checkpoint yet) is told why."""
    young = tmp_path / "young"
    young.mkdir()
    (young / "config.toml").write_bytes((finished / "config.toml").read_bytes())
    for args in (["train", "--resume", str(young), "--steps", "5"], ["sample", str(young)]):
        message = one_error_line(CliRunner().invoke(cli, args))
        assert f"does not exist yet: the run in {young} is still training or stopped before its first save" in message


def forge(source: Path, target: Path, meta: dict | None = None, drop: tuple[str, ...] = (),
          tensors: dict[str, torch.Tensor] | None = None, remove: tuple[str, ...] = ()) -> Path:
    """A copy of checkpoint ``source`` with metadata fields replaced (JSON values) or removed, tensors changed."""
    with safe_open(str(source), framework="pt") as handle:
        raw = dict(handle.metadata())
        state = {key: handle.get_tensor(key) for key in handle.keys() if key not in drop}
    raw.update({key: json.dumps(value) for key, value in (meta or {}).items()})
    for key in remove:
        raw.pop(key)
    state.update(tensors or {})
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target), metadata=raw)
    return target


# ---------------------------------------------------------------- real processes, killed


def _train_process(args: list[str], output: str) -> None:
    """A child process: ``ganzoo train ARGS``, its stdout and stderr appended to ``output``."""
    torch.set_num_threads(1)  # the machine's cores are shared: one thread is also the fastest for tiny nets
    multiprocessing.set_start_method("fork", force=True)  # DataLoader workers as in `ganzoo train`, not forkserver
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    cli.main(args=["train", *args], prog_name="ganzoo")


@pytest.fixture(scope="module")
def forkserver() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    plugins = sorted({ep.value.split(":")[0] for ep in entry_points(group="ganzoo")})
    context.set_forkserver_preload(["ganzoo.cli", "ganzoo.engine.trainer", *plugins])
    return context


STARTED: list[multiprocessing.Process] = []


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """A failed test leaves no training running."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.is_alive():
            process.kill()
        process.join()


def start(forkserver, args: list[str], output: Path) -> multiprocessing.Process:
    process = forkserver.Process(target=_train_process, args=([*TINY, *args], str(output)))
    process.start()
    STARTED.append(process)
    return process


def wait_for_step(run: Path, step: int, process: multiprocessing.Process, timeout: float = 60) -> None:
    """Until the run's log reaches ``step`` (the process must still be running then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = run / "log.jsonl"
        if log.exists() and any(json.loads(line)["step"] >= step for line in log.read_text().splitlines()
                                if line.endswith("}")):
            return
        assert process.is_alive(), f"the training ended (exit {process.exitcode}) before step {step}"
        time.sleep(0.002)
    raise AssertionError(f"no step {step} in {timeout} s")


def finish(process: multiprocessing.Process, timeout: float = 120) -> int:
    process.join(timeout)
    assert process.exitcode is not None, "the training process did not end"
    return process.exitcode


def assert_same_run(a: Path, b: Path) -> None:
    """Bit-identical checkpoints (weights, optimizer moments, RNG states) and the same logged figures."""
    tensors_a, meta_a = load_checkpoint(a)
    tensors_b, meta_b = load_checkpoint(b)
    assert sorted(tensors_a) == sorted(tensors_b)
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    assert (meta_a["step"], meta_a["optimizers"]) == (meta_b["step"], meta_b["optimizers"])
    records = [[{k: v for k, v in json.loads(line).items() if k != "img_per_s"}
                for line in (run / "log.jsonl").read_text().splitlines()] for run in (a, b)]
    for x, y in zip(*records, strict=True):
        assert x == y


@pytest.fixture(scope="module")
def straight(tmp_path_factory, forkserver) -> Path:
    """40 steps uninterrupted, in a forked process like the interrupted runs."""
    run = tmp_path_factory.mktemp("straight") / "run"
    process = start(forkserver, ["--steps", "40", "--log-every", "1", "--out", str(run)], run.with_suffix(".out"))
    assert finish(process) == 0
    return run


def test_exact_resume_after_kill_9_several_times(straight, forkserver, tmp_path):
    """kill -9 at three points (checkpoints every 2 steps, so some kills land in a save), resume each time:
    the finished run is bit-identical to one never interrupted."""
    run, output = tmp_path / "run", tmp_path / "out.txt"
    args = ["--steps", "40", "--log-every", "1", "--ckpt-every", "2", "--out", str(run)]
    for kill_at in (6, 17, 28):
        process = start(forkserver, args if kill_at == 6 else ["--resume", str(run)], output)
        wait_for_step(run, kill_at, process)
        process.kill()
        assert finish(process) == -signal.SIGKILL
    assert finish(start(forkserver, ["--resume", str(run)], output)) == 0, output.read_text()
    assert log_steps(run) == list(range(1, 41))
    assert_same_run(straight, run)


def test_ctrl_c_and_sigterm_save_first_then_say_how_to_resume(straight, forkserver, tmp_path):
    """Item 5: with no checkpoint due (--ckpt-every 1000), SIGINT and SIGTERM still save the current step, exit
    with one line saying where and how to resume (128 + signal), and DataLoader workers print nothing."""
    run = tmp_path / "run"
    args = ["--steps", "40", "--log-every", "1", "--ckpt-every", "1000", "--workers", "1", "--out", str(run)]
    for signum, at in ((signal.SIGINT, 8), (signal.SIGTERM, 20)):
        output = tmp_path / f"{signum.name}.txt"
        process = start(forkserver, args if signum == signal.SIGINT else ["--resume", str(run)], output)
        wait_for_step(run, at, process)
        os.kill(process.pid, signum)
        assert finish(process) == 128 + signum
        step = load_checkpoint(run)[1]["step"]
        assert step >= at
        lines = [line for line in output.read_text().splitlines()
                 if not line.startswith(("training ", "warning: load average"))]  # train's start line, load note
        assert lines == [f"{signum.name}: stopped at step {step}; checkpoint saved to "
                         f"{run / 'checkpoint.safetensors'}; continue with `ganzoo train --resume {run}`"]
    assert finish(start(forkserver, ["--resume", str(run)], tmp_path / "rest.txt")) == 0
    assert_same_run(straight, run)


def test_a_second_ctrl_c_stops_at_once():
    from ganzoo.engine.trainer import stop_signals

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with stop_signals() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop == [signal.SIGINT]
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop == [signal.SIGINT, signal.SIGTERM]
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_two_trainings_with_the_same_out_the_second_is_refused(forkserver, tmp_path):
    """Item 2: while one training holds the run directory, another one is refused in one line and writes nothing;
    the first finishes with a log that is its own."""
    run = tmp_path / "run"
    first = start(forkserver, ["--steps", "100000", "--log-every", "1", "--ckpt-every", "1", "--out", str(run)],
                  tmp_path / "first.txt")
    wait_for_step(run, 2, first)  # its step-1 checkpoint is saved
    message = one_error_line(train("--steps", "3", "--log-every", "1", "--out", str(run)))
    assert f"--out {run} is in use by another training (pid {first.pid}" in message
    for refused in (train("--steps", "3", "--overwrite", "--out", str(run)), train("--resume", str(run))):
        assert "in use by another training" in one_error_line(refused)
        assert refused.output.startswith("Error: ")  # refused before the start line, not after it
    os.kill(first.pid, signal.SIGTERM)
    assert finish(first) == 128 + signal.SIGTERM
    step = load_checkpoint(run)[1]["step"]
    assert log_steps(run) == list(range(1, step + 1))
    assert "already holds a run" in one_error_line(train("--steps", "3", "--out", str(run)))


# ---------------------------------------------------------------- data loss


def test_resume_into_another_run_is_refused(finished, tmp_path):
    """Item 1: --resume A --out B, where B holds a run, leaves B alone; an empty --out, or --overwrite, is fine,
    and B's log and grids go on from A's."""
    other = tmp_path / "other"
    assert train("--steps", "1", "--seed", "3", "--out", str(other)).exit_code == 0
    before = {p.name: p.read_bytes() for p in other.iterdir() if p.is_file()}
    message = one_error_line(CliRunner().invoke(cli, ["train", "--resume", str(finished), "--steps", "3",
                                                      "--out", str(other), "--no-progress"]))
    assert f"--out {other} already holds another run" in message and "--overwrite" in message
    assert {p.name: p.read_bytes() for p in other.iterdir() if p.is_file()} == before
    for out, extra in ((tmp_path / "empty", []), (other, ["--overwrite"])):
        result = CliRunner().invoke(cli, ["train", "--resume", str(finished), "--steps", "3", "--out", str(out),
                                          "--no-progress", *extra])
        assert result.exit_code == 0, result.output
        assert load_checkpoint(out)[1]["step"] == 3 and log_steps(out) == [1, 2, 3], "A's history, then B's"
        assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000002.png", "step_000003.png"]
    assert log_steps(finished) == [1, 2], "the source is left as it was"


def test_overwrite_with_a_refused_configuration_keeps_the_old_run(finished, tmp_path):
    """Item 3: everything is validated before the old run is removed."""
    run = tmp_path / "run"
    assert train("--steps", "1", "--out", str(run), "--sample-every", "1").exit_code == 0
    files = sorted(p.relative_to(run) for p in run.rglob("*"))
    message = one_error_line(train("--steps", "1", "--out", str(run), "--overwrite", "--image-size", "48"))
    assert "--image-size 48" in message
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == files
    assert train("--steps", "2", "--out", str(run), "--overwrite").exit_code == 0
    assert log_steps(run) == [2] and not list((run / "samples").glob("step_000001.png"))


def copy_run(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file():
            (target / path.name).write_bytes(path.read_bytes())
    return target


def test_a_partial_last_log_line_is_dropped_with_a_warning_on_resume(finished, tmp_path):
    """Item 4: a full disk cut the last line short; resume drops it (one warning) instead of a JSONDecodeError."""
    run = copy_run(finished, tmp_path / "run")
    with (run / "log.jsonl").open("a") as handle:
        handle.write('{"step": 3, "d_loss": 1.2')
    result = CliRunner().invoke(cli, ["train", "--resume", str(run), "--steps", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "dropped its last line" in result.output
    assert log_steps(run) == [1, 2, 3]
    (run / "log.jsonl").write_text('{"step": 1}\nnot json\n{"step": 2}\n')
    message = one_error_line(CliRunner().invoke(cli, ["train", "--resume", str(run), "--steps", "4", "--no-progress"]))
    assert "log.jsonl, line 2, is not a log record" in message


def test_the_log_rewrite_on_resume_is_atomic_under_a_file_size_limit(finished, tmp_path):
    """Item 4: the rewrite that drops lines after the checkpoint goes through a temporary file: under
    ``ulimit -f 8`` it fails in one line and the log is left whole (it used to be cut to 8 KB)."""
    run = copy_run(finished, tmp_path / "run")
    record = {"d_loss": 1.0, "g_loss": 1.0, "D(x)": 0.5, "D(G(z))": 0.5, "lr": 0.0002, "img_per_s": 100.0}
    lines = [json.dumps({"step": 1 + i % 2, **record}) for i in range(150)] + [json.dumps({"step": 3, **record})]
    (run / "log.jsonl").write_text("".join(line + "\n" for line in lines))  # 150 kept lines, then one to drop
    log = (run / "log.jsonl").read_bytes()
    assert len(log) > 12_000
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))
    try:
        result = CliRunner().invoke(cli, ["train", "--resume", str(run), "--steps", "120", "--no-progress"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    message = one_error_line(result)
    assert f"cannot write '{run / 'log.jsonl'}'" in message and "ulimit -f" in message
    assert (run / "log.jsonl").read_bytes() == log
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- divergence


def float_tiffs(root: Path, nan_in: int | None) -> Path:
    """Eight 16x16 float32 TIFFs in [0, 1]; image ``nan_in`` has one NaN pixel."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        image = rng.random((16, 16), dtype=np.float32)
        if i == nan_in:
            image[3, 4] = np.nan
        io.imsave(root / f"{i}.tif", image, check_contrast=False)
    return root


def strict_json(line: str) -> dict:
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token} in {line}")

    return json.loads(line, parse_constant=refuse)


def test_a_nan_pixel_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    """Item 6: clean data for 2 steps (checkpoint), then a NaN pixel appears: the resumed run stops at the first
    log interval with one line naming the step and the data, the step-2 checkpoint stays, the log stays JSON."""
    data, run = tmp_path / "data", tmp_path / "run"
    float_tiffs(data, nan_in=None)
    args = ["--arch", "mlp", "--dataset", "folder", "--data-root", str(data), "--image-size", "16",
            "--batch-size", "8", "--log-every", "1", "--ckpt-every", "1", "--out", str(run)]
    assert CliRunner().invoke(cli, ["train", *NETS, *args, "--steps", "2"]).exit_code == 0
    good = (run / "checkpoint.safetensors").read_bytes()
    float_tiffs(data, nan_in=5)
    message = one_error_line(CliRunner().invoke(cli, ["train", "--resume", str(run), "--steps", "6", "--no-progress"]))
    assert message.startswith("Error: training diverged at step 3: d_loss, g_loss")
    assert "batch 3 of the data held NaN/Inf values: check the files under --data-root" in message
    assert f"the last good checkpoint (step 2) is kept: {run / 'checkpoint.safetensors'}" in message
    assert (run / "checkpoint.safetensors").read_bytes() == good
    records = [strict_json(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[-1]["d_loss"] is None and {"d_loss", "g_loss"} <= set(records[-1]["not_finite"])


def test_weights_gone_non_finite_are_never_checkpointed(tmp_path):
    """Item 6: with logging rarer than checkpoints, NaN weights are caught at the checkpoint, which is not
    written; the message blames the learning rate (here forced far past the allowed range)."""
    config = RunConfig(arch="mlp", image_size=16, width=8, nz=16, batch_size=4, steps=6, n_samples=4, progress=False,
                       log_every=1000, sample_every=1000, ckpt_every=1, data_options={"n": 32}, device="cpu",
                       out=str(tmp_path / "run"))
    trainer = Trainer(config)
    step = trainer.train_step

    def explode(batches):
        if trainer.step == 2:
            for group in [*trainer.opt_g.param_groups, *trainer.opt_d.param_groups]:
                group["lr"] = float("inf")
        return step(batches)

    trainer.train_step = explode
    with pytest.raises(GanzooError, match=r"^training diverged at step 3: the weights are not finite\. Likely cause: "
                                          r"a learning rate too high for mlp \+ hinge \(--lr 0\.001\).*"
                                          r"the last good checkpoint \(step 2\) is kept"):
        trainer.fit()
    tensors, meta = load_checkpoint(tmp_path / "run")
    assert meta["step"] == 2 and all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


# ---------------------------------------------------------------- damaged checkpoints


def test_forged_sizes_are_refused_before_any_network_is_built(finished, tmp_path, monkeypatch):
    """Item 12: the tensor shapes in the file are checked against networks built on the meta device: a
    ``width`` edited in the metadata allocates nothing before the one-line refusal."""
    import ganzoo.engine.trainer as trainer_module

    devices = []
    real = trainer_module.assemble

    def spy(config, **kwargs):
        devices.append(torch.get_default_device().type)
        return real(config, **kwargs)

    monkeypatch.setattr(trainer_module, "assemble", spy)
    config = load_checkpoint(finished)[1]["config"]
    forged = forge(finished / "checkpoint.safetensors", tmp_path / "wide.safetensors",
                   meta={"config": {**config, "width": 512}})
    message = one_error_line(CliRunner().invoke(cli, ["sample", str(forged), "--out", str(tmp_path / "g.png")]))
    assert "holds G." in message and "width=512" in message and "metadata was edited" in message
    assert devices == ["meta"]
    absurd = forge(finished / "checkpoint.safetensors", tmp_path / "absurd.safetensors",
                   meta={"config": {**config, "nz": 10**9}})
    message = one_error_line(CliRunner().invoke(cli, ["sample", str(absurd), "--out", str(tmp_path / "g.png")]))
    assert "metadata config: nz = 1000000000 (--nz): must be at most 65536" in message


EDITS = {
    "no config": dict(remove=("config",)),
    "config not a table": dict(meta={"config": "dcgan"}),
    "config with a wrong kind": dict(meta={"config": {"width": "wide"}}),
    "step as a string": dict(meta={"step": "2"}),
    "negative step": dict(meta={"step": -1}),  # item 18
    "no step": dict(remove=("step",)),
    "no optimizers": dict(remove=("optimizers",)),
    "optimizer state edited": dict(meta={"optimizers": {"opt_d": [], "opt_g": {}}}),
    "no schedulers": dict(remove=("schedulers",)),
    "no RNG state": dict(drop=("rng.torch",)),
    "RNG state of another size": dict(tensors={"rng.engine": torch.zeros(3, dtype=torch.uint8)}),
    "optimizer moments of another shape": dict(tensors={"opt_g.0.exp_avg": torch.zeros(2)}),
}
RESUME_ONLY = ("no optimizers", "optimizer state edited", "no schedulers", "no RNG state", "RNG state of another size",
               "optimizer moments of another shape")


@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_metadata_is_one_error_line_for_resume_and_sample(edit, finished, tmp_path):
    """Items 13 and 18: one validated reader, one Error line naming the file, whatever field is missing or edited;
    sampling needs only the config and the weights."""
    forged = forge(finished / "checkpoint.safetensors", tmp_path / "run" / "checkpoint.safetensors", **EDITS[edit])
    message = one_error_line(CliRunner().invoke(cli, ["train", "--resume", str(forged.parent), "--steps", "3",
                                                      "--no-progress"]))
    assert str(forged) in message
    sampled = CliRunner().invoke(cli, ["sample", str(forged), "-n", "4", "--out", str(tmp_path / "grid.png")])
    if edit in RESUME_ONLY:
        assert sampled.exit_code == 0, sampled.output
    else:
        assert str(forged) in one_error_line(sampled)


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cyclegan")
    return Trainer(RunConfig(task="cyclegan", arch="resnet-6blocks", dataset="style-benchmark", image_size=16, width=8,
                             batch_size=2, steps=1, n_samples=4, progress=False, device="cpu",
                             arch_options={"n_layers": 2}, data_options={"n": 8, "n_test": 2},
                             out=str(out / "run"))).fit()


@pytest.fixture(scope="module")
def inpainting_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inpainting")
    return Trainer(RunConfig(task="inpainting", arch="unet", image_size=16, channels=1, batch_size=8, width=8, steps=1,
                             n_samples=4, progress=False, device="cpu", data_options={"n": 16},
                             out=str(out / "run"))).fit()


def test_translate_and_inpaint_read_checkpoints_through_the_same_validation(cyclegan_run, inpainting_run, tmp_path):
    """Item 13: an edited step in a cyclegan or inpainting checkpoint is one Error line, not a traceback."""
    image = tmp_path / "x.png"
    io.imsave(image, np.zeros((16, 16), np.uint8), check_contrast=False)
    for run, command in ((cyclegan_run, ["translate"]), (inpainting_run, ["inpaint"])):
        forged = forge(run / "checkpoint.safetensors", tmp_path / command[0] / "ckpt.safetensors", meta={"step": "x"})
        extra = ["--mask-kind", "box"] if command == ["inpaint"] else []
        message = one_error_line(CliRunner().invoke(cli, [*command, str(forged), str(image), *extra, "--out",
                                                          str(tmp_path / "out")]))
        assert f"checkpoint '{forged}': metadata 'step' should be a whole number" in message


def test_crash_leftovers_and_file_modes(finished, tmp_path):
    """Item 18: a complete .tmp left by a crash during the first save is named with the way to use it; a new
    training removes a stale one with a warning; checkpoints get the usual mode (0644 under umask 022)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors.tmp").write_bytes((finished / "checkpoint.safetensors").read_bytes())
    message = one_error_line(CliRunner().invoke(cli, ["sample", str(run), "--out", str(tmp_path / "g.png")]))
    assert "safetensors.tmp', left by a crash during a save, holds a complete checkpoint: rename it" in message
    old = os.umask(0o022)
    try:
        result = train("--steps", "1", "--out", str(run))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert "warning: removed" in result.output and "checkpoint save cut short" in result.output
    assert not (run / "checkpoint.safetensors.tmp").exists()
    assert stat.S_IMODE((run / "checkpoint.safetensors").stat().st_mode) == 0o644


# ---------------------------------------------------------------- full or read-only disks, bad input


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_while_training_is_one_line_naming_the_file(finished, tmp_path, monkeypatch):
    """Item 14: the log append and the checkpoint write; the previous checkpoint stays whole."""
    run = copy_run(finished, tmp_path / "run")
    good = (run / "checkpoint.safetensors").read_bytes()
    def safetensors_full_disk(*args, **kwargs):  # what safetensors raises on a full disk (seen on a small tmpfs)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr("ganzoo.engine.checkpoint.save_file", safetensors_full_disk)
    message = one_error_line(CliRunner().invoke(cli, ["train", "--resume", str(run), "--steps", "3", "--no-progress"]))
    assert message == (f"Error: cannot write '{run / 'checkpoint.safetensors'}' (No space left on device); the disk "
                       "is full: free some space or write elsewhere")
    assert (run / "checkpoint.safetensors").read_bytes() == good
    monkeypatch.setattr("ganzoo.files.open", lambda *a, **k: full_disk(), raising=False)
    message = one_error_line(train("--steps", "1", "--log-every", "1", "--out", str(tmp_path / "new")))
    assert f"cannot write '{tmp_path / 'new' / 'log.jsonl'}' (No space left on device)" in message


def test_outputs_that_cannot_be_written_are_one_line_naming_the_path(finished, inpainting_run, tmp_path, monkeypatch):
    """Item 14: sample, inpaint and eval --json under a file (not a folder), a full disk for a grid; eval checks
    its --json destination before evaluating."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    message = one_error_line(CliRunner().invoke(cli, ["sample", str(finished), "-n", "4", "--out",
                                                      str(blocker / "grid.png")]))
    assert f"cannot write '{blocker / 'grid.png'}'" in message and "is a file, not a folder" in message
    image = tmp_path / "x.png"
    io.imsave(image, np.zeros((16, 16), np.uint8), check_contrast=False)
    message = one_error_line(CliRunner().invoke(cli, ["inpaint", str(inpainting_run), str(image), "--mask-kind", "box",
                                                      "--out", str(blocker / "filled.png")]))
    assert f"cannot write '{blocker / 'filled.png'}'" in message

    def never(*args, **kwargs):
        raise AssertionError("evaluated before checking --json")

    with monkeypatch.context() as patch:
        patch.setattr("ganzoo.engine.trainer.load_for_inference", never)
        message = one_error_line(CliRunner().invoke(cli, ["eval", str(finished), "--json", str(blocker / "e.json")]))
    assert message.startswith(f"Error: --json: cannot write '{blocker / 'e.json'}'")
    monkeypatch.setattr("skimage.io.imsave", full_disk)
    message = one_error_line(CliRunner().invoke(cli, ["sample", str(finished), "-n", "4", "--out",
                                                      str(tmp_path / "g.png")]))
    assert f"cannot write '{tmp_path / 'g.png'}' (No space left on device)" in message


def test_unreadable_config_files_and_absurd_sample_options_are_one_line(finished, tmp_path):
    """Item 15."""
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)))
    for path in (latin, binary):
        message = one_error_line(CliRunner().invoke(cli, ["train", "--config", str(path)]))
        assert f"config file '{path}' is not UTF-8 text" in message
    for args, wrong in ((["--nrow", "-3"], "'--nrow': -3 is not in the range x>=1"),
                        (["-n", "100000000"], "100000000 is not in the range 1<=x<=4096")):
        result = CliRunner().invoke(cli, ["sample", str(finished), *args, "--out", str(tmp_path / "g.png")])
        assert result.exit_code == 2 and wrong in result.output and "Traceback" not in result.output


def test_list_help_names_every_plugin_kind():
    from ganzoo.registry import KINDS

    shown = " ".join(CliRunner().invoke(cli, ["list", "-h"]).output.split())
    assert f"KIND is one of: {', '.join(KINDS)}." in shown and "recipes" in KINDS


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--steps", "abc"], "Invalid value for '--steps': 'abc' is not a valid integer. See `ganzoo train -h`."),
    (["train", "--precision", "fp8"], "'fp8' is not one of 'fp32', 'bf16', 'fp16'. See `ganzoo train -h`."),
    (["train", "--nproc", "0"], "'--nproc': 0 is not in the range x>=1. See `ganzoo train -h`."),
    (["plugins", "--jsn"], "No such option '--jsn'. Did you mean '--json'? See `ganzoo plugins -h`."),
    (["trian"], "No such command 'trian'. Did you mean 'train'? See `ganzoo -h`."),
    (["list"], "tasks. See `ganzoo list -h`."),  # click lists the choices one per line
    (["--bogus"], "No such option '--bogus'. See `ganzoo -h`."),  # the group's own options too
    (["features", "train", "--epochs", "x"], "'x' is not a valid float. See `ganzoo features train -h`."),
    (["features", "train", "--steps", "0"], "'--steps': 0 is not in the range x>=1. See `ganzoo features train -h`."),
    (["features", "train", "--batch-size", "-3"], "'--batch-size': -3 is not in the range x>=1. See `ganzoo features "
                                                  "train -h`."),
    (["features", "train", "--image-size", "3"], "'--image-size': 3 is not in the range x>=8. See `ganzoo features "
                                                 "train -h`."),
    (["sample", ".", "--seed", "99999999999999999999"], "'--seed': 99999999999999999999 is not in the range "
                                                        "0<=x<=9223372036854775807. See `ganzoo sample -h`."),
    (["eval", ".", "--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=9223372036854775807. See `ganzoo eval "
                                    "-h`."),
    (["inpaint", ".", "x.png", "--seed", "-5"], "'--seed': -5 is not in the range 0<=x<=9223372036854775807. See "
                                                "`ganzoo inpaint -h`."),
    (["probe", ".", "--num-test", "-5"], "'--num-test': -5 is not in the range x>=1. See `ganzoo probe -h`."),
])
def test_a_bad_flag_or_value_is_one_error_line_pointing_at_the_help(args, message):
    """click's usage errors read like ganzoo's own: one line, no usage block; exit status 2 as click gives."""
    assert one_error_line(CliRunner().invoke(cli, args, prog_name="ganzoo"), exit_code=2).endswith(message)


def test_a_run_folder_given_to_train_as_an_argument_points_at_resume(finished):
    result = CliRunner().invoke(cli, ["train", str(finished)], prog_name="ganzoo")
    assert one_error_line(result, exit_code=2) == (
        f"Error: Got unexpected extra argument ({finished}). See `ganzoo train -h`. To continue the run in "
        f"{finished}: `ganzoo train --resume {finished}`.")
    checkpoint = finished / "checkpoint.safetensors"
    assert one_error_line(CliRunner().invoke(cli, ["train", str(checkpoint)], prog_name="ganzoo"), exit_code=2) == (
        f"Error: Got unexpected extra argument ({checkpoint}). See `ganzoo train -h`. To continue the run in "
        f"{checkpoint}: `ganzoo train --resume {checkpoint}`.")


def test_features_train_never_replaces_a_file_that_is_not_a_classifier(tmp_path):
    picture = tmp_path / "digit.png"
    picture.write_bytes(b"a user's picture")
    disguised = tmp_path / "notes.safetensors"
    disguised.write_bytes(b"not a classifier")
    args = ["features", "train", "--dataset", "shapes", "--steps", "1", "--epochs", "nan"]
    assert one_error_line(CliRunner().invoke(cli, [*args, "--out", str(picture)])).endswith(
        f"--out {picture}: a feature classifier is a .safetensors file; name it e.g. digit.safetensors")
    assert one_error_line(CliRunner().invoke(cli, [*args, "--out", str(disguised)])).endswith(
        f"--out {disguised} exists and is not a feature classifier; pick another name (this would replace it)")
    assert picture.read_bytes() == b"a user's picture" and disguised.read_bytes() == b"not a classifier"
    assert one_error_line(CliRunner().invoke(cli, ["features", "train", "--dataset", "shapes", "--epochs", "nan",
                                                   "--out", str(tmp_path / "c.safetensors")])).endswith(
        "--epochs nan: give a finite number of passes above 0, or --steps")
    tiny = ["features", "train", "--dataset", "shapes", "--steps", "1", "--limit", "16", "--image-size", "8",
            "--width", "2", "--out", str(tmp_path / "c.safetensors")]
    first = CliRunner().invoke(cli, tiny)
    accuracy = first.output.split("held-out accuracy ")[1].split()[0]
    again = CliRunner().invoke(cli, tiny)
    assert again.exit_code == 0 and (f"warning: --out {tmp_path / 'c.safetensors'} holds a classifier of 'shapes', "
                                     f"{accuracy} held-out accuracy; this training replaces it") in again.output
    refused = CliRunner().invoke(cli, ["features", "train", "--dataset", "shapes", "--epochs", "nan", "--out",
                                       str(tmp_path / "c.safetensors")])
    assert one_error_line(refused).endswith("--epochs nan: give a finite number of passes above 0, or --steps")


@pytest.mark.parametrize("seconds", ["nan", "inf", "0"])
def test_bench_refuses_a_budget_that_never_ends_or_never_starts(seconds):
    result = CliRunner().invoke(cli, ["bench", "--archs", "dcgan", "--losses", "hinge", "--seconds", seconds])
    assert one_error_line(result).endswith("ganzoo bench needs a finite budget above 0: --steps 1 or more, or "
                                           "--seconds above 0")


def test_bench_refuses_an_out_it_cannot_write_or_that_holds_a_run_before_training(finished, tmp_path):
    args = ["bench", "--archs", "dcgan", "--losses", "hinge", "--steps", "1", "--out"]
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would go")
    assert "--out: cannot write" in one_error_line(CliRunner().invoke(cli, [*args, str(blocked / "bench")]))
    assert one_error_line(CliRunner().invoke(cli, [*args, str(finished)])).endswith(
        f"--out {finished} holds a training run; bench writes its runs into a folder of their own")


def test_translate_refuses_images_above_its_size_limit_before_translating(cyclegan_run, tmp_path):
    """Item 16: above --max-pixels (4.2 MP by default) an image is refused with the way out, before any work."""
    small, large = tmp_path / "in" / "a.png", tmp_path / "in" / "b.png"
    small.parent.mkdir()
    io.imsave(small, np.zeros((16, 24, 3), np.uint8), check_contrast=False)
    io.imsave(large, np.zeros((2049, 2048, 3), np.uint8), check_contrast=False)
    message = one_error_line(CliRunner().invoke(cli, ["translate", str(cyclegan_run), str(small.parent), "--out",
                                                      str(tmp_path / "out")]))
    assert (f"{large} is 2048x2049 px (4.2 MP), above --max-pixels 4194304 (4.2 MP)" in message
            and "downscale the image first, or raise --max-pixels" in message)
    assert not (tmp_path / "out").exists()
    tight = CliRunner().invoke(cli, ["translate", str(cyclegan_run), str(small), "--max-pixels", "383",
                                     "--out", str(tmp_path / "out")])
    assert f"{small} is 24x16 px (384 px), above --max-pixels 383 (383 px)" in one_error_line(tight)
    result = CliRunner().invoke(cli, ["translate", str(cyclegan_run), str(small), "--max-pixels", "384",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0 and io.imread(tmp_path / "out" / "a.png").shape == (16, 24, 3)


def test_inception_weights_are_read_once_and_never_unpickled_by_torch_fidelity(tmp_path, monkeypatch):
    """Item 17: the file is opened once, tensors only; torch-fidelity gets those tensors, not the path."""
    from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

    from ganzoo_plugins.metrics.inception import load_inception

    with monkeypatch.context() as patch:  # real-shaped (random) weights, without downloading any
        patch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        state = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict()
    weights = tmp_path / "weights.pth"
    torch.save(state, weights)
    calls = []
    real_load = torch.load

    def spy(source, *args, **kwargs):
        calls.append((source, kwargs.get("weights_only")))
        return real_load(source, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    net = load_inception(f"inception:{weights}")
    from_file = [only for source, only in calls if isinstance(source, (str, Path)) and Path(source) == weights]
    assert from_file == [True]
    assert all(only for source, only in calls if not hasattr(source, "read"))
    torch.testing.assert_close(net.net.fc.weight, state["fc.weight"])
