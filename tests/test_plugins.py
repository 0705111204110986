"""The plugin system end to end: third-party distributions pip-installed offline, then seen by the CLI."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo import cli as ganzoo_cli_module
from ganzoo.api import GanzooError, GanzooWarning
from ganzoo.registry import KINDS, Registry

from conftest import PLUGINS, ganzoo_cli


@pytest.fixture
def registry_with(installed, monkeypatch):
    """A fresh in-process Registry that sees the named test distributions, under the given GANZOO_* settings
    (much faster than a CLI subprocess)."""

    def build(*names: str, **env: str) -> Registry:
        for key in [k for k in os.environ if k.startswith("GANZOO_")]:
            monkeypatch.delenv(key)
        for name in names:
            monkeypatch.syspath_prepend(str(installed[name]))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return Registry()

    return build


def cli_with(registry: Registry, monkeypatch, *args: str) -> click.testing.Result:
    """Run a built-in command in process against ``registry`` (plugin commands are not added)."""
    monkeypatch.setattr(ganzoo_cli_module, "get_registry", lambda: registry)
    monkeypatch.setattr(ganzoo_cli_module.GanzooGroup, "_plugins_added", True)
    return CliRunner().invoke(ganzoo_cli_module.cli, list(args))


def test_builtins_come_from_the_entry_point_group():
    result = ganzoo_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["dcgan"]["builtin"] and plugins["dcgan"]["distribution"] == "ganzoo"
    assert plugins["dcgan"]["entry_point_group"] == "ganzoo"
    assert plugins["hinge"]["provides"] == {"losses": ["hinge"]}
    assert plugins["unconditional"]["module"] == "ganzoo_plugins.tasks.unconditional"
    assert plugins["cyclegan"]["provides"] == {"tasks": ["cyclegan"]}
    assert plugins["translate"]["provides"] == {"commands": ["translate"]}
    assert plugins["logger-tensorboard"]["provides"] == {"loggers": ["tensorboard"]}
    assert plugins["linear-probe"]["provides"] == {"commands": ["probe"]}  # a plugin that only adds a command


def test_third_party_plugin_shows_up_and_trains(installed, tmp_path):
    site = [installed["ganzoo-example"]]
    plugins = {p["name"]: p for p in json.loads(ganzoo_cli("plugins", "--json", sites=site).stdout)}
    assert plugins["example"]["distribution"] == "ganzoo-example"
    assert not plugins["example"]["builtin"]
    assert plugins["example"]["provides"] == {"archs": ["tiny-conv"], "losses": ["bce-smooth"]}

    archs = {a["name"]: a for a in json.loads(ganzoo_cli("list", "archs", "--json", sites=site).stdout)}
    assert archs["tiny-conv"]["plugin"] == "example"
    assert archs["tiny-conv"]["distribution"] == "ganzoo-example"
    assert (archs["tiny-conv"]["size_multiple"], archs["tiny-conv"]["min_size"]) == (4, 8), "the sizes it takes"
    assert archs["dcgan"]["distribution"] == "ganzoo"

    # Its entries are usable like built-in ones.
    run = ganzoo_cli("train", "--arch", "tiny-conv", "--loss", "bce-smooth", "--steps", "2", "--batch-size", "8",
                     "--width", "8", "--data-opt", "n=64", "--out", str(tmp_path / "run"), "--no-progress", sites=site)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_load_plugins_env_selects_third_party(installed):
    site = [installed["ganzoo-example"]]
    hidden = json.loads(ganzoo_cli("list", "archs", "--json", sites=site, env={"GANZOO_LOAD_PLUGINS": ""}).stdout)
    assert "tiny-conv" not in {a["name"] for a in hidden}
    assert "dcgan" in {a["name"] for a in hidden}, "built-ins always load"
    chosen = json.loads(ganzoo_cli("list", "archs", "--json", sites=site, env={"GANZOO_LOAD_PLUGINS": "example"}).stdout)
    assert "tiny-conv" in {a["name"] for a in chosen}
    listed = json.loads(ganzoo_cli("plugins", "--all", "--json", sites=site, env={"GANZOO_LOAD_PLUGINS": ""}).stdout)
    assert {p["name"]: p["status"] for p in listed}["example"] == "disabled"
    typo = ganzoo_cli("list", "archs", sites=site, env={"GANZOO_LOAD_PLUGINS": "exmaple"})
    assert "GANZOO_LOAD_PLUGINS names exmaple, which no installed plugin has" in typo.stderr


def test_broken_plugin_is_isolated(installed):
    sites = [installed["ganzoo-broken"], installed["ganzoo-example"]]
    result = ganzoo_cli("list", "archs", "--json", sites=sites)
    assert result.returncode == 0
    assert "tiny-conv" in {a["name"] for a in json.loads(result.stdout)}
    warnings = [line for line in result.stderr.splitlines() if "plugin 'broken'" in line]
    assert len(warnings) == 1
    assert "ganzoo-broken" in warnings[0] and "ganzoo_dependency_that_is_not_installed" in warnings[0]

    strict = ganzoo_cli("list", "archs", sites=sites, env={"GANZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode != 0
    assert "ModuleNotFoundError" in strict.stderr and "Traceback" not in strict.stderr
    assert "Error: plugin 'broken' from ganzoo-broken" in strict.stderr
    assert "ganzoo_broken.py:3)" in warnings[0], "the plugin's own file and line that failed"
    typo = [line for line in result.stderr.splitlines() if "'typo'" in line]
    assert typo == ["ganzoo: skipping plugin 'typo' from ganzoo-broken 0.1.0: its entry point typo = \"ganzoo_brokne\" "
                    "names module 'ganzoo_brokne', which cannot be found; fix the entry point in the plugin's "
                    "pyproject.toml (or install the package that has it) and reinstall"]


def test_duplicate_name_is_reported_with_a_way_out(installed):
    site = [installed["ganzoo-dupe"]]
    result = ganzoo_cli("train", "--loss", "hinge", "--steps", "1", sites=site)
    assert result.returncode != 0
    assert "plugin 'hinge' (ganzoo)" in result.stderr and "plugin 'dupe' (ganzoo-dupe)" in result.stderr
    assert "'dupe:hinge'" in result.stderr and "replace=True" in result.stderr
    plain = ganzoo_cli("train", "--steps", "1", sites=site)  # hinge is the default: the user typed no loss
    assert plain.returncode != 0 and ("Error: task 'unconditional' trains loss 'hinge' by default (--loss chooses "
                                      "another): loss 'hinge' is registered by both") in plain.stderr

    plugins = json.loads(ganzoo_cli("plugins", "--json", sites=site).stdout)  # a list, conflicts or not
    assert {p["name"]: p["conflicts"] for p in plugins}["dupe"] == ["dupe:hinge"]

    listed = json.loads(ganzoo_cli("list", "losses", "hinge", "--json", sites=site).stdout)
    assert sorted(e["qualified"] for e in listed) == ["dupe:hinge", "hinge:hinge"]


def test_unknown_name_suggests():
    with pytest.raises(GanzooError, match="Did you mean: dcgan"):
        ganzoo.get("archs", "dcgn")
    with pytest.raises(GanzooError, match="unknown architecture 'DCGAN'. Did you mean: dcgan"):
        ganzoo.get("archs", "DCGAN")
    result = ganzoo_cli("train", "--loss", "hing", "--steps", "1")
    assert result.returncode != 0 and "Did you mean: hinge" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_api_lists_with_patterns_in_natural_order():
    names = [e.name for e in ganzoo.list("archs", "dc*")]
    assert names == sorted(names) and {"dcgan", "dcgan-keras", "dcgan-tf"} <= set(names)
    assert all(name.startswith("dc") for name in names)
    assert ganzoo.get("losses", "hinge:hinge") is ganzoo.get("losses", "hinge")


def test_readme_plugin_example_is_the_tested_one():
    """The copy-pasteable plugin in the README is exactly the distribution these tests install."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in ("ganzoo_example.py", "pyproject.toml"):
        source = (PLUGINS / "ganzoo-example" / name).read_text().rstrip()
        assert source in readme, f"README's plugin example drifted from tests/plugins/ganzoo-example/{name}"


def stderr_lines(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_a_name_clash_installed_later_does_not_stop_the_runs_made_before(installed, tmp_path):
    """The checkpoint records which plugin gave 'hinge': sample and --resume use that one, with no --loss to give."""
    run, site = tmp_path / "run", [installed["ganzoo-dupe"]]
    tiny = ["--width", "8", "--nz", "8", "--batch-size", "4", "--data-opt", "n=16", "--no-progress"]
    assert ganzoo_cli("train", *tiny, "--steps", "1", "--out", str(run)).returncode == 0
    sampled = ganzoo_cli("sample", str(run), "-n", "4", "--out", str(tmp_path / "grid.png"), sites=site)
    assert sampled.returncode == 0 and (tmp_path / "grid.png").is_file(), sampled.stderr
    resumed = ganzoo_cli("train", "--resume", str(run), "--steps", "2", "--no-progress", sites=site)
    assert resumed.returncode == 0, resumed.stderr
    fresh = ganzoo_cli("train", *tiny, "--steps", "1", "--out", str(tmp_path / "new"), sites=site)
    assert fresh.returncode != 0 and "'dupe:hinge'" in fresh.stderr, "a new run must still choose"


def test_a_settled_clash_qualifies_the_names_code_does_not_key_on():
    from ganzoo.engine.config import RunConfig
    from ganzoo.engine.trainer import settled_config

    config = RunConfig(loss="hinge", reg="r1,lecam", reg_options={"r1.gamma": 1.0})
    out = settled_config(config, {("losses", "hinge"): "hinge:hinge", ("regularizers", "r1"): "r1:r1",
                                  ("tasks", "unconditional"): "unconditional:unconditional"})
    assert (out.loss, out.arch, out.task, out.reg, out.reg_options) == (
        "hinge:hinge", config.arch, config.task, "r1,lecam", {"r1.gamma": 1.0})  # saved state keys on reg names
    assert settled_config(config, {}) is config


def test_hooks_run_through_pluggy_in_its_order(registry_with, capsys):
    """Both plugins replace 'hinge'; the trylast one is called last, so its replacement wins whatever the load order."""
    registry = registry_with("ganzoo-order")
    assert [e.plugin for e in registry.list("losses", "hinge")] == ["aa-last"]
    assert registry.get("losses", "hinge").__name__ == "LastHinge"
    assert registry.conflicts() == [] and stderr_lines(capsys) == []


def test_get_inside_a_register_hook_is_a_clear_error(registry_with, capsys):
    registry = registry_with("ganzoo-lookup")
    assert stderr_lines(capsys) == [
        "ganzoo: skipping plugin 'lookup' from ganzoo-lookup 0.1.0: register_architectures raised GanzooError: "
        "ganzoo.get() or ganzoo.list() called while plugins register; look entries up when they are used, "
        "not at import or inside a register_* hook"
    ]
    assert "dcgan" in registry.entries["archs"] and "dcgan-wide" not in registry.entries["archs"]
    assert {p.name: p.status for p in registry.plugins}["lookup"] == "failed"
    with pytest.raises(GanzooError, match="plugin 'lookup' from ganzoo-lookup 0.1.0 failed to load .*while plugins"):
        registry_with("ganzoo-lookup", GANZOO_STRICT_PLUGINS="1")


def test_qualified_names_work_for_every_kind():
    for kind in KINDS:
        entry = ganzoo.list(kind)[0]
        assert ganzoo.get(kind, f"{entry.plugin}:{entry.name}") is entry.obj, kind
        with pytest.raises(GanzooError, match=f"unknown .* 'no-such-plugin:{entry.name}'"):
            ganzoo.get(kind, f"no-such-plugin:{entry.name}")


def test_provenance_names_the_distribution_to_install(registry_with):
    bare = registry_with()
    full = registry_with("ganzoo-example")
    records = full.provenance([("archs", "tiny-conv"), ("loss", "example:bce-smooth"), ("tasks", "unconditional")])
    assert records == [
        {"kind": "archs", "name": "tiny-conv", "plugin": "example", "distribution": "ganzoo-example",
         "version": "0.1.0"},
        {"kind": "losses", "name": "example:bce-smooth", "plugin": "example", "distribution": "ganzoo-example",
         "version": "0.1.0"},
        {"kind": "tasks", "name": "unconditional", "plugin": "unconditional", "distribution": "ganzoo",
         "version": ganzoo.__version__},
    ]
    assert json.loads(json.dumps(records)) == records, "it goes into checkpoint metadata as JSON"
    full.check_provenance(records)  # the same plugins: nothing to say
    with pytest.raises(GanzooError, match=r"^runs/a/checkpoint.safetensors needs architecture 'tiny-conv' from plugin "
                                          r"'example' \(ganzoo-example 0.1.0\), which is not registered: "
                                          r"pip install ganzoo-example$"):
        bare.check_provenance(records, source="runs/a/checkpoint.safetensors")
    deselected = registry_with("ganzoo-example", GANZOO_LOAD_PLUGINS="")
    with pytest.raises(GanzooError, match="plugin 'example' is installed but not selected; add it to GANZOO_LOAD"):
        deselected.check_provenance(records)
    gone = {"kind": "losses", "name": "gone", "plugin": "hinge", "distribution": "ganzoo", "version": "0.0.1"}
    with pytest.raises(GanzooError, match=f"from plugin 'hinge' \\(ganzoo 0.0.1\\), which is not registered: ganzoo "
                                          f"{ganzoo.__version__} no longer provides it; pip install 'ganzoo==0.0.1'$"):
        bare.check_provenance([gone])
    with pytest.raises(GanzooError, match="^x.safetensors: its plugin record is malformed"):
        bare.check_provenance([{"kind": "archs", "name": "dcgan"}], source="x.safetensors")


def test_provenance_warns_when_another_plugin_now_provides_a_name(registry_with):
    bare = registry_with()
    records = bare.provenance([("losses", "hinge")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bare.check_provenance(records)
    replaced = registry_with("ganzoo-order")  # replace=True over the built-in 'hinge'
    with pytest.warns(GanzooWarning) as caught:
        replaced.check_provenance(records, source="run/checkpoint.safetensors")
    assert [str(w.message) for w in caught] == [
        f"run/checkpoint.safetensors was trained with loss 'hinge' from plugin 'hinge' (ganzoo {ganzoo.__version__}); "
        "it is now provided by plugin 'aa-last' (ganzoo-order 0.1.0), so it may not behave the same"
    ]
    older = [{**record, "version": "0.0.9"} for record in replaced.provenance([("losses", "hinge")])]
    with pytest.warns(GanzooWarning) as caught:
        replaced.check_provenance(older, source="run/checkpoint.safetensors")
    assert [str(w.message) for w in caught] == [
        "run/checkpoint.safetensors was trained with loss 'hinge' from plugin 'aa-last' (ganzoo-order 0.0.9); "
        "ganzoo-order 0.1.0 is installed now, whose code or option defaults may differ (options the run did not set "
        "are not recorded); pip install 'ganzoo-order==0.0.9' to match"
    ]
    qualified = bare.provenance([("losses", "hinge:hinge")])  # a run that chose the built-in during a clash
    with pytest.raises(GanzooError, match=r"needs loss 'hinge:hinge' from plugin 'hinge' \(ganzoo .*\), which is not "
                                          r"registered: plugin 'aa-last' \(ganzoo-order\) registers 'hinge' with "
                                          r"replace=True, which displaces it; uninstall ganzoo-order, or have it "
                                          r"register without replace=True$"):
        replaced.check_provenance(qualified)


def test_failing_register_commands_skips_only_that_plugin(registry_with, capsys, installed):
    registry = registry_with("ganzoo-badcommands")
    group = click.Group()
    registry.add_commands(group)
    assert stderr_lines(capsys) == ["ganzoo: skipping the commands of plugin 'badcommands' from ganzoo-badcommands "
                                    "0.1.0: register_commands raised RuntimeError: commands went wrong"]
    assert "half-added" not in group.commands and "translate" in group.commands
    assert registry.provided_by("translate", "ganzoo")["commands"] == ["translate"]

    site = [installed["ganzoo-badcommands"]]
    helped = ganzoo_cli("--help", sites=site)
    assert helped.returncode == 0 and "translate" in helped.stdout and "half-added" not in helped.stdout
    assert "Traceback" not in helped.stderr and "commands went wrong" in helped.stderr
    strict = ganzoo_cli("--help", sites=site, env={"GANZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert strict.stderr.startswith("Error: plugin 'badcommands' from ganzoo-badcommands 0.1.0 failed to add its "
                                    "commands (register_commands raised RuntimeError: commands went wrong)")


def test_sys_exit_in_a_plugin_is_a_broken_plugin(registry_with, capsys, installed):
    registry = registry_with("ganzoo-exits")
    exits_at_import = installed["ganzoo-exits"] / "ganzoo_exits_at_import.py"
    assert stderr_lines(capsys) == [
        f"ganzoo: skipping plugin 'exits-at-import' from ganzoo-exits 0.1.0: SystemExit: 3 ({exits_at_import}:5)",
        "ganzoo: skipping plugin 'exits-in-hook' from ganzoo-exits 0.1.0: register_losses raised SystemExit: giving up",
    ]
    status = {p.name: p.status for p in registry.plugins}
    assert status["exits-at-import"] == status["exits-in-hook"] == "failed"
    assert registry.pm.is_blocked("exits-in-hook"), "pluggy calls none of its other hooks"
    assert "hinge" in registry.entries["losses"]
    with pytest.raises(GanzooError, match="plugin 'exits-at-import' from ganzoo-exits 0.1.0 failed to load "
                                          r"\(SystemExit: 3 \(.*ganzoo_exits_at_import.py:5\)\); GANZOO_STRICT"):
        registry_with("ganzoo-exits", GANZOO_STRICT_PLUGINS="1")


def test_bad_names_and_objects_are_skipped_at_registration(registry_with, capsys, monkeypatch):
    registry = registry_with("ganzoo-badentries")
    rule = "a name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no ':' or '/')"
    where = "ganzoo: plugin 'badentries' from ganzoo-badentries 0.1.0: skipping"
    assert stderr_lines(capsys) == [
        f"{where} architecture 'text-arch': expected a ganzoo.api.Architecture, got a str",
        f"{where} loss 42: {rule}",
        f"{where} loss 'a:b': {rule}",
        f"{where} loss '../escape': {rule}",
        f"{where} loss 'loss-instance': expected a subclass of ganzoo.api.Loss, got a FineLoss",
        f"{where} loss 'half-loss': the class HalfLoss does not define g_loss, which every ganzoo.api.Loss must",
        f"{where} task 'loss-as-task': expected a subclass of ganzoo.api.Task, got the class FineLoss",
        f"{where} task 'no-judge': the class NoJudgeTask does not define judges, fixed_inputs, samples, which "
        "every ganzoo.api.Task must",
        f"{where} task 'string-input': generator_input must be a tuple of names, e.g. ('noise', 'label'); got 'noise'",
        f"{where} task 'typo-input': discriminator_input names lable, which no architecture can have (known: image, "
        "label, channels)",
    ]
    assert registry.provided_by("badentries", "ganzoo-badentries") == {"losses": ["fine-loss"]}
    listed = cli_with(registry, monkeypatch, "list", "archs", "--json")
    assert listed.exit_code == 0 and "dcgan" in {a["name"] for a in json.loads(listed.stdout)}
    shown = cli_with(registry, monkeypatch, "plugins", "--json")
    assert shown.exit_code == 0 and "badentries" in {p["name"] for p in json.loads(shown.stdout)}
    with pytest.raises(GanzooError, match="^plugin 'badentries' from ganzoo-badentries 0.1.0 registers architecture "
                                          "'text-arch': expected a ganzoo.api.Architecture, got a str; GANZOO_STRICT"):
        registry_with("ganzoo-badentries", GANZOO_STRICT_PLUGINS="1")


def test_hooks_that_are_never_called_are_reported_and_prints_go_to_stderr(registry_with, capsys):
    registry = registry_with("ganzoo-strayhooks")
    out = capsys.readouterr()
    assert out.out == "", "a plugin's print at import goes to stderr, not into --json output"
    where = "ganzoo: plugin 'strayhooks' from ganzoo-strayhooks 0.1.0:"
    assert [line for line in out.err.splitlines() if line.startswith("ganzoo:")] == [
        f"{where} register_datasets lacks @ganzoo.hookimpl, so it is never called; decorate it",
        f"{where} register_loss is no ganzoo hook, so it is never called (did you mean register_losses?)",
    ], "register_buffers, a helper, is not reported"
    assert registry.provided_by("strayhooks", "ganzoo-strayhooks") == {"losses": ["stray-fine-loss"]}
    with pytest.raises(GanzooError, match="^plugin 'strayhooks' from ganzoo-strayhooks 0.1.0: register_datasets "
                                          "lacks @ganzoo.hookimpl, so it is never called; decorate it; GANZOO_STRICT"):
        registry_with("ganzoo-strayhooks", GANZOO_STRICT_PLUGINS="1")


def test_entry_point_name_of_a_builtin_is_one_short_line(registry_with, capsys, monkeypatch):
    registry = registry_with("ganzoo-samename")
    assert stderr_lines(capsys) == [
        "ganzoo: skipping plugin 'hinge' from ganzoo-samename 0.1.0: its entry-point name is already plugin 'hinge' "
        "from ganzoo; rename the entry point"
    ]
    assert "soft-hinge" not in registry.entries["losses"]
    shown = cli_with(registry, monkeypatch, "plugins", "--all", "--json")
    rows = {(p["name"], p["distribution"]): p for p in json.loads(shown.stdout)}
    assert rows["hinge", "ganzoo"]["provides"] == {"losses": ["hinge"]}
    assert rows["hinge", "ganzoo-samename"]["status"] == "failed"
    assert rows["hinge", "ganzoo-samename"]["provides"] == {}


def test_a_checkpoint_names_the_distribution_its_plugins_came_from(installed, tmp_path):
    site = [installed["ganzoo-example"]]
    run = ganzoo_cli("train", "--arch", "tiny-conv", "--loss", "bce-smooth", "--task", "unconditional:unconditional",
                     "--steps", "1", "--batch-size", "8", "--width", "8", "--data-opt", "n=16", "--no-progress",
                     "--out", str(tmp_path / "run"), sites=site)
    assert run.returncode == 0, run.stderr
    from ganzoo.engine.checkpoint import load_checkpoint

    _, meta = load_checkpoint(tmp_path / "run")
    recorded = {r["kind"]: (r["name"], r["plugin"], r["distribution"]) for r in meta["plugins"]}
    assert recorded["archs"] == ("tiny-conv", "example", "ganzoo-example")
    assert recorded["tasks"] == ("unconditional:unconditional", "unconditional", "ganzoo")
    assert ganzoo_cli("sample", str(tmp_path / "run"), "--out", str(tmp_path / "s.png"), sites=site).returncode == 0
    missing = ganzoo_cli("sample", str(tmp_path / "run"), "--out", str(tmp_path / "s.png"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "architecture 'tiny-conv' from plugin 'example'" in missing.stderr
    assert "pip install ganzoo-example" in missing.stderr
