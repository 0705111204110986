"""A failed dataset download ends in one clear error; urlopen is patched to fail, so nothing is fetched."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo.api import DataOptions, GanzooError
from ganzoo.cli import cli


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def urlopen(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def test_mnist_download_failure_is_one_clear_error(tmp_path):
    with pytest.raises(GanzooError, match="'mnist': download into .* failed") as err:
        ganzoo.get("datasets", "mnist").load("mnist", DataOptions(root=str(tmp_path), download=True))
    message = str(err.value)
    assert "network disabled in tests" in message and "--data-root" in message and "\n" not in message


def test_features_train_passes_download_to_the_dataset(tmp_path):
    runner = CliRunner()
    assert "--download" in runner.invoke(cli, ["features", "train", "-h"]).output
    result = runner.invoke(cli, ["features", "train", "--dataset", "cifar10", "--data-root", str(tmp_path),
                                 "--download"])
    assert result.exit_code == 1, result.output
    assert "Error: dataset 'cifar10': download into" in result.output and "network disabled" in result.output
