"""Start-up: help without torch, listing without the heavy libraries, and a plugin cache that follows installs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.registry import PluginInfo, Registry

# Runs the CLI in process and then names which of these modules it imported (the last line of stdout).
PROBE = ("import sys\nfrom ganzoo.cli import cli\n"
         "try:\n    cli.main(sys.argv[1:], prog_name='ganzoo', standalone_mode=False)\nexcept SystemExit:\n    pass\n"
         "print('imported:', *sorted(m for m in {mods} if m in sys.modules))")
HEAVY = ("torch", "torchvision", "torchmetrics", "torch_fidelity", "scipy", "skimage", "sklearn", "triton",
         "matplotlib")


def probe(*args: str, cache: Path, sites: list[Path] = (), modules: tuple[str, ...] = HEAVY) -> tuple[str, list[str]]:
    """``ganzoo ARGS`` in a fresh interpreter with its plugin cache in ``cache``: (its output, the ``modules``
    it imported)."""
    code = PROBE.format(mods=repr(set(modules)))
    result = ganzoo_cli_python(code, *args, cache=cache, sites=sites)
    assert result.returncode == 0, result.stderr
    output, _, last = result.stdout.rstrip("\n").rpartition("\n")
    assert last.startswith("imported:"), result.stdout
    return output, last.split()[1:]


def ganzoo_cli_python(code: str, *args: str, cache: Path, sites: list[Path]) -> subprocess.CompletedProcess:
    """``python -c CODE ARGS`` with the plugin cache in ``cache`` and ``sites`` on the path, run in a folder of
    its own (``python -c`` puts the working folder on the path, so a change there would be a change of plugins)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANZOO_")}
    env.update(XDG_CACHE_HOME=str(cache), PYTHONPATH=os.pathsep.join([*map(str, sites), env.get("PYTHONPATH", "")]))
    where = cache.parent / "cwd"
    where.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300,
                          cwd=where)


def test_help_and_command_help_import_no_torch(tmp_path):
    cold, imported = probe("--help", cache=tmp_path / "cache")  # no cache yet: the plugins load and are remembered
    assert "torch" in imported
    warm, imported = probe("--help", cache=tmp_path / "cache")
    assert imported == [], "ganzoo --help imported " + ", ".join(imported)
    assert warm == cold, "the cached listing is the loaded one"
    for command in ("features", "probe", "translate", "inpaint"):  # plugin commands, listed from the cache
        assert f"\n  {command} " in warm
    for command in ("train", "sample", "eval", "bench", "list", "plugins"):
        text, imported = probe(command, "-h", cache=tmp_path / "cache")
        assert imported == [], f"ganzoo {command} -h imported " + ", ".join(imported)
        assert text.startswith(f"Usage: ganzoo {command} ")
    text, _ = probe("train", "-h", cache=tmp_path / "cache")
    assert "--arch TEXT" in text and "--batch-size INTEGER" in text  # the settings of ganzoo/engine/config.py


def test_list_imports_torch_but_no_heavy_library(tmp_path):
    text, imported = probe("list", "archs", cache=tmp_path / "cache")
    assert "dcgan " in text and "resnet-sn " in text
    assert imported == ["torch"], "ganzoo list archs imported " + ", ".join(imported)


def test_name_completion_reads_the_cache_without_torch(tmp_path):
    probe("list", "archs", cache=tmp_path / "cache")  # loads the plugins: writes the cache
    code = ("import sys\nfrom ganzoo.cli import cli\nfrom click.shell_completion import ShellComplete\n"
            "complete = ShellComplete(cli, {}, 'ganzoo', '_GANZOO_COMPLETE').get_completions\n"
            "print(*[c.value for c in complete(['train', '--arch'], 'dc')])\n"
            "print(*[c.value for c in complete([], 'p')])\nprint('torch' in sys.modules)")
    result = ganzoo_cli_python(code, cache=tmp_path / "cache", sites=[])
    names, commands, torch_imported = result.stdout.split("\n")[:3]
    assert {"dcgan", "dcgan-keras", "dcgan-tf"} <= set(names.split()), result.stderr
    assert commands.split() == ["plugins", "probe"], "ganzoo p<TAB>: a built-in and a plugin command"
    assert torch_imported == "False"


def test_cache_follows_a_plugin_installed_edited_and_removed(installed, tmp_path):
    """The same folder on the path, before and after a distribution appears in it (as pip install does), after
    its source is edited in place, and after it is gone: each --help lists what is installed then, and each
    second --help is served from the cache (no torch)."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    before, _ = probe("--help", cache=cache, sites=[site])
    assert "upscale" not in probe("--help", cache=cache, sites=[site])[0]

    shutil.copytree(installed["ganzoo-superres"], site, dirs_exist_ok=True)  # "pip install ganzoo-superres"
    added, imported = probe("--help", cache=cache, sites=[site])
    assert "\n  upscale " in added and "torch" in imported, "a stale cache hid the new plugin's command"
    again, imported = probe("--help", cache=cache, sites=[site])
    assert again == added and imported == []

    module = site / "ganzoo_superres.py"  # an editable plugin edited in place: its new help shows at once
    module.write_text(module.read_text().replace('"""Upscale', '"""Now upscale', 1))
    edited, _ = probe("--help", cache=cache, sites=[site])
    assert "\n  upscale    Now upscale" in edited, "a stale cache kept the old help"

    for path in site.iterdir():  # "pip uninstall ganzoo-superres"
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    removed, _ = probe("--help", cache=cache, sites=[site])
    assert "upscale" not in removed and removed == before


def test_no_cache_is_kept_from_a_load_with_problems(installed, tmp_path):
    """A broken plugin is reported by every --help (a cache would silence it), also after a clean load."""
    site = [installed["ganzoo-broken"]]
    for _ in range(2):
        result = ganzoo_cli_python("from ganzoo.cli import main; main()", "--help", cache=tmp_path / "cache",
                                   sites=site)
        assert "ganzoo: skipping plugin" in result.stderr
    assert not list(tmp_path.rglob("plugins-*.json"))


def test_a_plugin_command_cannot_replace_a_ganzoo_command(capsys, monkeypatch):
    """ganzoo's own commands run without loading plugins, so a plugin that would replace one is skipped (an error
    under GANZOO_STRICT_PLUGINS, which CI sets)."""
    monkeypatch.delenv("GANZOO_STRICT_PLUGINS", raising=False)

    class Replacer:
        @ganzoo.hookimpl
        def register_commands(self, cli: click.Group) -> None:
            @cli.command("train")
            def train() -> None:
                """Not ganzoo's train."""

            @cli.command("extra")
            def extra() -> None:
                """Added with it."""

    def registry() -> Registry:  # read GANZOO_STRICT_PLUGINS as it is now
        found = Registry()
        found.pm.register(Replacer(), name="replacer")
        found.plugins.append(PluginInfo("replacer", "ganzoo-replacer", "1.0", "replacer", ("register_commands",),
                                        False))
        return found

    own = click.Command("train")
    group = click.Group(commands={"train": own})
    registry().add_commands(group)
    assert group.commands["train"] is own and "extra" not in group.commands
    assert ("skipping the commands of plugin 'replacer' from ganzoo-replacer 1.0: register_commands raised "
            "GanzooError: it replaces ganzoo's own command train; choose another name") in capsys.readouterr().err
    monkeypatch.setenv("GANZOO_STRICT_PLUGINS", "1")
    with pytest.raises(GanzooError, match="plugin 'replacer' from ganzoo-replacer 1.0 failed to add its commands "
                                          r"\(register_commands raised GanzooError: it replaces ganzoo's own command train"):
        registry().add_commands(click.Group(commands={"train": own}))


@pytest.mark.parametrize("name", ["GanzooError", "GanzooWarning", "IncompatibleError"])
def test_errors_are_one_class_whichever_module_names_them(name):
    import ganzoo.api
    import ganzoo.errors

    assert getattr(ganzoo, name) is getattr(ganzoo.api, name) is getattr(ganzoo.errors, name)
