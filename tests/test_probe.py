"""`ganzoo probe`: discriminator features for classification, end to end on a tiny shapes run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import ganzoo
from ganzoo.cli import cli
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer
from ganzoo_plugins.metrics.linear_probe import (
    ALPHAS, discriminator_features, few_labels, fit_and_score, ridge_fit_and_score,
)


def test_features_are_every_hidden_layer_max_pooled_to_4x4():
    D = nn.Sequential(nn.Conv2d(1, 3, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(3, 5, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(5, 1, 4))  # 16 -> 8 -> 4 -> score
    images = torch.randn(7, 1, 16, 16)
    features = discriminator_features(D, images, torch.device("cpu"), batch=3)
    assert features.shape == (7, 3 * 4 * 4 + 5 * 4 * 4)  # the score layer is not a feature
    first = nn.functional.adaptive_max_pool2d(D[0](images), 4).flatten(1)
    torch.testing.assert_close(features[:, :48], first)
    assert not any(m._forward_hooks for m in D.modules()), "hooks are removed"


def test_few_labels_draws_per_class_and_fit_separates_separable_classes():
    labels = torch.tensor([0] * 30 + [1] * 30 + [2] * 4)
    picked = few_labels(labels, 10, seed=0)
    assert sorted(torch.bincount(labels[picked]).tolist()) == [4, 10, 10]
    assert list(picked) == list(few_labels(labels, 10, seed=0))
    gen = torch.Generator().manual_seed(0)
    centres = torch.eye(3) * 6
    y = torch.arange(3).repeat(20)
    x = centres[y] + torch.randn(60, 3, generator=gen)
    result = fit_and_score(x[:30], y[:30], x[30:], y[30:], seed=0)
    assert result["accuracy"] == 1.0 and result["dim"] == 3
    noise = fit_and_score(torch.randn(30, 3, generator=gen), y[:30], torch.randn(30, 3, generator=gen), y[30:], 0)
    assert noise["accuracy"] < 0.8


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("probe") / "run"
    config = RunConfig(batch_size=8, width=8, nz=16, steps=2, n_samples=4, progress=False, log_every=1,
                       image_size=32, arch="dcgan", data_options={"n": 400}, out=str(out), device="cpu")
    return Trainer(config).fit()


def test_probe_cli_compares_trained_untrained_and_pixels(run_dir, tmp_path):
    out = tmp_path / "probe.json"
    result = CliRunner().invoke(cli, ["probe", str(run_dir), "--labels-per-class", "6", "--num-test", "40",
                                      "--device", "cpu", "--json", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(out.read_text())
    assert report["num_train"] == 4 * 6 and report["num_test"] == 40
    assert set(report["features"]) == {"gan-discriminator", "untrained-discriminator", "pixels"}
    assert report["features"]["pixels"]["dim"] == 3 * 32 * 32
    assert report["features"]["gan-discriminator"]["dim"] == report["features"]["untrained-discriminator"]["dim"]
    for row in report["features"].values():
        assert 0 <= row["accuracy"] <= 1
        assert f"{row['accuracy']:.2%}" in result.output


def test_probe_shows_a_bar_over_its_fits_and_either_solver_scores(run_dir, tmp_path):
    args = ["probe", str(run_dir), "--labels-per-class", "6", "--num-test", "20", "--device", "cpu"]
    svm = CliRunner().invoke(cli, [*args, "--solver", "svm", "--json", str(tmp_path / "svm.json")])
    assert svm.exit_code == 0, svm.output
    # 3 feature sets x (4 values of C x 3 folds + the refit)
    assert "probe: svm fits" in svm.output and "39/39" in svm.output and "C=" in svm.output
    ridge = CliRunner().invoke(cli, [*args, "--json", str(tmp_path / "ridge.json")])
    assert ridge.exit_code == 0 and "probe: ridge fits" in ridge.output and "3/3" in ridge.output
    assert "ridge solver" in ridge.output and "alpha=" in ridge.output
    for name in ("svm", "ridge"):
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert report["solver"] == name and all(0 <= row["accuracy"] <= 1 for row in report["features"].values())
    quiet = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert quiet.exit_code == 0 and "fits" not in quiet.output


def test_ridge_solver_separates_separable_classes():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(20)
    x = torch.eye(3)[y] * 6 + torch.randn(60, 3, generator=gen)
    result = ridge_fit_and_score(x[:30], y[:30], x[30:], y[30:], seed=0)
    assert result["accuracy"] == 1.0 and result["dim"] == 3 and result["alpha"] in ALPHAS


def test_probe_cross_validation_chooses_c_as_grid_search_does():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from ganzoo_plugins.metrics.linear_probe import C_GRID

    gen = torch.Generator().manual_seed(1)
    y, test_y = torch.arange(3).repeat(12), torch.arange(3).repeat(20)
    x = torch.randn(36, 20, generator=gen) + nn.functional.one_hot(y, 20) * 1.5
    test_x = torch.randn(60, 20, generator=gen) + nn.functional.one_hot(test_y, 20) * 1.5
    ticks = []
    ours = fit_and_score(x, y, test_x, test_y, seed=0, tick=lambda: ticks.append(1))
    grid = GridSearchCV(make_pipeline(StandardScaler(), LinearSVC(random_state=0, max_iter=5000)),
                        {"linearsvc__C": list(C_GRID)}, cv=3).fit(x.numpy(), y.numpy())
    assert ours["C"] == grid.best_params_["linearsvc__C"]
    assert ours["accuracy"] == pytest.approx(float((grid.predict(test_x.numpy()) == test_y.numpy()).mean()), abs=1e-5)
    assert len(ticks) == 13


def test_probe_refuses_runs_it_cannot_read(tmp_path):
    run = Trainer(RunConfig(task="inpainting", arch="unet", image_size=16, channels=1, width=8, batch_size=4,
                            steps=1, progress=False, device="cpu", data_options={"n": 16}, n_samples=4,
                            out=str(tmp_path / "inpaint"))).fit()
    result = CliRunner().invoke(cli, ["probe", str(run), "--device", "cpu"])
    assert result.exit_code == 1 and "unconditional" in result.output and "Traceback" not in result.output


def test_probe_says_when_a_class_has_fewer_labels_or_the_split_fewer_images_than_asked(run_dir):
    result = CliRunner().invoke(cli, ["probe", str(run_dir), "--labels-per-class", "150", "--num-test", "401",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "warning: --labels-per-class 150: the training split has only" in result.output
    assert ("warning: --num-test 401: the held-out split has only 400 images; the probe scores on all of them" in
            result.output and "scored on 400 held-out images" in result.output)


def test_probe_api_scores_every_held_out_image_when_num_test_is_none(run_dir):
    from ganzoo_plugins.metrics.linear_probe import probe

    result = probe(ganzoo.load_run(run_dir, device="cpu"), labels_per_class=2, num_test=None)
    assert result["num_test"] == 400


def test_probe_says_when_the_gan_saw_the_images_it_tests_on(tmp_path):
    """A folder run trained without test_fraction trained on every image, the probe's held-out ones too."""
    from ganzoo.images import save_image

    generator = torch.Generator().manual_seed(0)
    for label in ("a", "b"):
        for i in range(10):
            save_image(torch.rand(3, 32, 32, generator=generator) * 2 - 1, tmp_path / "data" / label / f"{i}.png")
    config = RunConfig(dataset="folder", data_root=str(tmp_path / "data"), batch_size=4, width=8, nz=16, steps=1,
                       n_samples=4, progress=False, image_size=32, arch="dcgan", out=str(tmp_path / "run"),
                       device="cpu")
    run = Trainer(config).fit()
    result = CliRunner().invoke(cli, ["probe", str(run), "--labels-per-class", "2", "--num-test", "4",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert ("warning: the run trained without --data-opt test_fraction=0.2, so its GAN saw the held-out images the "
            "probe tests on" in " ".join(result.output.split()))
