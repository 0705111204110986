"""The plugin system end to end: third-party distributions pip-installed offline, then seen by the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ganzoo
from ganzoo.api import GanzooError

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """pip-install each test distribution (no network, no build isolation) into its own folder."""

    def install(name: str) -> Path:
        work = tmp_path_factory.mktemp(name)
        shutil.copytree(PLUGINS / name, work / "src")
        target = work / "site"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
             "--target", str(target), str(work / "src")],
            check=True, capture_output=True,
        )
        return target

    return {name: install(name) for name in ("ganzoo-example", "ganzoo-broken", "ganzoo-dupe")}


def ganzoo_cli(*args: str, sites: list[Path] = (), env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GANZOO_")}
    environ["PYTHONPATH"] = os.pathsep.join([*map(str, sites), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=environ,
                          timeout=300)


def test_builtins_come_from_the_entry_point_group():
    result = ganzoo_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["dcgan"]["builtin"] and plugins["dcgan"]["distribution"] == "ganzoo"
    assert plugins["dcgan"]["entry_point_group"] == "ganzoo"
    assert plugins["hinge"]["provides"] == {"losses": ["hinge"]}
    assert plugins["unconditional"]["module"] == "ganzoo_plugins.tasks.unconditional"


def test_third_party_plugin_shows_up_and_trains(installed, tmp_path):
    site = [installed["ganzoo-example"]]
    plugins = {p["name"]: p for p in json.loads(ganzoo_cli("plugins", "--json", sites=site).stdout)}
    assert plugins["example"]["distribution"] == "ganzoo-example"
    assert not plugins["example"]["builtin"]
    assert plugins["example"]["provides"] == {"archs": ["tiny-conv"], "losses": ["bce-smooth"]}

    archs = {a["name"]: a for a in json.loads(ganzoo_cli("list", "archs", "--json", sites=site).stdout)}
    assert archs["tiny-conv"]["plugin"] == "example"
    assert archs["tiny-conv"]["distribution"] == "ganzoo-example"
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
    warnings = [line for line in result.stderr.splitlines() if "broken" in line]
    assert len(warnings) == 1
    assert "ganzoo-broken" in warnings[0] and "ganzoo_dependency_that_is_not_installed" in warnings[0]

    strict = ganzoo_cli("list", "archs", sites=sites, env={"GANZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode != 0
    assert "ModuleNotFoundError" in strict.stderr and "Traceback" not in strict.stderr
    assert "Error: plugin 'broken' from ganzoo-broken" in strict.stderr


def test_duplicate_name_is_reported_with_a_way_out(installed):
    site = [installed["ganzoo-dupe"]]
    result = ganzoo_cli("train", "--loss", "hinge", "--steps", "1", sites=site)
    assert result.returncode != 0
    assert "plugin 'hinge' (ganzoo)" in result.stderr and "plugin 'dupe' (ganzoo-dupe)" in result.stderr
    assert "'dupe:hinge'" in result.stderr and "replace=True" in result.stderr

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
