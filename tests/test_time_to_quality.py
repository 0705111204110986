"""benchmarks/time_to_quality.py: first-reach times by hand, and the script end to end on a tiny shapes budget."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.data import read_split
from ganzoo.metrics import embed, feature_net, resolve_metrics, score

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_quality.py"
_spec = importlib.util.spec_from_file_location("time_to_quality", SCRIPT)
ttq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ttq)


def test_first_reach_is_the_first_point_at_or_below_the_level():
    points = [(10.0, 500.0), (20.0, 90.0), (30.0, 80.0)]
    assert ttq.first_reach(points, 100.0) == 20.0
    assert ttq.first_reach(points, 90.0) == 20.0
    assert ttq.first_reach(points, 85.0) == 30.0
    assert ttq.first_reach(points, 50.0) is None
    assert ttq.first_reach([(0.0, None), (5.0, 40.0)], 50.0) == 5.0  # a point without a figure never reaches


def _row(variant: str, curve: list[tuple[float, float]]) -> dict:
    return {"arch": "dcgan", "loss": "hinge", "variant": variant, "steps": 9, "cpu_s": curve[-1][0],
            "curve": [{"cpu_s": x, "value": fid} for x, fid in curve]}


def test_summary_times_each_contender_against_seed001s_final_fid():
    seed = _row("recipe seed001", [(0, 400), (10, 200), (20, 120), (30, 150)])  # final 150, first reached at 20
    fast = _row("loss=hinge", [(0, 400), (10, 140), (20, 60), (30, 70)])
    slow = _row("recipe dcgan", [(0, 400), (10, 300), (20, 250), (30, 210)])
    lines = ttq.summary([seed, fast, slow], threshold=100.0)
    assert [line["contender"] for line in lines] == ["recipe seed001", "dcgan + hinge [loss=hinge]", "recipe dcgan"]
    assert [line["final fid"] for line in lines] == [150, 70, 210]
    assert [line["best fid"] for line in lines] == [120, 60, 210]
    assert [line["CPU-s to fid <= 100"] for line in lines] == ["not reached", 20, "not reached"]
    assert [line["CPU-s to seed001's final fid"] for line in lines] == [20, 10, "not reached"]
    assert [line["x seed001's"] for line in lines] == [1.0, 0.5, ""]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clf") / "shapes-gray-clf.safetensors"
    result = CliRunner().invoke(cli, ["features", "train", "--dataset", "shapes", "--image-size", "16", "--channels",
                                      "1", "--steps", "5", "--width", "4", "--batch-size", "16", "--limit", "64",
                                      "--data-opt", "n=64", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_script_writes_a_row_per_contender_and_the_threshold_from_the_floor(classifier, tmp_path):
    files = {kind: tmp_path / f"ttq.{kind}" for kind in ("md", "json", "png")}
    plotting = importlib.util.find_spec("matplotlib") is not None  # the bench extra
    result = ttq.main([
        "--classifier", str(classifier), "--recipes", "seed001", "--variant", "loss=hinge width=8 nz=16 batch_size=8",
        "--seconds", "0.4", "--evals", "2", "--threshold-factor", "3", "-n", "32", "--dataset", "shapes",
        "--data-opt", "n=64", "--image-size", "32", "--channels", "1", "--out", str(tmp_path / "runs"),
        "--markdown", str(files["md"]), "--json", str(files["json"]),
        *(["--plot", str(files["png"])] if plotting else [])])

    device = torch.device("cpu")
    net = feature_net(classifier)
    held_out, train = (embed(read_split("shapes", split, image_size=32, channels=1, data_options={"n": 64}, seed=0,
                                        limit=32)[0], net, device) for split in ("test", "train"))
    floor = score(resolve_metrics(["fid"]), held_out, train, None)["fid"]
    assert result["floor"] == pytest.approx(floor, rel=1e-5)
    assert result["threshold"] == pytest.approx(3 * floor, rel=1e-5)

    saved = json.loads(files["json"].read_text())
    assert saved["threshold"] == pytest.approx(result["threshold"])
    labels = ["dcgan + hinge [loss=hinge width=8 nz=16 batch_size=8]", "recipe seed001"]
    assert [line["contender"] for line in saved["summary"]] == labels
    for row in saved["rows"]:
        assert "--channels 1" in row["train_command"]  # the common channels win over seed001's RGB
        cpu = [p["cpu_s"] for p in row["curve"]]
        assert len(cpu) == 3 and cpu[0] == 0 and cpu == sorted(cpu) and cpu[-1] >= 0.4
        assert row["curve"][-1]["cpu_s"] == row["cpu_s"]
    markdown = files["md"].read_text()
    table = [line for line in markdown.splitlines() if line.startswith("| ")][1:]  # the header first
    assert [line.split(" | ")[0] for line in table] == [f"| {label}" for label in labels]
    assert f"{result['floor']:.4g}" in markdown and "time_to_quality.py" in markdown
    assert not plotting or files["png"].read_bytes()[:4] == b"\x89PNG"


def test_plot_without_matplotlib_fails_before_any_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else object())
    with pytest.raises(SystemExit):
        ttq.main(["--classifier", "none.safetensors", "--plot", str(tmp_path / "p.png")])
    assert "--plot: the plot needs matplotlib: pip install 'ganzoo[bench]'" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()
