"""Plugins import only ganzoo's public API (the built-ins included), and that API is importable and documented."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

import ganzoo

ROOT = Path(__file__).resolve().parents[1]
# Modules of the built-in distribution that hold building blocks several built-in plugins share. They are
# not entry points and register nothing; a third-party plugin cannot import them (they are not public).
SHARED_HELPERS = {
    "ganzoo_plugins.architectures.common",
    "ganzoo_plugins.architectures.patchgan",
    "ganzoo_plugins.losses.wasserstein",
    "ganzoo_plugins.masks.drawing",
    "ganzoo_plugins.metrics.histograms",
    "ganzoo_plugins.augments.ops",
    "ganzoo_plugins.tasks.translation",
}
def entry_point_modules() -> set[str]:
    """The modules the built-in distribution registers as plugins (pyproject's [project.entry-points.ganzoo])."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(project["project"]["entry-points"]["ganzoo"].values())


def module_name(path: Path) -> str:
    """plugins/metrics/fid.py -> ganzoo_plugins.metrics.fid (a package's __init__ is the package)."""
    parts = path.relative_to(ROOT / "plugins").with_suffix("").parts
    return ".".join(("ganzoo_plugins", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def is_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] == "ganzoo_plugins":
        base = ROOT / "plugins" / Path(*parts[1:])
        return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
    return (ROOT / Path(*parts)).with_suffix(".py").is_file() or (ROOT / Path(*parts) / "__init__.py").is_file()


def violations(path: Path, own: str | None) -> list[str]:
    """Every import (or ``ganzoo.<attribute>`` use) in ``path`` that leaves the public API, as 'file:line: why'.

    ``own`` is the module's name in the built-in distribution (None: a third-party module).
    """
    public_names = set(ganzoo.__all__) | {m.split(".")[-1] for m in ganzoo.PUBLIC_MODULES}
    plugin_modules = entry_point_modules()
    third_party = own is None
    package = None if third_party else (own if path.name == "__init__.py" else own.rpartition(".")[0])
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found: list[str] = []

    def check_module(name: str, line: int) -> None:
        root = name.split(".")[0]
        if root == "ganzoo" and name not in ganzoo.PUBLIC_MODULES:
            found.append(f"{shown}:{line}: imports private module {name} "
                         f"(public: {', '.join(ganzoo.PUBLIC_MODULES)})")
        elif root == "ganzoo_plugins" and name != own:
            if third_party:
                found.append(f"{shown}:{line}: imports the built-in plugins' {name}")
            elif name in plugin_modules:
                found.append(f"{shown}:{line}: imports {name}, another plugin's internals")
            elif name not in SHARED_HELPERS:
                found.append(f"{shown}:{line}: imports {name}, which is no declared shared helper")

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and third_party:  # its own package
                continue
            if node.level:  # relative: from . import x, from .y import z
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if base == "ganzoo" and alias.name not in public_names:
                    found.append(f"{shown}:{node.lineno}: imports ganzoo.{alias.name}, "
                                 "which is not in ganzoo.__all__")
                elif alias.name.startswith("_") and base.split(".")[0] in ("ganzoo", "ganzoo_plugins"):
                    found.append(f"{shown}:{node.lineno}: imports private name {alias.name} "
                                 f"from {base}")
                else:
                    submodule = f"{base}.{alias.name}"
                    check_module(submodule if is_module(submodule) else base, node.lineno)
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ganzoo"
              and node.attr not in public_names):
            found.append(f"{shown}:{node.lineno}: uses ganzoo.{node.attr}, which is not public")
    return sorted(set(found), key=lambda v: int(v.split(":")[1]))


def plugin_files() -> list[tuple[Path, str | None]]:
    """Every module of the built-in plugins (with its name) and of the third-party test distributions (None)."""
    built_in = [(p, module_name(p)) for p in sorted((ROOT / "plugins").rglob("*.py"))]
    return built_in + [(p, None) for p in sorted((ROOT / "tests" / "plugins").rglob("*.py"))]


def test_plugins_import_only_the_public_api():
    found = [v for path, own in plugin_files() for v in violations(path, own)]
    assert not found, "\n".join(found)


def test_the_check_names_file_and_line_of_each_kind_of_breach(tmp_path):
    plugin = tmp_path / "breach.py"
    plugin.write_text("import ganzoo\nfrom ganzoo.engine.trainer import Trainer\nfrom ganzoo import registry\n"
                      "from ganzoo_plugins.losses.wgan import WGANLoss\nfrom .wasserstein import WassersteinLoss\n"
                      "from ganzoo_plugins.metrics import classifier\nx = ganzoo.cli.CONTEXT\n"
                      "from ganzoo.data import _list\nfrom ganzoo_plugins.masks import get_mask\n")
    found = violations(plugin, "ganzoo_plugins.losses.breach")
    assert {int(v.split(":")[1]) for v in found} == {2, 3, 4, 6, 7, 8, 9}, found  # 1: public, 5: shared helper
    assert f"{plugin}:4: imports ganzoo_plugins.losses.wgan, another plugin's internals" in found
    assert f"{plugin}:2: imports private module ganzoo.engine.trainer" in found[0]
    third_party = violations(plugin, None)
    assert {int(v.split(":")[1]) for v in third_party} == {2, 3, 4, 6, 7, 8, 9}
    plugin.write_text("import ganzoo.metrics\nfrom ganzoo_plugins.architectures.common import init_dcgan\n")
    assert violations(plugin, "ganzoo_plugins.architectures.breach") == []
    assert [v.split(":")[1] for v in violations(plugin, None)] == ["2"], "shared helpers are not public"


def test_shared_helpers_are_no_plugins_and_register_nothing():
    assert not SHARED_HELPERS & entry_point_modules()
    for name in SHARED_HELPERS:
        module = importlib.import_module(name)
        hooks = [attr for attr in vars(module) if attr.startswith("register_")]
        assert not hooks, f"{name} registers {hooks}: make it a plugin (entry point) or move the hook out"


def test_every_public_name_is_importable_and_documented():
    for name in ganzoo.__all__:
        obj = getattr(ganzoo, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"ganzoo.{name} has no docstring"
    for module_name_ in ganzoo.PUBLIC_MODULES:
        module = importlib.import_module(module_name_)
        assert module.__doc__, f"{module_name_} has no module docstring"
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module_name_}.{name} has no docstring"


def test_import_ganzoo_stays_light():
    """The public names that need click, scikit-image, safetensors or the engine load on first use only."""
    code = "import sys, ganzoo; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    heavy = {"click", "skimage", "scipy", "sklearn", "torchmetrics", "safetensors", "PIL", "ganzoo.engine.trainer",
             "ganzoo.images", "ganzoo.cli", "ganzoo.data", "ganzoo.metrics", "ganzoo.runs"}
    assert not heavy & loaded


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    from ganzoo.engine.trainer import Trainer

    out = tmp_path_factory.mktemp("public") / "run"
    config = ganzoo.RunConfig(batch_size=8, width=8, nz=8, steps=2, n_samples=4, progress=False, image_size=32,
                              arch="dcgan", data_options={"n": 16}, out=str(out), device="cpu", ema=True,
                              ema_decay=0.5)
    return Trainer(config).fit()


def test_load_run_gives_config_task_and_ema_or_raw_nets(run_dir):
    ema, raw = ganzoo.load_run(str(run_dir), "cpu"), ganzoo.load_run(str(run_dir), "cpu", ema=False)
    assert ema.config.arch == "dcgan" and ema.config.data_options == {"n": 16}
    assert set(ema.nets) == {"G", "D"} and ema.device == torch.device("cpu")
    assert not any(net.training for net in ema.nets.values())
    g_ema, g_raw = ema.nets["G"].state_dict(), raw.nets["G"].state_dict()
    assert not torch.equal(g_ema["main.0.weight"], g_raw["main.0.weight"]), "--ema reads the averaged G"
    for name, tensor in ema.nets["D"].state_dict().items():  # D has no EMA copy: both read its weights
        assert torch.equal(tensor, raw.nets["D"].state_dict()[name])
    with pytest.raises(ganzoo.GanzooError, match="trained for task 'unconditional'; use `ganzoo sample` for it, "
                                                 "not translate"):
        ema.require_command("translate")


def test_run_command_adds_checkpoint_device_and_ema(run_dir):
    seen = []

    @click.group()
    def cli() -> None:
        """A plugin's commands."""

    @ganzoo.run_command(cli, "peek")
    @click.argument("label")
    @click.option("--twice", is_flag=True)
    def peek(run: ganzoo.Run, label: str, twice: bool) -> None:
        """Print what the run holds."""
        seen.append((run, label, twice))

    @ganzoo.run_command(cli, "raw", ema=False)
    def raw(run: ganzoo.Run) -> None:
        """Read the raw weights only."""
        seen.append((run,))

    runner = CliRunner()
    result = runner.invoke(cli, ["peek", str(run_dir), "hello", "--device", "cpu", "--no-ema", "--twice"])
    assert result.exit_code == 0, result.output
    run, label, twice = seen[-1]
    assert (label, twice, run.checkpoint, run.device) == ("hello", True, str(run_dir), torch.device("cpu"))
    no_ema = ganzoo.load_run(str(run_dir), "cpu", ema=False).nets["G"].state_dict()["main.0.weight"]
    assert torch.equal(run.nets["G"].state_dict()["main.0.weight"], no_ema)
    usage = runner.invoke(cli, ["peek", "-h"]).output
    assert "CHECKPOINT LABEL" in usage and "--ema / --no-ema" in usage and "Print what the run holds." in usage
    assert "--ema" not in runner.invoke(cli, ["raw", "--help"]).output
    assert runner.invoke(cli, ["raw", str(run_dir), "--device", "cpu"]).exit_code == 0
    assert torch.equal(seen[-1][0].nets["G"].state_dict()["main.0.weight"], no_ema)
    missing = runner.invoke(cli, ["raw", str(run_dir / "nope"), "--device", "cpu"])
    assert isinstance(missing.exception, ganzoo.GanzooError) and "does not exist" in str(missing.exception)


def test_read_split_reads_a_run_or_a_dataset_by_name(run_dir):
    config = ganzoo.load_run(str(run_dir), "cpu").config
    images, labels = ganzoo.read_split(config, "train", limit=5)
    dataset = ganzoo.get("datasets", "shapes").load("shapes", ganzoo.DataOptions(
        image_size=32, channels=config.channels, split="train", seed=config.seed, options={"n": 16}))
    assert images.shape == (5, 3, 32, 32) and labels.shape == (5,)
    for i in range(5):
        assert torch.equal(images[i], dataset[i]["image"]) and int(labels[i]) == int(dataset[i]["label"])
    small, _ = ganzoo.read_split("shapes", "test", image_size=8, data_options={"n": 3})
    assert small.shape == (3, 3, 8, 8)
    assert len(ganzoo.load_split(config, "train", data_options={"n": 7})) == 7
    with pytest.raises(ganzoo.GanzooError, match="dataset 'unaligned' yields 'unaligned' items"):
        ganzoo.read_split("unaligned", "test")


def test_a_classifier_value_names_its_feature_extractor(tmp_path):
    with pytest.raises(ganzoo.GanzooError, match=r"--classifier inception:.*missing\.pth"):
        ganzoo.feature_net(f"inception:{tmp_path / 'missing.pth'}")
    with pytest.raises(ganzoo.GanzooError, match="classifier .*nope.safetensors' does not exist; train one"):
        ganzoo.feature_net(tmp_path / "nope.safetensors")
    assert {e.name for e in ganzoo.list("features")} >= {"classifier", "inception"}
