"""What a run logs and where: logger plugins (jsonl, csv, tensorboard, third-party), --eval-every, the run page."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import io

from conftest import PLUGINS, ganzoo_cli, one_error_line, tiny_run
from ganzoo.cli import cli
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer

TRAINING = ("d_loss", "g_loss", "D(x)", "D(G(z))", "lr", "img_per_s")
TINY_ARGS = ["--steps", "2", "--width", "8", "--nz", "8", "--batch-size", "4", "--data-opt", "n=16", "--no-progress",
             "--device", "cpu"]


tiny = tiny_run(batch_size=4, width=8, nz=8, steps=4, sample_every=2, data_options={"n": 16}, device="cpu")


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


EVAL = dict(eval_every=2, metrics=["memorization"], eval_num=8)


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> Path:
    """4 steps with every built-in logger and an evaluation every 2 steps (memorization: no classifier needed)."""
    return Trainer(tiny(tmp_path_factory.mktemp("logged"), loggers=["csv", "tensorboard"], **EVAL)).fit()


def test_eval_every_logs_the_tasks_figures_from_step_0(logged):
    evals = [r for r in records(logged) if any(k.startswith("eval/") for k in r)]
    assert [r["step"] for r in evals] == [0, 2, 4]
    assert all(set(r) >= {"step", "eval/memorization_ratio", "eval/nn_dist_generated"} for r in evals)
    assert not any(k.startswith("eval/num_") for r in evals for k in r), "counts are no figures"
    training = [r for r in records(logged) if "d_loss" in r]
    assert [r["step"] for r in training] == [1, 2, 3, 4] and all(set(TRAINING) <= set(r) for r in training)


def test_evaluating_during_training_changes_nothing_it_trains(tmp_path):
    plain = Trainer(tiny(tmp_path, "plain")).fit()
    scored = Trainer(tiny(tmp_path, "scored", eval_every=1, metrics=["memorization"], eval_num=8)).fit()
    for a, b in zip([r for r in records(plain)], [r for r in records(scored) if "d_loss" in r], strict=True):
        assert {k: a[k] for k in TRAINING[:4]} == {k: b[k] for k in TRAINING[:4]}
    weights_a, _ = load_checkpoint(plain)
    weights_b, _ = load_checkpoint(scored)
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key


def test_csv_holds_every_record_with_one_column_per_figure(logged):
    with (logged / "log.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["step"] for row in rows] == [str(r["step"]) for r in records(logged)]
    for row, record in zip(rows, records(logged), strict=True):
        for key, value in record.items():
            assert float(row[key]) == pytest.approx(value), key
        assert all(row[key] == "" for key in row if key not in record), "a figure a record lacks is an empty cell"
    assert set(rows[0]) == {"step", *TRAINING, *(k for r in records(logged) for k in r)}


def test_tensorboard_event_files_hold_the_scalars_images_and_config(logged):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logged / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    for record in records(logged):
        for key, value in record.items():
            if key != "step":
                found = {e.step: e.value for e in events.Scalars(key)}
                assert found[record["step"]] == pytest.approx(value, rel=1e-6), (key, record["step"])
    assert set(TRAINING) | {"eval/memorization_ratio"} <= set(tags["scalars"])
    images = events.Images("samples")
    assert [i.step for i in images] == [2, 4]
    grid = io.imread(logged / "samples" / "step_000004.png")
    assert (images[-1].height, images[-1].width) == grid.shape[:2]
    assert "config/text_summary" in tags["tensors"]
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"loggers": [' in text and '"eval_every": 2' in text


def test_resume_drops_what_an_earlier_attempt_logged_after_the_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    common = dict(loggers=["csv", "tensorboard"], sample_every=1000)
    straight = Trainer(tiny(tmp_path, "a", **common)).fit()
    run = Trainer(tiny(tmp_path, "b", steps=2, **common)).fit()
    # A crash after step 2's checkpoint: it had logged step 3 before dying.
    with (run / "log.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 3, "d_loss": 99.0}) + "\n" + '{"step": 4, "d_lo')
    with (run / "log.csv").open("a") as fh:
        fh.write("3,99,99,99,99,99,99\n")
    stale = SummaryWriter(str(run / "tensorboard"))
    stale.add_scalar("d_loss", 99.0, 3)
    stale.close()
    Trainer(tiny(tmp_path, steps=4, out=None, **common), resume=run).fit()
    assert [r["step"] for r in records(run)] == [1, 2, 3, 4]
    assert [r["d_loss"] for r in records(run)] == pytest.approx([r["d_loss"] for r in records(straight)], rel=1e-5)
    with (run / "log.csv").open(newline="") as fh:
        assert [row["step"] for row in csv.DictReader(fh)] == ["1", "2", "3", "4"]
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    d_loss = {e.step: e.value for e in events.Scalars("d_loss")}
    assert sorted(d_loss) == [1, 2, 3, 4] and d_loss[3] == pytest.approx(records(straight)[2]["d_loss"])


def test_an_unknown_logger_gets_a_did_you_mean(tmp_path):
    line = one_error_line(CliRunner().invoke(cli, ["train", *TINY_ARGS, "--logger", "csv,tensorbord", "--out",
                                                   str(tmp_path / "run")]))
    assert line.startswith("Error: unknown logger 'tensorbord'. Did you mean: tensorboard?")
    assert not (tmp_path / "run").exists(), "refused before anything is written"


def test_a_missing_optional_dependency_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # what an install without the extra looks like
    line = one_error_line(CliRunner().invoke(cli, ["train", *TINY_ARGS, "--logger", "tensorboard", "--out",
                                                   str(tmp_path / "run")]))
    assert line == ("Error: --logger tensorboard needs the 'tensorboard' package, which is not installed: "
                    "pip install 'ganzoo[tensorboard]'")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--metrics", "fid"], "Error: --metrics choose what --eval-every scores; add --eval-every N or drop them"),
    (["--classifier", "c.safetensors"], "Error: --classifier choose what --eval-every scores"),
    (["--eval-every", "1", "--metrics", "fdi"], "Error: unknown metric 'fdi'. Did you mean: fid?"),
    (["--eval-every", "1", "--metrics", "fid"], "Error: metrics fid need the domain feature classifier: pass "
                                                "--classifier PATH"),
])
def test_evaluation_settings_are_checked_before_training(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["train", *TINY_ARGS, *args, "--out", str(tmp_path / "run")])
    assert one_error_line(result).startswith(message)
    assert not (tmp_path / "run").exists(), "no run folder is left behind"


def test_evaluation_flags_refused_since_a_run_began_do_not_stop_its_resume():
    from ganzoo.engine.runlog import check_evaluation
    from ganzoo.engine.trainer import assemble
    from ganzoo.api import GanzooError

    config = RunConfig(eval_every=1, metrics=["memorization"], classifier="c.safetensors")
    task = assemble(config).task
    with pytest.raises(GanzooError, match="^--classifier: metrics memorization read no feature net"):
        check_evaluation(config, task)
    check_evaluation(config, task, new=False)  # a run saved with it before the check existed still resumes


def test_a_missing_classifier_leaves_no_run_folder(tmp_path):
    result = CliRunner().invoke(cli, ["train", *TINY_ARGS, "--eval-every", "1", "--metrics", "fid", "--classifier",
                                      str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "run")])
    assert "nope.safetensors' does not exist" in one_error_line(result)
    assert not (tmp_path / "run").exists()


def test_the_logger_option_repeats_and_takes_commas(tmp_path):
    from ganzoo.cli import build_config

    config, given = build_config(None, {"loggers": ("csv", "tensorboard,csv"), "metrics": ("fid,kid",)})
    assert config.loggers == ["csv", "tensorboard"] and config.metrics == ["fid", "kid"]
    (tmp_path / "run.toml").write_text('loggers = ["tensorboard"]\neval_every = 100\n')
    from_file, _ = build_config(str(tmp_path / "run.toml"), {"loggers": ()})
    assert from_file.loggers == ["tensorboard"] and from_file.eval_every == 100
    assert "--logger NAME[,NAME]" in CliRunner().invoke(cli, ["train", "-h"]).output


def page_series(page: str) -> dict[str, list[tuple[float, float]]]:
    """Every series drawn on a run page: name -> its (x, y) pixel points."""
    series: dict[str, list[tuple[float, float]]] = {}
    for name, points in re.findall(r'<polyline class="series" data-name="([^"]+)" points="([^"]+)"', page):
        series.setdefault(name.replace("&#x27;", "'"), []).extend(
            tuple(map(float, p.split(","))) for p in points.split())
    return series


def test_the_run_page_draws_every_logged_figure_against_step(logged):
    page = (logged / "index.html").read_text()
    drawn = page_series(page)
    logged_records = records(logged)
    for name in (*TRAINING, "eval/memorization_ratio"):
        values = [(r["step"], r[name]) for r in logged_records if name in r]
        points = drawn[name]
        assert len(points) == len(values), name
        assert [x for x, _ in points] == sorted(x for x, _ in points), "x follows the step"
        order = np.argsort([v for _, v in values], kind="stable")
        ys = np.array([y for _, y in points])
        assert all(ys[order][i] >= ys[order][i + 1] - 1e-6 for i in range(len(ys) - 1)), f"{name}: higher is up"
    assert page.count("<svg") >= 5 and "D(x) and D(G(z))" in page
    assert '<img src="samples/step_000004.png"' in page and '<img src="samples/step_000002.png"' in page
    assert "<span>eval_every</span> 2" in page and "<span>loggers</span> csv, tensorboard" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", ""), "self-contained: opens from disk"


def test_a_third_party_logger_plugin_end_to_end(installed, tmp_path):
    site = installed["ganzoo-wandb"]
    train = ["train", *TINY_ARGS, "--sample-every", "1", "--logger", "wandb"]
    missing = ganzoo_cli(*train, "--out", str(tmp_path / "missing"), sites=[site])
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "Error: --logger wandb needs the 'wandb' package, which is not installed: pip install 'wandb'")
    fake = tmp_path / "fake" / "wandb"  # stands in for the real package: it records what the plugin sends
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import json, os\n"
        "def _note(*call):\n"
        "    with open(os.environ['FAKE_WANDB'], 'a') as fh: fh.write(json.dumps(call) + '\\n')\n"
        "class Image:\n"
        "    def __init__(self, path): self.path = path\n"
        "class Run:\n"
        "    def log(self, data, step=None):\n"
        "        _note('log', step, {k: getattr(v, 'path', v) for k, v in data.items()})\n"
        "    def finish(self): _note('finish')\n"
        "def init(**settings):\n"
        "    _note('init', settings['name'], settings['config']['steps'])\n"
        "    return Run()\n")
    done = ganzoo_cli(*train, "--out", str(tmp_path / "run"), sites=[site, tmp_path / "fake"],
                      env={"FAKE_WANDB": str(tmp_path / "calls.jsonl")})
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls[0] == ["init", "run", 2] and calls[-1] == ["finish"]
    logs = {(c[1], key): value for c in calls if c[0] == "log" for key, value in c[2].items()}
    for record in records(tmp_path / "run"):
        assert all(logs[record["step"], k] == v for k, v in record.items() if k != "step")
    assert logs[2, "samples"] == str(tmp_path / "run" / "samples" / "step_000002.png")
    uninstalled = ganzoo_cli("train", "--resume", str(tmp_path / "run"), "--steps", "3", "--no-progress")
    assert uninstalled.returncode == 1 and uninstalled.stderr.startswith(
        "Error: the run writes to logger 'wandb', which is not registered now (unknown logger 'wandb'.")
    assert uninstalled.stderr.rstrip().endswith("resume with the loggers to use instead, e.g. --logger jsonl")
    kept = ganzoo_cli("train", "--resume", str(tmp_path / "run"), "--steps", "3", "--logger", "jsonl", "--no-progress")
    assert kept.returncode == 0, kept.stderr


def test_readme_logger_example_is_the_tested_one():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in ("ganzoo_wandb.py", "pyproject.toml"):
        source = (PLUGINS / "ganzoo-wandb" / name).read_text().rstrip()
        assert source in readme, f"README's logger example drifted from tests/plugins/ganzoo-wandb/{name}"


def test_a_log_record_rounds_and_names_what_is_not_finite():
    """JSON has no NaN: a diverged loss or a NaN figure (a bench row, --eval-every) is null and named."""
    from ganzoo.engine.runlog import eval_figures, finite_record

    record = finite_record(3, {"d_loss": 0.123456, "eval/fid": float("nan"), "g_loss": float("inf")}, 3)
    assert record == {"step": 3, "d_loss": 0.123, "eval/fid": None, "g_loss": None, "not_finite": ["eval/fid", "g_loss"]}
    assert eval_figures({"fid": 12, "num_generated": 64}) == {"eval/fid": 12.0}
