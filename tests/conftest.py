"""Shared test fixtures: third-party test distributions installed offline, and the CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """pip-install a test distribution of tests/plugins (no network, no build isolation) into its own folder,
    the first time a test asks for it: ``installed["ganzoo-example"]`` is that folder."""

    class Installed(dict):
        def __missing__(self, name: str) -> Path:
            work = tmp_path_factory.mktemp(name)
            shutil.copytree(PLUGINS / name, work / "src")
            target = work / "site"
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                 "--target", str(target), str(work / "src")],
                check=True, capture_output=True,
            )
            self[name] = target
            return target

    return Installed()


def ganzoo_cli(*args: str, sites: list[Path] = (), env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m ganzoo ARGS`` with ``sites`` (installed test distributions) on the path and no GANZOO_* settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GANZOO_")}
    environ["PYTHONPATH"] = os.pathsep.join([*map(str, sites), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=environ,
                          timeout=300)
