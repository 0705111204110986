"""The training engine: every arch x loss trains, exact resume, checkpoints, CLI train/sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import io

import ganzoo
from ganzoo.api import GanzooError, IncompatibleError
from ganzoo.cli import cli
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer, load_for_inference, serving
from conftest import assert_same_logs, assert_same_weights, tiny_run, write_fake_mnist

GENERATION_ARCHS = [name for name in serving(ganzoo.get("tasks", "unconditional")) if ganzoo.list("archs", name)[0].distribution == "ganzoo"]
LOSSES = [e.name for e in ganzoo.list("losses") if e.distribution == "ganzoo"]


tiny = tiny_run(batch_size=8, width=8, nz=16, steps=2, data_options={"n": 64})


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("arch", GENERATION_ARCHS)
def test_every_arch_and_loss_trains(arch, loss, tmp_path):
    trainer = Trainer(tiny(tmp_path, arch=arch, loss=loss, n_critic=1))
    run_dir = trainer.fit()
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(np.isfinite(r[k]) for r in records for k in ("d_loss", "g_loss", "D(x)", "D(G(z))"))
    size, channels = trainer.config.image_size, trainer.config.channels
    images = trainer.task.samples(trainer.sample_nets(), trainer.fixed_inputs())
    assert images.shape == (4, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    grid = io.imread(run_dir / "samples.png")
    assert grid.shape[0] > size


def test_conditional_task_uses_labels(tmp_path):
    trainer = Trainer(tiny(tmp_path, task="conditional", arch="dcgan", loss="hinge", n_samples=8))
    trainer.fit()
    fixed = trainer.fixed_inputs()
    assert fixed["label"].tolist() == [i % trainer.task.num_classes for i in range(8)]
    with pytest.raises(IncompatibleError,
                       match="cannot serve task 'conditional': it lacks G input 'label'.*serve it: dcgan, mlp"):
        Trainer(tiny(tmp_path, task="conditional", arch="dcgan-tf"))


def test_resume_is_exact(tmp_path, resume_pair):
    """2N steps straight == N steps, stop, resume for N more: same losses, same weights."""
    common = dict(arch="dcgan-keras", loss="wgan-gp", n_critic=2, ema=True)
    straight, resumed, log_a, log_b = resume_pair(lambda out, steps: tiny(tmp_path, steps=steps, out=out, **common), 6)
    assert [r["step"] for r in log_b] == [1, 2, 3, 4, 5, 6]
    assert_same_logs(log_a, log_b, ("d_loss", "g_loss", "D(x)", "D(G(z))", "lr"))
    assert_same_weights(straight, resumed, ("G.", "D.", "ema."))


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    run = Trainer(tiny(tmp_path, steps=1)).fit()
    ckpt = run / "checkpoint.safetensors"
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(GanzooError, match="truncated.safetensors' is truncated or not a safetensors file"):
        load_for_inference(truncated, "cpu")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(GanzooError, match="garbage.safetensors"):
        load_for_inference(garbage, "cpu")
    with pytest.raises(GanzooError, match="checkpoint was trained with arch='dcgan', not 'mlp'"):
        Trainer(tiny(tmp_path, arch="mlp"), resume=ckpt)
    with pytest.raises(GanzooError, match="does not exist"):
        load_for_inference(tmp_path / "nowhere.safetensors", "cpu")
    classifier = tmp_path / "clf.safetensors"
    result = CliRunner().invoke(cli, ["features", "train", "--dataset", "shapes", "--steps", "1", "--width", "4",
                                      "--limit", "16", "--image-size", "16", "--out", str(classifier)])
    assert result.exit_code == 0, result.output
    with pytest.raises(GanzooError, match=r"clf.safetensors' is a ganzoo-classifier file, not a run's checkpoint; "
                                          r"give this command a run directory .* \(a classifier goes to "
                                          r"--classifier\)"):
        load_for_inference(classifier, "cpu")


def test_checkpoint_weights_from_another_architecture_are_refused(tmp_path):
    from ganzoo.engine.checkpoint import load_module

    tensors, _ = load_checkpoint(Trainer(tiny(tmp_path, steps=1)).fit())
    other = Trainer(tiny(tmp_path, arch="mlp", out=str(tmp_path / "mlp")))
    with pytest.raises(GanzooError, match="does not fit network 'G'.*different architecture"):
        load_module("G", other.eager["G"], tensors, "ckpt")


def test_incompatible_combination_is_refused_before_training(tmp_path):
    with pytest.raises(IncompatibleError, match=r"dcgan-keras.*--image-size 64.*28"):
        Trainer(tiny(tmp_path, arch="dcgan-keras", image_size=64))
    assert not (tmp_path / "run").exists()


def test_cli_train_then_sample(tmp_path):
    runner = CliRunner()
    config = tmp_path / "run.toml"
    config.write_text('arch = "dcgan"\nwidth = 8\nbatch_size = 8\n[data_options]\nn = 32\n')
    out = tmp_path / "cli-run"
    result = runner.invoke(cli, ["train", "--config", str(config), "--steps", "2", "--nz", "8", "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    saved = (out / "config.toml").read_text()
    assert 'arch = "dcgan"' in saved and "steps = 2" in saved and "width = 8" in saved
    grid = tmp_path / "grid.png"
    result = runner.invoke(cli, ["sample", str(out), "-n", "9", "--out", str(grid), "--seed", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    image = io.imread(grid)
    assert image.shape[:2] == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)
    again = tmp_path / "again.png"
    runner.invoke(cli, ["sample", str(out), "-n", "9", "--out", str(again), "--seed", "1", "--device", "cpu"])
    assert np.array_equal(io.imread(again), image), "same seed, same samples"


def test_cli_reports_bad_options_without_traceback(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.toml"
    bad.write_text("stepz = 3\n")
    result = runner.invoke(cli, ["train", "--config", str(bad)])
    assert result.exit_code != 0
    assert "unknown setting 'stepz' (did you mean 'steps'?)" in result.output
    result = runner.invoke(cli, ["train", "--arch", "dcgan-keras", "--image-size", "64", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "28" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["train", "--data-opt", "num=64", "--steps", "1", "--out", str(tmp_path / "y")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert ("--data-opt num: dataset 'shapes' has no such option (its options: n=10000, max_shapes=3, gradient=0.5, "
            "corners=true)") in result.output
    assert not (tmp_path / "y").exists(), "refused before a run directory is made"


def test_cli_train_on_a_folder_with_a_bad_image(tmp_path):
    """A corrupt file is named in the error; --skip-bad-images trains on the rest."""
    from ganzoo.images import save_image

    root = tmp_path / "images"
    for i in range(12):
        save_image(torch.rand(3, 20, 20) * 2 - 1, root / f"img{i:02d}.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    runner = CliRunner()
    args = ["train", "--dataset", "folder", "--data-root", str(root), "--data-opt", "test_fraction=0.3", "--steps",
            "1", "--batch-size", "4", "--width", "8", "--no-progress", "--out", str(tmp_path / "run")]
    result = runner.invoke(cli, args)
    assert result.exit_code != 0
    assert "broken.png" in result.output and "--skip-bad-images" in result.output
    result = runner.invoke(cli, [*args, "--skip-bad-images"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    scored = runner.invoke(cli, ["eval", str(tmp_path / "run"), "--metrics", "memorization", "-n", "4"])
    assert scored.exit_code == 0 and "memorization_ratio" in scored.output, scored.output


def test_ema_warms_up_then_settles_to_its_decay():
    from torch.optim.swa_utils import AveragedModel

    from ganzoo.engine.trainer import warmup_ema

    net = torch.nn.Linear(1, 1, bias=False)
    avg = AveragedModel(net, multi_avg_fn=warmup_ema(0.9), use_buffers=True)
    expected = None
    for n in range(100):  # the warm-up reaches the cap 0.9 at n = 81
        with torch.no_grad():
            net.weight.fill_(float(n))
        avg.update_parameters(net)
        if expected is None:
            expected = 0.0  # the first update copies the weights
        else:
            decay = min(0.9, (1 + n) / (10 + n))  # n updates so far
            expected = decay * expected + (1 - decay) * n
        assert avg.module.weight.item() == pytest.approx(expected, rel=1e-5), n


def test_recipes_set_the_optimiser_unless_the_user_does():
    from ganzoo.engine.trainer import assemble

    def adam(**values):
        c = assemble(RunConfig(**values)).config
        return c.lr, c.beta1, c.beta2, c.batch_size, c.width, c.ema

    # unconditional generation's own defaults (the main job's), whatever the loss, unless the loss has a recipe
    assert adam() == (1e-3, 0.0, 0.99, 64, 32, True)
    assert assemble(RunConfig()).config.loss == "hinge"
    assert adam(loss="bce") == (1e-3, 0.0, 0.99, 64, 32, True)
    assert adam(loss="wgan-gp") == (1e-4, 0.0, 0.9, 64, 32, True)  # Gulrajani et al.'s Adam wins over the task's
    assert adam(loss="wgan-gp", lr=3e-4, beta1=0.5, width=16, ema=False) == (3e-4, 0.5, 0.9, 64, 16, False)
    # a task without defaults of its own: the engine's, the DCGAN paper's
    assert adam(task="conditional", loss="bce") == (2e-4, 0.5, 0.999, 64, 64, False)
    assert adam(task="cyclegan", loss="wgan-gp", dataset="style-benchmark", image_size=32)[:4] == (1e-4, 0.0, 0.9, 1)



def test_cli_prints_ganzoo_warnings_as_one_line(tmp_path):
    """A skipped image is a 'warning: ...' line naming the file, not a Python source location."""
    from ganzoo.images import save_image

    root = tmp_path / "images"
    for i in range(8):
        save_image(torch.rand(3, 20, 20) * 2 - 1, root / f"img{i:02d}.png")
    (root / "broken.png").write_bytes(b"not an image")
    result = CliRunner().invoke(cli, ["train", "--dataset", "folder", "--data-root", str(root), "--steps", "1",
                                      "--batch-size", "4", "--width", "8", "--no-progress", "--skip-bad-images",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "broken.png" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: folder: skipping 1 unreadable image(s)")
    assert "UserWarning" not in result.output and ".py:" not in result.output


@pytest.mark.parametrize(("extra", "message"), [
    (["--arch-opt", "foo=1"], "--arch-opt foo: architecture 'dcgan' has no such option (its options: "
                              "d_norm=batch, d_stem=none, d_down=conv, g_up=transposed)"),
    (["--task", "cyclegan", "--arch", "resnet-6blocks", "--arch-opt", "n_layer=1"],
     "--arch-opt n_layer (did you mean n_layers?): architecture 'resnet-6blocks' has no such option"),
    (["--data-opt", "n=abc"], "--data-opt n=abc: dataset 'shapes' expects an integer for n (default 10000)"),
    (["--task-opt", "foo=1"], "--task-opt foo: task 'unconditional' has no such option (its options: none)"),
    (["--loss", "wgan-gp", "--loss-opt", "gp_weight=abc"], "--loss-opt gp_weight=abc: loss 'wgan-gp' expects a number"),
    (["--loss-opt", "n_critic=true"], "--loss-opt n_critic=true: loss 'hinge' expects an integer"),  # as typed
])
def test_option_flags_refuse_unknown_keys_and_wrong_kinds(tmp_path, extra, message):
    """Every --*-opt flag is checked the same way, before training, in one Error line."""
    result = CliRunner().invoke(cli, ["train", "--steps", "1", "--width", "8", "--batch-size", "4", "--no-progress",
                                      "--out", str(tmp_path / "run"), *extra])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "steps = 0 (--steps): must be at least 1"),
    (["--batch-size", "0"], "batch_size = 0 (--batch-size): must be at least 1"),
    (["--n-critic", "0"], "n_critic = 0 (--n-critic): must be at least 1"),
    (["--log-every", "0"], "log_every = 0 (--log-every): must be at least 1"),
    (["--lr", "-1"], "lr = -1.0 (--lr): must be positive"),
    (["--beta2", "1"], "beta2 = 1.0 (--beta2): must be below 1"),
    (["--seed", "-1"], "seed = -1 (--seed): must be at least 0"),
    (["--device", "tpu"], "--device tpu: not a device"),
])
def test_out_of_range_settings_are_one_error_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["train", "--no-progress", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_config_file_with_a_wrong_kind_of_value_names_it(tmp_path):
    (tmp_path / "run.toml").write_text('steps = "abc"\n')
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "steps = 'abc' (--steps): expects an integer" in result.output
    assert not (tmp_path / "r").exists()


def test_train_never_mixes_into_an_existing_run(tmp_path, monkeypatch):
    """--out (or a --config copied from a run) naming a finished run is refused; --overwrite starts clean."""
    runner = CliRunner()
    run = tmp_path / "run"
    base = ["train", "--width", "8", "--batch-size", "4", "--data-opt", "n=16", "--no-progress", "--sample-every", "1"]
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, [*base, "--steps", "2", "--out", "run"]).exit_code == 0  # relative, as users type it
    before = (run / "checkpoint.safetensors").read_bytes()
    again = runner.invoke(cli, [*base, "--steps", "1", "--out", str(run)])
    assert again.exit_code == 1 and "already holds a run" in again.output and f"--resume {run}" in again.output
    monkeypatch.chdir(run)  # the config's out is written absolute: the same run from any folder
    from_config = runner.invoke(cli, ["train", "--config", str(run / "config.toml"), "--steps", "1"])
    assert from_config.exit_code == 1 and f"(set by --config {run / 'config.toml'})" in from_config.output
    assert (run / "checkpoint.safetensors").read_bytes() == before
    assert runner.invoke(cli, [*base, "--steps", "1", "--out", str(run), "--overwrite"]).exit_code == 0
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000001.png"]
    assert [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()] == [1]


def test_resume_past_the_end_says_so_and_data_root_is_stored_absolute(tmp_path, monkeypatch):
    root = tmp_path / "images"
    from ganzoo.images import save_image

    for i in range(8):
        save_image(torch.rand(3, 16, 16) * 2 - 1, root / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["train", "--dataset", "folder", "--data-root", "images", "--width", "8", "--batch-size", "4",
            "--no-progress", "--out", "run"]
    assert runner.invoke(cli, [*args, "--steps", "2"]).exit_code == 0
    assert f'data_root = "{root.resolve()}"' in (tmp_path / "run" / "config.toml").read_text()
    result = runner.invoke(cli, ["train", "--resume", "run", "--steps", "1", "--no-progress"])
    assert result.exit_code == 1 and "at step 2 and --steps is 1: nothing to train" in result.output


def test_a_datasets_default_root_is_stored_absolute_too(tmp_path, monkeypatch):
    """A run given no --data-root records where its dataset looks, so eval and resume work from any directory:
    $GANZOO_MNIST_ROOT as it is when the run starts, else MNIST's default, relative to the working directory."""
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("GANZOO_MNIST_ROOT", str(write_fake_mnist(tmp_path / "digits")))
    config = Trainer(tiny(tmp_path, dataset="mnist", data_options={}, steps=1)).config
    assert config.data_root == str((tmp_path / "digits").resolve())
    monkeypatch.delenv("GANZOO_MNIST_ROOT")
    write_fake_mnist(tmp_path / "shared" / "data" / "mnist")  # ../shared/data/mnist from work/
    config = Trainer(tiny(tmp_path, dataset="mnist", data_options={}, steps=1)).config
    assert config.data_root == str((tmp_path / "shared" / "data" / "mnist").resolve())
    assert Trainer(tiny(tmp_path, steps=1)).config.data_root is None, "shapes draws its images: no root"


def test_sample_refuses_lossy_or_nameless_outputs_and_empty_grids(tmp_path):
    run = Trainer(RunConfig(width=8, nz=16, batch_size=4, steps=1, n_samples=4, progress=False, device="cpu",
                            data_options={"n": 16}, out=str(tmp_path / "run"))).fit()
    runner = CliRunner()
    for out, message in [("grid.jpg", "name it grid.png"), ("grid.txt", "lossless .png"), ("", "lossless .png")]:
        result = runner.invoke(cli, ["sample", str(run), "-n", "4", "--out", str(tmp_path / out) if out else ""])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, out
    result = runner.invoke(cli, ["sample", str(run), "-n", "0"])
    assert result.exit_code == 2 and "0 is not in the range 1<=x<=4096" in result.output
    assert runner.invoke(cli, ["sample", str(run), "-n", "4", "--out", str(tmp_path / "g.png")]).exit_code == 0


def test_a_dataset_smaller_than_one_batch_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--data-opt", "n=3", "--batch-size", "4", "--steps", "1",
                                      "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "dataset 'shapes' has 3 item(s), fewer than one batch of 4" in result.output


def test_a_generator_that_makes_the_wrong_size_is_one_error_line_before_d_runs(tmp_path):
    trainer = Trainer(tiny(tmp_path))
    G = trainer.eager["G"]
    full = G.forward
    G.forward = lambda z, *rest: full(z, *rest)[:, :, :16, :16]  # a plugin G that ignores --image-size
    with pytest.raises(GanzooError, match=r"^D is shown real images of shape \(3, 32, 32\) and generated ones of "
                                          r"shape \(3, 16, 16\): the generated ones are not the \(3, 32, 32\) that "
                                          r"--channels 3 --image-size 32 ask for; architecture 'dcgan' does not "):
        trainer.fit()


def test_an_error_in_a_step_starts_its_own_line_after_the_progress_bar(tmp_path, monkeypatch):
    def fails(self, batches):
        raise GanzooError("the plugin's step failed")

    monkeypatch.setattr(Trainer, "train_step", fails)
    result = CliRunner().invoke(cli, ["train", "--steps", "2", "--width", "8", "--batch-size", "4", "--data-opt", "n=16",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "0/2" in result.output  # the bar was drawn
    assert "Error: the plugin's step failed" in result.output.splitlines()  # a line of its own, for ^Error: scripts


def test_an_architecture_that_declares_no_options_refuses_arch_opt(tmp_path, monkeypatch):
    import dataclasses

    from ganzoo.registry import get_registry

    old = Trainer(tiny(tmp_path, arch_options={"g_up": "nearest"}, out=str(tmp_path / "old"))).fit()
    entries = get_registry().entries["archs"]
    entry = entries["dcgan"][0]
    undeclared = dataclasses.replace(entry, obj=dataclasses.replace(entry.obj, options=None))
    monkeypatch.setitem(entries, "dcgan", [undeclared])
    result = CliRunner().invoke(cli, ["train", "--steps", "1", "--arch-opt", "widht=16",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and not (tmp_path / "run").exists()
    assert ("Error: --arch-opt widht: architecture 'dcgan' takes no options (it declares none); drop --arch-opt"
            in result.output)
    loaded = CliRunner().invoke(cli, ["sample", str(old), "--out", str(tmp_path / "grid.png")])
    assert loaded.exit_code == 0, "a run made before the plugin stopped declaring options still loads"
    resumed = CliRunner().invoke(cli, ["train", "--resume", str(old), "--steps", "3", "--no-progress"])
    assert resumed.exit_code == 0, resumed.output


def test_arch_options_reach_the_builder_typed_with_every_default(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--task", "inpainting", "--arch", "resnet-6blocks", "--image-size", "16",
                                      "--width", "8", "--batch-size", "4", "--data-opt", "n=16", "--steps", "1",
                                      "--arch-opt", "residual=False", "--arch-opt", "n_layers=2", "--no-progress",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output  # "False" was a string, so true: refused for a 4-to-3-channel G
    assert "residual = false" in (tmp_path / "run" / "config.toml").read_text()
    again = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path / "run"), "--steps", "2", "--arch-opt",
                                     "residual=False", "--arch-opt", "n_layers=2", "--no-progress"])
    assert again.exit_code == 0, again.output  # the same options typed again on resume are the run's
    trainer = Trainer(tiny(tmp_path, arch_options={"g_up": "nearest"}))
    assert trainer.task.net_config().options == {"d_norm": "batch", "d_stem": "none", "d_down": "conv",
                                                 "g_up": "nearest"}


def test_a_task_whose_command_no_plugin_adds_is_told_so_not_sent_to_it(tmp_path, monkeypatch):
    run = Trainer(tiny(tmp_path, steps=1)).fit()
    monkeypatch.setattr(ganzoo.get("tasks", "unconditional"), "command", "paint")
    result = CliRunner().invoke(cli, ["sample", str(run), "--out", str(tmp_path / "grid.png")])
    assert result.exit_code == 1 and not (tmp_path / "grid.png").exists()
    assert ("was trained for task 'unconditional', which is put to use by `ganzoo paint`, a command no installed "
            "plugin adds (see `ganzoo --help`)") in result.output


def test_a_tasks_unregistered_default_is_named_as_the_tasks_not_the_users(tmp_path, monkeypatch):
    task = ganzoo.get("tasks", "unconditional")
    monkeypatch.setattr(task, "default_arch", "nosuch-arch")
    with pytest.raises(GanzooError, match="^task 'unconditional' trains architecture 'nosuch-arch' by default, which "
                                          "is not registered; pass --arch NAME. Architectures that serve it: "):
        Trainer(tiny(tmp_path))
    monkeypatch.setattr(task, "default_loss", "nosuch-loss")
    with pytest.raises(GanzooError, match="^task 'unconditional' trains loss 'nosuch-loss' by default, which is not "
                                          "registered; pass --loss NAME. Losses: bce, "):
        Trainer(tiny(tmp_path, arch="dcgan", loss=None))
    with pytest.raises(GanzooError, match="unknown architecture 'nosuch-arch'"):  # one the user typed: as before
        Trainer(tiny(tmp_path, arch="nosuch-arch"))


def test_a_dataset_of_another_layout_names_the_datasets_that_fit(tmp_path):
    with pytest.raises(IncompatibleError, match="dataset 'shapes' yields 'image' items but task 'cyclegan' needs "
                                                "'unaligned' items; datasets that yield them: .*style-benchmark"):
        Trainer(tiny(tmp_path, task="cyclegan"))


def test_eval_of_a_task_without_an_evaluation_names_the_task(tmp_path, monkeypatch):
    run = Trainer(tiny(tmp_path, steps=1)).fit()
    monkeypatch.setattr(ganzoo.get("tasks", "unconditional"), "evaluate", ganzoo.Task.evaluate)
    result = CliRunner().invoke(cli, ["eval", str(run)])
    assert result.exit_code == 1 and ("Error: task 'unconditional' has no evaluation (its plugin defines no evaluate)"
                                      in result.output)


def test_eval_on_a_held_out_split_too_small_for_a_metric_names_it(tmp_path):
    from ganzoo.images import save_image

    root = tmp_path / "four"
    for i in range(4):  # two classes (sub-folders) of two: the classifier needs labels
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        save_image(torch.rand(3, 16, 16) * 2 - 1, root / f"c{i % 2}" / f"img{i}.png")
    data = ["--dataset", "folder", "--data-root", str(root), "--image-size", "16"]
    clf = tmp_path / "clf.safetensors"
    made = CliRunner().invoke(cli, ["features", "train", *data, "--steps", "1", "--width", "4", "--batch-size", "2",
                                    "--out", str(clf)])
    assert made.exit_code == 0, made.output
    run = Trainer(tiny(tmp_path, dataset="folder", data_root=str(root), image_size=16, batch_size=2, arch="mlp",
                       data_options={})).fit()
    result = CliRunner().invoke(cli, ["eval", str(run), "-n", "8", "--metrics", "pr,dc", "--classifier", str(clf)])
    assert result.exit_code == 1 and ("Error: the held-out split of 'folder' has 4 image(s): dc needs at least 6; "
                                      "choose other --metrics, or give the dataset more images") in result.output
