"""A third-party task (tests/plugins/ganzoo-superres, the README's "Writing a task" example), end to end:
it reuses built-in architectures unchanged, trains, resumes exactly, evaluates, benches and adds a command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import io

from conftest import PLUGINS, ganzoo_cli
from ganzoo.engine.checkpoint import load_checkpoint

TRAIN = ("train", "--task", "superres", "--dataset", "shapes", "--image-size", "16", "--channels", "1", "--width", "8",
         "--batch-size", "4", "--data-opt", "n=32", "--log-every", "1", "--no-progress")


@pytest.fixture(scope="module")
def site(installed) -> list[Path]:
    return [installed["ganzoo-superres"]]


def test_every_fitting_builtin_architecture_serves_it(site, tmp_path):
    listed = json.loads(ganzoo_cli("list", "tasks", "superres", "--json", sites=site).stdout)
    assert listed[0]["architectures"] == ["resnet-6blocks", "resnet-9blocks", "unet"]
    assert listed[0]["options"] == {"l1_weight": 100.0, "adv_weight": 1.0}
    assert listed[0]["command"] == "upscale"
    refused = ganzoo_cli(*TRAIN, "--arch", "dcgan", "--steps", "1", sites=site)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "architecture 'dcgan' cannot serve task 'superres': it lacks G input 'image'. Architectures that serve" in (
        refused.stderr)
    odd = ganzoo_cli(*TRAIN, "--image-size", "17", "--steps", "1", "--out", str(tmp_path / "odd"), sites=site)
    assert odd.returncode == 0, odd.stderr  # the blurred input keeps an odd side
    typo = ganzoo_cli(*TRAIN, "--task-opt", "l1_wieght=5", "--steps", "1", sites=site)
    assert "--task-opt l1_wieght (did you mean l1_weight?): task 'superres' has no such option" in typo.stderr


def test_trains_resumes_exactly_evaluates_and_upscales(site, tmp_path):
    straight = ganzoo_cli(*TRAIN, "--steps", "4", "--out", str(tmp_path / "a"), sites=site)
    assert straight.returncode == 0, straight.stderr
    half = ganzoo_cli(*TRAIN, "--steps", "2", "--out", str(tmp_path / "b"), sites=site)
    assert half.returncode == 0, half.stderr
    resumed = ganzoo_cli("train", "--resume", str(tmp_path / "b"), "--steps", "4", "--no-progress", sites=site)
    assert resumed.returncode == 0, resumed.stderr
    weights_a, meta = load_checkpoint(tmp_path / "a")
    weights_b, _ = load_checkpoint(tmp_path / "b")
    assert meta["step"] == 4 and {r["distribution"] for r in meta["plugins"] if r["kind"] == "tasks"} == {
        "ganzoo-superres"}
    for key in weights_a:
        if key.startswith(("G.", "D.")):
            torch.testing.assert_close(weights_a[key], weights_b[key], rtol=0, atol=0, msg=key)
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and all(np.isfinite(r["l1"]) and "adv" in r for r in log)

    scored = ganzoo_cli("eval", str(tmp_path / "a"), "--json", str(tmp_path / "e.json"), sites=site)
    assert scored.returncode == 0, scored.stderr
    result = json.loads((tmp_path / "e.json").read_text())
    assert {"psnr", "ssim", "bilinear_psnr", "bilinear_ssim"} <= set(result) and result["num"] > 0
    on_train = ganzoo_cli("eval", str(tmp_path / "a"), "--eval-opt", "split=train", "--json",
                          str(tmp_path / "t.json"), sites=site)  # the task's eval option: its default above
    assert on_train.returncode == 0, on_train.stderr
    assert json.loads((tmp_path / "t.json").read_text())["psnr"] != result["psnr"]
    unread = ganzoo_cli("eval", str(tmp_path / "a"), "--classifier", str(tmp_path / "clf.safetensors"), sites=site)
    assert unread.returncode == 1 and "--classifier" in unread.stderr and "Traceback" not in unread.stderr
    during = ganzoo_cli(*TRAIN, "--steps", "2", "--eval-every", "2", "--eval-num", "8", "--out", str(tmp_path / "c"),
                        sites=site)
    assert during.returncode == 0, during.stderr
    assert "eval/psnr" in (tmp_path / "c" / "log.jsonl").read_text().splitlines()[-1]

    image = np.zeros((8, 12), dtype=np.uint8)
    image[2:6, 3:9] = 255
    io.imsave(tmp_path / "small.png", image, check_contrast=False)
    upscaled = ganzoo_cli("upscale", str(tmp_path / "a"), str(tmp_path / "small.png"), "--out",
                          str(tmp_path / "big.png"), "--device", "cpu", sites=site)
    assert upscaled.returncode == 0, upscaled.stderr
    assert io.imread(tmp_path / "big.png").shape[:2] == (16, 24)
    wrong = ganzoo_cli("sample", str(tmp_path / "a"), sites=site)
    assert wrong.returncode != 0 and "use `ganzoo upscale` for it" in wrong.stderr


def test_bench_compares_architectures_on_the_task(site, tmp_path):
    result = ganzoo_cli("bench", "--task", "superres", "--archs", "unet,resnet-6blocks", "--losses", "hinge",
                        "--dataset", "shapes", "--image-size", "16", "--channels", "1", "--width", "8",
                        "--batch-size", "4", "--data-opt", "n=32", "--arch-opt", "n_layers=2", "--steps", "2",
                        "--evals", "1", "-n", "16",
                        "--out", str(tmp_path / "bench"), "--json", str(tmp_path / "b.json"), sites=site)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert [(r["arch"], r["steps"]) for r in rows] == [("unet", 2), ("resnet-6blocks", 2)]
    for row in rows:
        assert row["curve_figure"] == "psnr" and [p["step"] for p in row["curve"]] == [0, 2]
        assert np.isfinite(row["metrics"]["psnr"]) and "bilinear_psnr" in row["metrics"]
        assert "--task superres" in row["train_command"]


def test_readme_task_example_is_the_tested_one():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in ("ganzoo_superres.py", "pyproject.toml"):
        source = (PLUGINS / "ganzoo-superres" / name).read_text().rstrip()
        assert source in readme, f"README's task example drifted from tests/plugins/ganzoo-superres/{name}"
