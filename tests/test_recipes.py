"""Recipes: named run settings any explicit option overrides; every shipped recipe trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganzoo
from conftest import ganzoo_cli
from ganzoo.cli import build_config, cli
from ganzoo.engine.config import laid_over
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.trainer import assemble

RECIPES = [e.name for e in ganzoo.list("recipes") if e.distribution == "ganzoo"]
SMALL = ["--width", "8", "--steps", "2", "--log-every", "1", "--no-progress", "--device", "cpu"]
# Per recipe, what makes it a seconds-long CPU test (the recipe's own choices stay otherwise).
SHRINK = {
    "cyclegan": ["--dataset", "style-benchmark", "--image-size", "16", "--arch-opt", "n_layers=2", "--data-opt",
                 "n=8", "--data-opt", "n_test=4"],
    "inpainting": ["--batch-size", "8", "--image-size", "16"],
    "pacdcgan2": ["--batch-size", "8", "--data-opt", "n=32"],
    "mlp-gan": ["--batch-size", "8"],
    "seed002": ["--batch-size", "8"],
}


def test_the_shipped_recipes_are_listed_with_settings_and_source():
    result = CliRunner().invoke(cli, ["list", "recipes", "--json"])
    listed = {r["name"]: r for r in json.loads(result.output)}
    assert {"seed000", "seed001", "seed002", "mlp-gan", "dcgan", "sngan", "wgan-gp", "cyclegan", "inpainting",
            "pacdcgan2"} <= set(listed)
    assert listed["sngan"]["settings"]["n_critic"] == 5 and listed["sngan"]["settings"]["beta1"] == 0.0
    assert all(r["source"] and r["description"] for r in listed.values())


def test_cpu_quick_is_what_train_trains_with_no_options():
    from ganzoo.engine.config import RunConfig
    from ganzoo.engine.trainer import assemble

    default = assemble(RunConfig()).config
    recipe = assemble(RunConfig(**ganzoo.get("recipes", "cpu-quick").settings)).config
    assert recipe.to_json() == default.to_json()
    assert (default.loss, default.width, default.ema, default.lr) == ("hinge", 32, True, 1e-3)


def test_every_recipe_names_its_optimiser_width_and_ema():
    """Generation's defaults must never leak into a paper's or a seed's run."""
    for name in RECIPES:
        settings = ganzoo.get("recipes", name).settings
        if settings.get("task", "unconditional") == "unconditional":
            assert {"lr", "beta1", "ema"} <= set(settings) or settings.get("loss") == "wgan-gp", name
            assert "width" in settings or settings["arch"] in ("mlp", "pacgan-table3"), name


def test_sngan_cpu_is_sngan_at_a_smaller_width():
    sngan, cpu = (ganzoo.get("recipes", name).settings for name in ("sngan", "sngan-cpu"))
    assert cpu["width"] == 8 and sngan["width"] == 64, "sngan keeps the paper's width"
    assert {k: v for k, v in cpu.items() if k != "width"} == {k: v for k, v in sngan.items() if k != "width"}


@pytest.mark.parametrize("name", RECIPES)
def test_every_shipped_recipe_trains(name, tmp_path):
    extra = SHRINK.get(name, ["--batch-size", "4", "--data-opt", "n=16"])
    result = CliRunner().invoke(cli, ["train", "--recipe", name, *SMALL, *extra, "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    _, meta = load_checkpoint(tmp_path / "run")
    recipe = ganzoo.get("recipes", name).settings
    config = meta["config"]
    assert config["recipe"] == name and meta["step"] == 2
    for key in ("arch", "loss", "task", "lr", "beta1", "n_critic", "pack"):
        if key in recipe:
            assert config[key] == recipe[key], key


def test_explicit_options_override_the_recipe_and_tables_merge(tmp_path):
    config, given = build_config(None, {"recipe": "inpainting", "lr": 1e-3, "task_options": ("mask_min_area=0.1",)})
    assert config.lr == 1e-3 and config.arch == "unet" and config.width == 16
    assert config.task_options == {"mask": "mixture", "prefill": "biharmonic", "mask_min_area": 0.1}
    assert "lr" in given and "width" not in given, "recipe settings are not 'given' (resume does not refuse them)"
    config, _ = build_config(None, {"recipe": "cyclegan", "steps": 10})
    assert config.steps == 10 and config.epochs is None, "--steps replaces the recipe's 200 epochs"
    toml = tmp_path / "run.toml"
    toml.write_text('recipe = "sngan"\nbatch_size = 32\n')
    config, _ = build_config(str(toml), {"n_critic": 1})
    assert (config.arch, config.loss, config.batch_size, config.n_critic) == ("resnet-sn", "hinge", 32, 1)


def test_another_plugin_than_the_recipes_drops_the_recipes_settings_for_it(tmp_path):
    config, _ = build_config(None, {"recipe": "wgan-gp", "loss": "hinge"})
    assert config.loss == "hinge" and config.loss_options == {} and config.n_critic == 5, "the rest of it stays"
    assemble(config)  # no '--loss-opt gp_weight: loss hinge has no such option' from options the user never gave
    config, _ = build_config(None, {"recipe": "inpainting", "dataset": "shapes"})
    assert (config.dataset, config.data_options, config.data_root, config.channels) == ("shapes", {}, None, None)
    assert config.task_options == {"mask": "mixture", "prefill": "biharmonic"} and config.arch == "unet"
    config, _ = build_config(None, {"recipe": "inpainting", "dataset": "mnist"})
    assert (config.data_options, config.channels) == ({"holdout": 2000}, 1), "the recipe's own dataset keeps them"
    config, _ = build_config(None, {"recipe": "seed001", "dataset": "mnist"})
    assert config.channels is None and config.nz == 100, "seed001's 3 channels were those of its own data"
    config, _ = build_config(None, {"recipe": "wgan-gp", "loss": "hinge", "loss_options": ("n_critic=2",)})
    assert config.loss_options == {"n_critic": 2}, "the user's table for the new loss, without the recipe's"
    config, _ = build_config(None, {"recipe": "inpainting", "dataset": "shapes", "data_options": ("n=64",)})
    assert config.data_options == {"n": 64}
    assert laid_over({"reg": "r1", "reg_options": {"r1.gamma": 1}}, {"reg": "r1, lecam"})["reg_options"] == {
        "r1.gamma": 1}, "r1 is still named: its options stay"
    assert laid_over({"reg": ["r1"], "reg_options": {"r1.gamma": 1}}, {"reg": "ganzoo:r1"})["reg_options"] == {
        "r1.gamma": 1}
    assert laid_over({"reg": "r1", "reg_options": {"r1.gamma": 1}}, {"reg": "lecam"})["reg_options"] == {}


def test_a_recipe_on_the_command_line_overrides_a_config_file_and_one_in_the_file_does_not(tmp_path):
    toml = tmp_path / "config.toml"
    toml.write_text('loss = "bce"\nlr = 0.002\nwidth = 8\nsteps = 50\nloss_options = {}\n')
    config, given = build_config(str(toml), {"recipe": "wgan-gp", "beta2": 0.99})
    assert (config.loss, config.lr, config.loss_options, config.beta2) == ("wgan-gp", 1e-4, {"gp_weight": 10.0}, 0.99)
    assert (config.width, config.steps) == (64, 50), "the recipe's width over the file's; the file's budget kept"
    assert given == {"loss", "lr", "width", "steps", "loss_options", "recipe", "beta2"}
    toml.write_text('dataset = "shapes"\nloss = "bce"\nsteps = 50\n[data_options]\nn = 64\n[loss_options]\n'
                    'smooth = 0.1\n')
    config, given = build_config(str(toml), {"recipe": "inpainting", "epochs": 2})
    assert (config.dataset, config.data_options, config.loss, config.loss_options) == (
        "mnist", {"holdout": 2000}, "hinge", {}), "the file's tables went with its dataset and loss"
    assert "steps" not in given and config.epochs == 2, "the command line's budget replaced the file's"
    toml.write_text('dataset = "mnist"\ndata_root = "/data/mnist"\nchannels = 1\n')
    config, _ = build_config(str(toml), {"dataset": "shapes"})
    assert (config.data_root, config.channels) == (None, None), "no mnist root for shapes"
    toml.write_text('recipe = "wgan-gp"\nlr = 0.002\n')
    config, _ = build_config(str(toml), {})
    assert (config.loss, config.lr) == ("wgan-gp", 0.002)


def test_readme_recipe_example_is_the_tested_one():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    source = (Path(__file__).parent / "plugins" / "ganzoo-recipe" / "ganzoo_recipe.py").read_text().rstrip()
    assert source in readme, "README's recipe example drifted from tests/plugins/ganzoo-recipe/ganzoo_recipe.py"


def test_unknown_recipe_and_a_recipe_whose_plugin_is_missing_are_one_line(installed, tmp_path):
    typo = ganzoo_cli("train", "--recipe", "sngn", "--steps", "1")
    assert typo.returncode != 0 and "unknown recipe 'sngn'. Did you mean: sngan" in typo.stderr
    site = [installed["ganzoo-recipe"]]
    missing = ganzoo_cli("train", "--recipe", "tiny-smooth", "--steps", "1", sites=site)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "recipe 'tiny-smooth' needs arch 'tiny-conv', which is not installed" in missing.stderr
    left_out = ganzoo_cli("train", "--recipe", "tiny-smooth", "--steps", "1", sites=[*site, installed["ganzoo-example"]],
                          env={"GANZOO_LOAD_PLUGINS": "recipe"})
    assert "which is not registered; installed plugins that GANZOO_LOAD_PLUGINS leaves out: " in left_out.stderr
    assert "example" in left_out.stderr.split("leaves out: ")[1]
    both = ganzoo_cli("train", "--recipe", "tiny-smooth", "--steps", "1", "--batch-size", "8", "--data-opt", "n=16",
                      "--out", str(tmp_path / "run"), "--no-progress", sites=[*site, installed["ganzoo-example"]])
    assert both.returncode == 0, both.stderr


def test_a_recipes_bad_value_or_unknown_key_names_the_recipe(monkeypatch):
    settings = ganzoo.get("recipes", "sngan").settings
    monkeypatch.setitem(settings, "width", -4)
    with pytest.raises(ganzoo.GanzooError, match=r"^recipe 'sngan': width = -4 \(--width\): "):
        build_config(None, {"recipe": "sngan"})
    monkeypatch.delitem(settings, "width")
    monkeypatch.setitem(settings, "archh", "dcgan")
    with pytest.raises(ganzoo.GanzooError, match=r"^recipe 'sngan' sets 'archh' \(did you mean 'arch'\?\), which are "
                                                 "no run settings; fix the recipe"):
        build_config(None, {"recipe": "sngan"})


@pytest.mark.parametrize("defaults, message", [
    ({"batchsize": 8}, "task 'unconditional' config_defaults sets 'batchsize' (did you mean 'batch_size'?), which are "
                       "no run settings; fix the plugin"),
    ({"steps": 8}, "task 'unconditional' config_defaults sets steps, which a plugin may not choose (it may choose "
                   "batch_size, lr, "),
    ({"lr": "fast"}, "task 'unconditional' config_defaults: lr = 'fast' (--lr): expects a number; fix the plugin"),
])
def test_a_plugins_config_defaults_are_checked_like_the_users_settings(defaults, message, monkeypatch, tmp_path):
    monkeypatch.setattr(ganzoo.get("tasks", "unconditional"), "config_defaults", defaults)
    with pytest.raises(ganzoo.GanzooError) as caught:
        assemble(ganzoo.RunConfig(out=str(tmp_path / "run")))
    assert message in str(caught.value)
