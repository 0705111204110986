"""Run settings have one definition (ganzoo/engine/config.py): the CLI options, TOML, bench and --resume share it."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.api import GanzooError, GanzooWarning
from ganzoo.cli import SettingOption, bench_cmd, build_config, cli, train_cmd
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import SEED_MAX, SETTINGS, RunConfig, save_toml, setting_help
from conftest import one_error_line

TINY = ["--steps", "1", "--width", "8", "--nz", "8", "--batch-size", "4", "--data-opt", "n=16", "--no-progress"]
# The flags `ganzoo train` had before they were generated: scripts use them, so none may change.
FLAGS_BEFORE = """--arch --loss --task --dataset --data-root --image-size --channels --batch-size --steps --epochs --lr
    --lr-d --beta1 --beta2 --lr-policy --nz --width --n-critic --ema --no-ema --device --precision --channels-last
    --no-channels-last --compile --no-compile --kernels --seed --workers --download --no-download --skip-bad-images
    --no-skip-bad-images --out --log-every --sample-every --ckpt-every --progress --no-progress --arch-opt --loss-opt
    --task-opt --data-opt""".split()


def setting_params(command: click.Command) -> list[SettingOption]:
    return [p for p in command.params if isinstance(p, SettingOption)]


class Captured(Exception):
    pass


@pytest.fixture
def capture_trainer(monkeypatch):
    """`ganzoo train` up to the Trainer: what config and given settings it would train with."""
    seen: dict = {}

    class Trainer:
        def __init__(self, config: RunConfig, resume=None, given=None, overwrite=False) -> None:
            seen.update(config=config, given=set(given))
            raise GanzooError("captured")

    monkeypatch.setattr("ganzoo.engine.trainer.Trainer", Trainer)
    return seen


def test_every_setting_has_exactly_one_generated_train_option():
    params = setting_params(train_cmd)
    assert sorted(p.name for p in params) == sorted(SETTINGS)
    assert len(params) == len(SETTINGS) == len(dataclasses.fields(RunConfig))
    flags = [flag for p in params for flag in (*p.opts, *p.secondary_opts)]
    assert len(flags) == len(set(flags)) and set(FLAGS_BEFORE) <= set(flags)
    assert {"--decay-start", "--ema-decay", "--n-samples"} <= set(flags)  # settings that had no flag before
    assert all(p.help and p.help.startswith(SETTINGS[p.name].help) for p in params)
    ctx = train_cmd.make_context("train", [])
    assert all(ctx.params[name] in (None, ()) for name in SETTINGS), "an option not given must not override TOML"
    by_name = {p.name: p for p in params}
    assert by_name["precision"].type.choices == ("fp32", "bf16", "fp16")
    assert by_name["kernels"].type.choices == ("auto", "ref", "triton")
    assert by_name["lr_policy"].type.choices == ("constant", "linear")
    assert by_name["ema"].is_bool_flag and by_name["data_options"].multiple
    assert "dcgan" in [item.value for item in by_name["arch"].shell_complete(ctx, "dc")]
    assert "wgan-gp" in [item.value for item in by_name["loss"].shell_complete(ctx, "wgan")]


def test_train_help_teaches_defaults_ranges_and_groups():
    assert setting_help("lr") == ("Adam learning rate. [1e-3 for unconditional generation, else 2e-4; wgan-gp: "
                                  "1e-4] (0 < x <= 1)")
    assert setting_help("batch_size") == ("Batch size per process. [64; 1 for cyclegan and pix2pix] "
                                          "(1 <= x <= 65536)")
    for task in ganzoo.list("tasks"):  # the help's shown defaults name every task that changes them
        for key in ("batch_size", "lr_policy"):
            if key in task.obj.config_defaults:
                assert task.name in setting_help(key), (task.name, key)
    assert setting_help("ema") == "Keep an EMA of G for sampling. [off; on for unconditional generation]"
    text = CliRunner().invoke(cli, ["train", "-h"]).output
    sections = [line for line in text.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert sections == ["Options:", "Model and data:", "Training:", "Speed:", "Output:"]
    for shown in ("--ema / --no-ema", "--precision [fp32|bf16|fp16]", "--data-opt K=V", "--resume PATH"):
        assert shown in text, shown
    resume_help = next(p.help for p in train_cmd.params if p.name == "resume")
    assert "only --data-root, --steps, --epochs, --device" in resume_help


def test_toml_and_command_line_give_the_same_config(tmp_path, capture_trainer):
    (tmp_path / "run.toml").write_text(
        'arch = "mlp"\nlr = 0.001\nbeta1 = 0\nema = true\nsteps = 3\nprecision = "bf16"\nseed = 7\n'
        '[loss_options]\nminimax = true\n[data_options]\nn = 64\n'
    )
    runner = CliRunner()
    one_error_line(runner.invoke(cli, ["train", "--config", str(tmp_path / "run.toml")]))
    from_toml = capture_trainer.copy()
    one_error_line(runner.invoke(cli, ["train", "--arch", "mlp", "--lr", "1e-3", "--beta1", "0", "--ema", "--steps",
                                       "3", "--precision", "bf16", "--seed", "7", "--loss-opt", "minimax=true",
                                       "--data-opt", "n=64"]))
    assert from_toml["config"].to_json() == capture_trainer["config"].to_json()
    assert from_toml["given"] == capture_trainer["given"] == {
        "arch", "lr", "beta1", "ema", "steps", "precision", "seed", "loss_options", "data_options"}
    assert capture_trainer["config"].beta1 == 0.0 and isinstance(from_toml["config"].beta1, float)
    # The command line goes over the file, option tables key by key.
    one_error_line(runner.invoke(cli, ["train", "--config", str(tmp_path / "run.toml"), "--seed", "8",
                                       "--data-opt", "holdout=4"]))
    assert capture_trainer["config"].seed == 8 and capture_trainer["config"].data_options == {"n": 64, "holdout": 4}


def test_a_saved_config_with_dotted_option_keys_reads_back_the_same(tmp_path, capture_trainer):
    """--reg-opt r1.gamma=1 is saved as a quoted key: bare, TOML reads `r1.gamma` as a nested table."""
    config = RunConfig(reg="r1,lecam", reg_options={"r1.gamma": 1, "lecam.weight": 0.5}, data_options={"n": 16})
    save_toml(config, tmp_path / "config.toml")
    one_error_line(CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "config.toml")]))
    assert capture_trainer["config"].to_json() == config.to_json()


@pytest.mark.parametrize("args", [["--reg", "r1,lecam"], ["--reg", "r1", "--reg", "lecam"],
                                  ["--reg", "r1", "--reg", "lecam,r1"]])
def test_regularisers_given_as_a_list_or_by_repeating_the_flag_are_all_kept(args, capture_trainer):
    one_error_line(CliRunner().invoke(cli, ["train", *args]))
    assert capture_trainer["config"].reg == "r1,lecam"


@pytest.mark.parametrize(("args", "message"), [
    (["--lr", "inf"], "lr = inf (--lr): must be a finite number (allowed: 0 < x <= 1; Adam moves each weight"),
    (["--lr", "nan"], "lr = nan (--lr): must be a finite number (allowed: 0 < x <= 1"),
    (["--lr", "1e308"], "lr = 1e+308 (--lr): must be at most 1 (allowed: 0 < x <= 1"),
    (["--lr-d", "1e400"], "lr_d = inf (--lr-d): must be a finite number"),
    (["--seed", "99999999999999999999"],
     "seed = 99999999999999999999 (--seed): must be at most 9223372036854775807 (allowed: 0 <= x <= 9223372036854775807"),
    (["--steps", "-5"], "steps = -5 (--steps): must be at least 1 (allowed: 1 <= x <= 1000000000)"),
    (["--steps", "99999999999999999999"], "steps = 99999999999999999999 (--steps): must be at most 1000000000"),
    (["--epochs", "inf"], "epochs = inf (--epochs): must be a finite number (allowed: 0 < x <= 1000000)"),
    (["--width", "100000000"], "width = 100000000 (--width): must be at most 8192"),
    (["--loss", "wgan-gp", "--loss-opt", "gp_weight=nan"], "(--loss-opt): gp_weight = nan must be a finite number"),
])
def test_non_finite_and_overflowing_settings_are_one_line(tmp_path, args, message):
    budget = TINY[2:] if "--epochs" in args else TINY  # --steps and --epochs together are refused (below)
    result = CliRunner().invoke(cli, ["train", *budget, "--out", str(tmp_path / "run"), *args])
    assert message in one_error_line(result)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("toml", "message"), [
    ('lr = "fast"', "lr = 'fast' (--lr): expects a number"),
    ("ema = 3", "ema = 3 (--ema): expects true or false"),
    ("workers = 2.5", "workers = 2.5 (--workers): expects an integer"),
    ("data_options = 5", "data_options = 5 (--data-opt): expects a table of KEY = VALUE"),
    ("lr = inf", "lr = inf (--lr): must be a finite number"),
    ("seed = 99999999999999999999", "seed = 99999999999999999999 (--seed): must be at most 9223372036854775807"),
    ('precision = "fp8"', "precision = 'fp8' (--precision): choose one of fp32, bf16, fp16"),
])
def test_a_config_file_is_checked_by_the_same_validator(tmp_path, toml, message):
    (tmp_path / "run.toml").write_text(toml + "\n")
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "run.toml"), *TINY,
                                      "--out", str(tmp_path / "run")])
    assert f"Error: config file '{tmp_path / 'run.toml'}': {message}" in one_error_line(result)  # names the file
    assert not (tmp_path / "run").exists()


def test_a_config_file_takes_names_in_either_form_and_flag_spellings_get_the_setting_name(tmp_path, capture_trainer):
    (tmp_path / "run.toml").write_text('reg = ["r1", "lecam"]\nloggers = "csv,tensorboard"\n')
    one_error_line(CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "run.toml")]))
    assert (capture_trainer["config"].reg, capture_trainer["config"].loggers) == ("r1,lecam", ["csv", "tensorboard"])
    (tmp_path / "flag.toml").write_text("data-opt = {n = 100}\n")
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "flag.toml")])
    assert one_error_line(result) == (f"Error: config file '{tmp_path / 'flag.toml'}': unknown setting 'data_opt' "
                                      "(did you mean 'data_options'?)")
    (tmp_path / "other.toml").write_text("learning_rate = 0.1\n")  # another tool's name for it
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "other.toml")])
    assert one_error_line(result).endswith("unknown setting 'learning_rate' (did you mean 'lr'?)")


def test_a_bad_value_on_the_command_line_does_not_blame_the_config_file(tmp_path):
    (tmp_path / "run.toml").write_text('lr = "fast"\n')
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "run.toml"), *TINY, "--lr", "3",
                                      "--out", str(tmp_path / "run")])
    assert one_error_line(result).startswith("Error: lr = 3.0 (--lr): must be at most 1")  # the file's lr is replaced


def test_a_plugin_option_from_the_config_file_is_blamed_on_the_file(tmp_path):
    (tmp_path / "run.toml").write_text("[data_options]\nmax_shapes = \"abc\"\n")
    args = ["train", "--config", str(tmp_path / "run.toml"), *TINY, "--out", str(tmp_path / "run")]
    assert one_error_line(CliRunner().invoke(cli, args)) == (
        "Error: --data-opt max_shapes=abc: dataset 'shapes' expects an integer for max_shapes (default 3) (set in "
        f"[data_options] of --config {tmp_path / 'run.toml'})")
    typed = CliRunner().invoke(cli, [*args, "--data-opt", "max_shapes=xyz"])  # the command line's, as typed
    assert one_error_line(typed) == ("Error: --data-opt max_shapes=xyz: dataset 'shapes' expects an integer for "
                                     "max_shapes (default 3)")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("toml", "message"), [
    ('recipe = "sngn"', "unknown recipe 'sngn'"),  # raised while the settings are layered
    ('arch = "dcgna"', "unknown architecture 'dcgna'"),  # raised when the run is built
    ('reg = "r1, r3"', "unknown regulariser 'r3'"),
])
def test_a_plugin_name_from_the_config_file_is_blamed_on_the_file(tmp_path, toml, message):
    (tmp_path / "run.toml").write_text(toml + "\n")
    args = ["train", "--config", str(tmp_path / "run.toml"), *TINY, "--out", str(tmp_path / "run")]
    line = one_error_line(CliRunner().invoke(cli, args))
    assert line.startswith(f"Error: {message}. Did you mean")
    assert line.endswith(f"(set by {toml} in --config {tmp_path / 'run.toml'})")
    key = toml.split(" = ")[0]
    typed = one_error_line(CliRunner().invoke(cli, [*args, f"--{key}", toml.split('"')[1]]))  # typed: no file blamed
    assert "--config" not in typed and message in typed
    assert not (tmp_path / "run").exists()


def test_one_budget_steps_or_epochs(tmp_path, capture_trainer):
    both = CliRunner().invoke(cli, ["train", *TINY, "--epochs", "2", "--out", str(tmp_path / "run")])
    assert one_error_line(both) == "Error: --steps and --epochs both say how long to train; give one"
    (tmp_path / "both.toml").write_text("steps = 5\nepochs = 2\n")  # what an --epochs run's config.toml holds
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "both.toml"), "--out", str(tmp_path / "r")])
    assert "captured" in result.output and capture_trainer["config"].epochs == 2  # read back: epochs decide
    (tmp_path / "epochs.toml").write_text("epochs = 2\n")
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "epochs.toml"), *TINY,
                                      "--out", str(tmp_path / "run")])
    assert "captured" in result.output
    config = capture_trainer["config"]
    assert (config.steps, config.epochs) == (1, None)  # the command line's budget replaces the file's
    assert not (tmp_path / "r").exists()


def test_the_bounds_are_what_torch_and_adam_take():
    """The seed bound leaves room for the seeds the engine derives by adding to it; the bounds themselves pass."""
    torch.Generator().manual_seed(SEED_MAX + 1000)
    with pytest.raises((RuntimeError, ValueError), match="Overflow"):
        torch.Generator().manual_seed(2**64)
    assert RunConfig(seed=SEED_MAX, lr=1, lr_d=1e-9, beta2=0).lr == 1.0
    with pytest.raises(GanzooError, match=r"seed = 9223372036854775808 \(--seed\): must be at most"):
        RunConfig(seed=SEED_MAX + 1)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    """A one-step class-conditional run: its task differs from the default."""
    run = tmp_path_factory.mktemp("saved") / "run"
    result = CliRunner().invoke(cli, ["train", "--task", "conditional", "--arch", "dcgan", *TINY, "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.parametrize(("args", "named"), [
    (["--lr", "1e-3"], "lr=0.0002, not 0.001 (--lr)"),
    (["--seed", "3"], "seed=0, not 3 (--seed)"),
    (["--ema"], "ema=False, not True (--ema)"),
    (["--task", "unconditional"], "task='conditional', not 'unconditional' (--task)"),  # the default, given
    (["--loss-opt", "minimax=true"], "loss_options={}, not {'minimax': True} (--loss-opt)"),
    (["--n-critic", "2"], "n_critic unset, not 2 (--n-critic)"),
    (["--data-opt", "n=32"], "data_options={'n': 16}, not {'n': 32} (--data-opt)"),
    (["--precision", "bf16", "--width", "16"], "width=8, not 16 (--width); precision='fp32', not 'bf16' (--precision)"),
])
def test_resume_refuses_settings_that_cannot_change(saved_run, args, named):
    before = (saved_run / "checkpoint.safetensors").read_bytes()
    line = one_error_line(CliRunner().invoke(cli, ["train", "--resume", str(saved_run), "--steps", "2", *args]))
    assert f"--resume {saved_run}: checkpoint was trained with {named}; only --data-root, --steps, --epochs, " \
           "--device" in line and "may change on resume" in line
    assert (saved_run / "checkpoint.safetensors").read_bytes() == before


def test_resume_takes_the_settings_that_may_change(saved_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    other = tmp_path / "other"
    result = CliRunner().invoke(cli, ["train", "--resume", str(run), "--steps", "2", "--out", str(other),
                                      "--device", "cpu", "--log-every", "7", "--task", "conditional", "--seed", "0"])
    assert result.exit_code == 0, result.output
    _, meta = load_checkpoint(other)
    _, saved = load_checkpoint(saved_run)
    changed = {k: v for k, v in meta["config"].items() if v != saved["config"][k]}
    assert meta["step"] == 2
    assert changed == {"steps": 2, "out": str(other), "device": "cpu", "log_every": 7}
    # The run's own config file gives every setting, all as they were: accepted.
    again = CliRunner().invoke(cli, ["train", "--config", str(run / "config.toml"), "--resume", str(run),
                                     "--out", str(run), "--steps", "1"])
    assert again.exit_code == 1 and "and --steps is 1: nothing to train" in again.output


def test_resuming_a_linear_lr_run_with_other_steps_says_the_schedule_stretches(tmp_path):
    from ganzoo.engine.config import resume_config, warn_if_schedule_moves

    def resumed(saved: RunConfig, given: RunConfig, step: int = 3) -> RunConfig:
        config = resume_config(saved, given, {"steps"}, tmp_path)
        warn_if_schedule_moves(saved, config, tmp_path, step)
        return config

    saved = RunConfig(lr_policy="linear", steps=6, out=str(tmp_path))
    with pytest.warns(GanzooWarning, match=r"decays linearly to 0 at its --steps \(6\); --steps 12 stretches.*; "
                                           r"keep --steps 6 to go on with the same schedule$"):
        assert resumed(saved, RunConfig(steps=12)).steps == 12
    with pytest.warns(GanzooWarning, match=r"--steps 12 stretches.*; the run already finished that schedule at "
                                           r"step 6 \(LR 0\), so training on restarts from a higher LR$"):
        resumed(saved, RunConfig(steps=12), step=6)  # a finished run: keeping --steps 6 would train nothing
    for kept, given in ((saved, RunConfig(steps=6)), (dataclasses.replace(saved, lr_policy="constant"),
                                                         RunConfig(steps=12))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            resumed(kept, given)


def test_nproc_resume_is_checked_and_merged_before_the_processes_start(saved_run, monkeypatch):
    """The processes read every setting back from a config file as given: the parent merges them first."""
    launched = []
    monkeypatch.setattr("ganzoo.engine.distributed.launch", lambda *args: launched.append(args))
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "--resume", str(saved_run), "--nproc", "2", "--steps", "3"]).exit_code == 0
    (nproc, config, resume, overwrite), = launched
    _, meta = load_checkpoint(saved_run)
    assert (nproc, resume, overwrite) == (2, str(saved_run), False)
    assert json.loads(config.to_json()) == {**meta["config"], "steps": 3, "out": str(saved_run)}
    refused = runner.invoke(cli, ["train", "--resume", str(saved_run), "--nproc", "2", "--seed", "5"])
    assert "seed=0, not 5 (--seed)" in one_error_line(refused) and len(launched) == 1


def test_bench_shares_the_run_settings_and_passes_the_task_through(monkeypatch, tmp_path):
    seen = {}

    def run_bench(spec, echo):
        seen["spec"] = spec
        raise Captured

    monkeypatch.setattr("ganzoo.bench.run_bench", run_bench)
    help_text = CliRunner().invoke(cli, ["bench", "-h"]).output
    for flag in ("--task", "--loss-opt", "--arch-opt", "--task-opt", "--data-opt", "--archs", "--seconds", "--capture",
                 "--channels-last"):
        assert flag in help_text
    train_help = {p.name: p.help for p in setting_params(train_cmd)}
    assert all(p.help == train_help[p.name] for p in setting_params(bench_cmd))
    settings = ["--task", "inpainting", "--task-opt", "mask=box", "--arch-opt", "n_layers=2", "--loss-opt",
                "gp_weight=5", "--data-opt", "n=16", "--image-size", "16", "--seed", "3", "--capture", "step",
                "--channels-last"]
    result = CliRunner().invoke(cli, ["bench", "--archs", "unet", "--losses", "hinge", "--steps", "1",
                                      "--out", str(tmp_path / "b"), *settings])
    assert isinstance(result.exception, Captured), result.output
    base = seen["spec"].base
    assert (base.task, base.task_options, base.arch_options, base.loss_options) == (
        "inpainting", {"mask": "box"}, {"n_layers": 2}, {"gp_weight": 5})
    assert (base.width, base.batch_size, base.seed, base.log_every) == (None, None, 3, 10**9)  # the task decides
    assert (base.capture, base.channels_last) == ("step", True)  # speed modes compare as bench rows
    ctx = train_cmd.make_context("train", settings)
    values = {k: v for k, v in ctx.params.items() if k in SETTINGS}
    trained, _ = build_config(None, values)
    assert base.to_json() == RunConfig(**{**json.loads(trained.to_json()), "log_every": 10**9,
                                          "sample_every": 10**9, "ckpt_every": 10**9}).to_json()
    bad = CliRunner().invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--steps", "1",
                                   "--seed", "99999999999999999999", "--out", str(tmp_path / "c")])
    assert "seed = 99999999999999999999 (--seed): must be at most" in one_error_line(bad)
