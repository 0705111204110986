"""`ganzoo features train`, `ganzoo eval` and `ganzoo bench` end to end, with tiny models on the shapes dataset."""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer
from conftest import one_error_line

TINY_BENCH = ["--dataset", "shapes", "--data-opt", "n=64", "--width", "8", "--nz", "16", "--batch-size", "8",
              "--device", "cpu", "-n", "32"]


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clf") / "shapes-clf.safetensors"
    result = invoke("features", "train", "--dataset", "shapes", "--image-size", "16", "--steps", "5", "--width", "4",
                    "--batch-size", "16", "--limit", "64", "--data-opt", "n=64", "--out", str(out))
    assert out.is_file() and "held-out accuracy" in result.output
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    config = RunConfig(batch_size=8, width=8, nz=16, steps=2, n_samples=4, progress=False, log_every=1,
                       data_options={"n": 64}, out=str(out), device="cpu")
    return Trainer(config).fit()


def test_eval_writes_every_metric(run_dir, classifier, tmp_path, monkeypatch):
    out = tmp_path / "eval.json"
    result = invoke("eval", str(run_dir), "--metrics", "fid,kid,is,pr,dc,modes,memorization", "-n", "40",
                    "--classifier", str(classifier), "--device", "cpu", "--metric-opt", "kid.subsets=5",
                    "--json", str(out))
    scores = json.loads(out.read_text())
    assert scores["num_generated"] == 40 and scores["num_real"] == 40
    for key in ("fid", "kid_x1000", "kid_x1000_std", "is", "precision", "recall", "density", "coverage", "modes_kl",
                "memorization_ratio"):
        assert math.isfinite(scores[key]), key
        assert key in result.output
    assert 1 <= scores["modes_covered"] <= scores["modes_total"] == 4
    assert 0 <= scores["precision"] <= 1 and 1 <= scores["is"] <= 4
    monkeypatch.chdir(classifier.parent)  # given relative, recorded absolute
    again = invoke("eval", str(run_dir), "--metrics", "fid,kid", "-n", "40", "--classifier", classifier.name,
                   "--device", "cpu", "--metric-opt", "kid.subsets=5", "--json", str(tmp_path / "again.json"))
    assert "fid" in again.output
    again_json = json.loads((tmp_path / "again.json").read_text())
    assert again_json["fid"] == pytest.approx(scores["fid"], rel=1e-6)
    assert again_json["evaluated"] == {  # what was scored, with what
        "checkpoint": str((run_dir / "checkpoint.safetensors").resolve()), "step": load_checkpoint(run_dir)[1]["step"],
        "ema": True, "seed": 0, "num": 40, "metrics": "fid,kid", "metric_options": {"kid.subsets": 5},
        "classifier": str(classifier), "data_root": None, "eval_options": {}}


def test_eval_without_classifier_says_how_to_get_one(run_dir):
    result = CliRunner().invoke(cli, ["eval", str(run_dir), "--metrics", "fid", "--device", "cpu"])
    assert result.exit_code == 1
    assert "--classifier" in result.output and "ganzoo features train" in result.output
    assert "Traceback" not in result.output
    ok = invoke("eval", str(run_dir), "--metrics", "memorization", "-n", "16", "--device", "cpu")
    assert "memorization_ratio" in ok.output  # needs no classifier


def test_eval_refuses_an_option_the_task_does_not_take(run_dir):
    result = CliRunner().invoke(cli, ["eval", str(run_dir), "--device", "cpu", "--eval-opt", "mask=box"])
    assert result.exit_code == 1
    assert one_error_line(result) == ("Error: --eval-opt mask: task 'unconditional' has no such option "
                                      "(its options: none)")
    grids = CliRunner().invoke(cli, ["eval", str(run_dir), "--device", "cpu", "--out", "grids"])
    assert one_error_line(grids) == ("Error: --out: task 'unconditional' does not use it in its evaluation (it reads: "
                                     "--classifier, --data-root, -n, --seed); drop --out")
    unread = CliRunner().invoke(cli, ["eval", str(run_dir), "--metrics", "memorization", "--classifier", "c.st"])
    assert one_error_line(unread) == "Error: --classifier: metrics memorization read no feature net; drop --classifier"


def test_bench_table_files_and_reproducible_rows(classifier, tmp_path):
    out = tmp_path / "bench"
    result = invoke("bench", "--archs", "dcgan", "--losses", "bce,hinge", *TINY_BENCH, "--steps", "2", "--evals", "2",
                    "--metrics", "fid,pr,modes", "--classifier", str(classifier), "--out", str(out),
                    "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md"),
                    "--plot", str(tmp_path / "b.png"))
    data = json.loads((tmp_path / "b.json").read_text())
    rows = data["rows"]
    assert [(r["arch"], r["loss"], r["steps"]) for r in rows] == [("dcgan", "bce", 2), ("dcgan", "hinge", 2)]
    for row in rows:
        assert row["img_per_s"] > 0 and row["peak_mem_mb"] > 0 and math.isfinite(row["metrics"]["fid"])
        assert [p["step"] for p in row["curve"]] == [0, 1, 2] and row["curve_figure"] == "fid"
        assert row["curve"][0]["train_s"] == 0
        assert row["curve"][-1]["value"] == row["metrics"]["fid"]
        assert (Path(row["run_dir"]) / "checkpoint.safetensors").is_file()
    assert "| dcgan | hinge |" in result.output and "ganzoo train --arch dcgan --loss hinge" in result.output
    markdown = (tmp_path / "b.md").read_text()
    assert "ganzoo bench --archs dcgan --losses bce,hinge" in markdown and "torch " in markdown
    if (tmp_path / "b.png").exists():
        assert (tmp_path / "b.png").stat().st_size > 1000

    # The printed train command trains the very same network the bench scored.
    row = rows[1]
    args = shlex.split(row["train_command"])
    assert args[:2] == ["ganzoo", "train"]
    args[args.index("--out") + 1] = str(tmp_path / "again")
    invoke(*args[1:], "--no-progress")
    bench_weights, _ = load_checkpoint(row["run_dir"])
    again_weights, _ = load_checkpoint(tmp_path / "again")
    for key in bench_weights:
        if key.startswith(("G.", "D.")):
            torch.testing.assert_close(bench_weights[key], again_weights[key], msg=key)
    eval_args = shlex.split(row["eval_command"])
    eval_args[2] = str(tmp_path / "again")
    scored = invoke(*eval_args[1:], "--json", str(tmp_path / "again.json"))
    assert "fid" in scored.output
    assert json.loads((tmp_path / "again.json").read_text())["fid"] == pytest.approx(row["metrics"]["fid"], rel=1e-5)


def test_bench_refuses_a_missing_classifier_before_training(tmp_path, monkeypatch):
    from ganzoo.engine.trainer import Trainer

    def train_step(*args, **kwargs):
        raise AssertionError("trained before the classifier was checked")

    monkeypatch.setattr(Trainer, "train_step", train_step)
    missing = tmp_path / "no-such-classifier.safetensors"
    result = CliRunner().invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", *TINY_BENCH, "--steps", "50",
                                      "--classifier", str(missing), "--out", str(tmp_path / "bench")])
    assert result.exit_code == 1, result.output
    assert str(missing) in result.output and "ganzoo features train" in result.output


def test_bench_refuses_a_classifier_the_rows_would_not_read(classifier, tmp_path):
    pix2pix = CliRunner().invoke(cli, [
        "bench", "--task", "pix2pix", "--dataset", "style-benchmark-aligned", "--archs", "unet", "--losses", "bce",
        "--image-size", "16", "--width", "8", "--steps", "1", "--classifier", str(classifier),
        "--out", str(tmp_path / "p")])
    assert one_error_line(pix2pix) == (
        "Error: --classifier: task 'pix2pix' does not use it in its evaluation (it reads: --data-root, -n); "
        "drop --classifier")
    memorization = CliRunner().invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", *TINY_BENCH, "--steps",
                                            "1", "--metrics", "memorization", "--curve-metric", "memorization",
                                            "--classifier", str(classifier), "--out", str(tmp_path / "m")])
    assert one_error_line(memorization) == "Error: --classifier: metrics memorization read no feature net; drop " \
        "--classifier"
    curve = CliRunner().invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", *TINY_BENCH, "--steps", "1",
                                     "--evals", "1", "--metrics", "memorization", "--curve-metric", "fid",
                                     "--classifier", str(classifier), "--out", str(tmp_path / "c")])  # fid reads it
    assert curve.exit_code == 0 and "memorization_ratio" in curve.output, curve.output
    assert not list((tmp_path / "p").iterdir()) and not list((tmp_path / "m").iterdir()), "no run started"


def test_a_pix2pix_rows_eval_command_scores_what_bench_scored(tmp_path):
    """Its command carries no --seed: pix2pix's scores draw nothing at random, and eval refuses a flag it ignores."""
    invoke("bench", "--task", "pix2pix", "--dataset", "style-benchmark-aligned", "--archs", "unet", "--losses", "bce",
           "--image-size", "16", "--width", "8", "--data-opt", "n=4", "--data-opt", "n_test=2", "--steps", "1",
           "--evals", "1", "--out", str(tmp_path / "b"), "--json", str(tmp_path / "b.json"))  # --device auto
    row = json.loads((tmp_path / "b.json").read_text())["rows"][0]
    assert "--seed" not in row["eval_command"] and row["device"] == "cpu", "the device auto chose, recorded"
    scored = invoke(*shlex.split(row["eval_command"])[1:], "--json", str(tmp_path / "e.json"))
    assert scored.exit_code == 0
    assert json.loads((tmp_path / "e.json").read_text())["AtoB"]["model"]["ssim"] == pytest.approx(
        row["metrics"]["AtoB_ssim"], rel=1e-6)


def test_a_bench_row_logs_its_scoring_points_and_resumes_as_a_training_run(tmp_path):
    """Bench logs a record at each scoring point only; the row's saved settings do not pass that on to a resume.
    The curve follows the first of --metrics when no --curve-metric is given."""
    result = invoke("bench", "--archs", "dcgan", "--losses", "bce", *TINY_BENCH, "--steps", "1", "--evals", "1",
                    "--metrics", "memorization", "--out", str(tmp_path / "b"))
    assert "dcgan-bce-s0 step 1: memorization" in result.output
    row = tmp_path / "b" / "dcgan-bce-s0"
    logged = [json.loads(line) for line in (row / "log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in logged] == [0, 1] and "d_loss" in logged[1]
    assert all(any(key.startswith("eval/memorization") for key in record) for record in logged)
    invoke("train", "--resume", str(row), "--steps", "2", "--no-progress")
    logged = [json.loads(line) for line in (row / "log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in logged] == [0, 1, 2] and load_checkpoint(row)[1]["step"] == 2
    assert "log_every = 50\n" in (row / "config.toml").read_text(), "the default, not bench's never"


def test_bench_never_overwrites_earlier_runs(tmp_path):
    out = tmp_path / "bench"
    args = ["bench", "--archs", "dcgan", "--losses", "bce", *TINY_BENCH, "--steps", "1", "--evals", "1",
            "--metrics", "memorization", "--curve-metric", "memorization", "--out", str(out)]
    invoke(*args)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and f"--out {out} already holds bench runs (dcgan-bce-s0 ...)" in again.output


def test_bench_scores_each_step_once_when_the_budget_is_shorter_than_the_evals(tmp_path):
    result = invoke("bench", "--archs", "dcgan", "--losses", "bce", *TINY_BENCH, "--steps", "1", "--evals", "4",
                    "--metrics", "memorization", "--curve-metric", "memorization", "--out", str(tmp_path / "bench"),
                    "--json", str(tmp_path / "b.json"))
    row = json.loads((tmp_path / "b.json").read_text())["rows"][0]
    assert [p["step"] for p in row["curve"]] == [0, 1]
    assert [line.split(":")[0] for line in result.output.splitlines() if " step " in line] == [
        "  dcgan-bce-s0 step 0", "  dcgan-bce-s0 step 1"]


def test_bench_runs_on_a_time_budget_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = invoke("bench", "--archs", "dcgan", "--losses", "wgan-gp", *TINY_BENCH, "--seconds", "0.2",
                    "--evals", "1", "--metrics", "memorization", "--curve-metric", "memorization",
                    "--out", str(tmp_path / "bench"), "--plot", str(tmp_path / "b.png"),
                    "--json", str(tmp_path / "b.json"))
    assert "pip install 'ganzoo[bench]'" in result.output
    assert not (tmp_path / "b.png").exists()
    row = json.loads((tmp_path / "b.json").read_text())["rows"][0]
    assert row["steps"] >= 1 and row["cpu_s"] >= 0.2 and row["n_critic"] == 5
    assert row["curve_figure"] == "memorization_ratio" and [p["step"] for p in row["curve"]][0] == 0
    assert all(p["value"] > 0 for p in row["curve"])
    assert "| dcgan | wgan-gp |" in result.output


def test_bench_refuses_a_plot_name_matplotlib_cannot_write_before_training(tmp_path):
    pytest.importorskip("matplotlib")  # without it there is no plot to name (the bench extra)
    for name in ("curves.txt", "curves"):
        plot = CliRunner().invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--steps", "1", "--plot",
                                        str(tmp_path / name), "--out", str(tmp_path / "runs")])
        assert one_error_line(plot).startswith(f"Error: --plot {tmp_path / name}: name the picture with one of "
                                               f"matplotlib's formats, e.g. {tmp_path / 'curves.png'} (")
    assert not (tmp_path / "runs").exists()


def test_bench_refuses_bad_settings_before_training(tmp_path):
    runner = CliRunner()
    no_budget = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--out", str(tmp_path)])
    assert no_budget.exit_code == 1 and "--steps N or --seconds S" in no_budget.output
    for budget, message in ((["--steps", "0"], "needs a finite budget above 0"),
                            (["--seconds", "-1"], "budget above 0"),
                            (["--steps", "1", "--seconds", "3"], "--steps N or --seconds S, not both")):
        result = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", *budget, "--out", str(tmp_path)])
        assert message in one_error_line(result)
    (tmp_path / "a-file").write_text("")
    for flag in ("--markdown", "--json", "--plot"):  # before the training, not after it
        unwritable = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--steps", "1", flag,
                                         str(tmp_path / "a-file" / "table"), "--out", str(tmp_path / "runs")])
        assert one_error_line(unwritable).startswith(f"Error: {flag}: cannot write '{tmp_path / 'a-file' / 'table'}'")
    (tmp_path / "a-file").unlink()
    bad = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce,hnge", "--steps", "1",
                              "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "Did you mean: hinge" in bad.output
    impossible = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--image-size", "48",
                                     "--steps", "1", "--out", str(tmp_path)])
    assert impossible.exit_code == 1 and "cannot do --image-size 48" in impossible.output
    typo = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--metrics", "fid,kdi", "--steps", "1",
                               "--out", str(tmp_path)])
    assert typo.exit_code == 1 and "Did you mean: kid" in typo.output
    option = runner.invoke(cli, ["bench", "--archs", "dcgan", "--losses", "bce", "--data-opt", "holdout=10",
                                 "--steps", "1", "--out", str(tmp_path)])
    assert option.exit_code == 1 and "dataset 'shapes' has no such option" in option.output
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory) -> Path:
    """A weights file in the FID Inception format, randomly initialised (nothing may be downloaded in tests)."""
    from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

    patch = pytest.MonkeyPatch()
    patch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
    patch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    torch.manual_seed(0)
    net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    patch.undo()
    path = tmp_path_factory.mktemp("inception") / "weights.pth"
    torch.save(net.state_dict(), path)
    return path


def test_eval_with_inception_features_from_local_weights(run_dir, inception_weights, tmp_path):
    from ganzoo.metrics import embed, feature_net, resolve_metrics, score

    net = feature_net(f"inception:{inception_weights}")
    gray = torch.rand(3, 1, 28, 28) * 2 - 1
    features = embed(gray, net, torch.device("cpu"))
    assert features.features.shape == (3, 2048) and features.logits.shape == (3, 1008)
    same = score(resolve_metrics("fid"), features, features, None)
    assert same["fid"] == pytest.approx(0, abs=1e-3)

    out = tmp_path / "eval.json"
    result = invoke("eval", str(run_dir), "--metrics", "fid,is,pr", "-n", "8", "--device", "cpu",
                    "--classifier", f"inception:{inception_weights}", "--json", str(out))
    scores = json.loads(out.read_text())
    assert math.isfinite(scores["fid"]) and scores["fid"] > 0 and 1 <= scores["is"] <= 1008
    assert "precision" in result.output


def test_inception_without_weights_names_the_path_and_downloads_nothing(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    result = CliRunner().invoke(cli, ["eval", str(run_dir), "--metrics", "fid", "--classifier", "inception",
                                      "--device", "cpu"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(tmp_path / "torch-home") in result.output and "weights-inception-2015-12-05" in result.output
    not_weights = tmp_path / "not-weights.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, not_weights)
    result = CliRunner().invoke(cli, ["eval", str(run_dir), "--metrics", "fid", "--classifier",
                                      f"inception:{not_weights}", "--device", "cpu"])
    assert result.exit_code == 1 and str(not_weights) in result.output and "not the FID Inception" in result.output


def test_bench_rows_for_variants_and_recipes(tmp_path):
    out = tmp_path / "bench"
    result = invoke("bench", "--archs", "dcgan", "--losses", "bce", "--variant",
                    "augment=diffaugment reg=r1 augment.policy=color reg.r1.gamma=1",
                    "--recipes", "wgan-gp", *TINY_BENCH, "--steps", "1", "--evals", "1", "--metrics", "memorization",
                    "--curve-metric", "memorization", "--out", str(out), "--json", str(tmp_path / "b.json"),
                    "--markdown", str(tmp_path / "b.md"))
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert [(r["arch"], r["loss"], r["variant"], r["n_critic"]) for r in rows] == [
        ("dcgan", "bce", "", 1), ("dcgan", "bce", "augment=diffaugment reg=r1 augment.policy=color reg.r1.gamma=1", 1),
        ("dcgan", "wgan-gp", "recipe wgan-gp", 5)]
    assert [Path(r["run_dir"]).name for r in rows] == [
        "dcgan-bce-s0", "dcgan-bce-augment-diffaugment-reg-r1-augment.policy-color-reg.r1.gamma-1-s0",
        "recipe-wgan-gp-s0"]
    variant = shlex.split(rows[1]["train_command"])
    assert variant[variant.index("--augment") + 1] == "diffaugment" and variant[variant.index("--reg") + 1] == "r1"
    assert variant[variant.index("--reg-opt") + 1] == "r1.gamma=1" and variant[variant.index("--augment-opt") + 1] == (
        "policy=color"), "the variant's options are in the command that reproduces the row"
    recipe = shlex.split(rows[2]["train_command"])
    # The recipe's settings, under the options bench was given (width 8, batch 8 from TINY_BENCH).
    assert recipe[recipe.index("--lr") + 1] == "0.0001" and recipe[recipe.index("--beta1") + 1] == "0.0"
    assert recipe[recipe.index("--width") + 1] == "8" and recipe[recipe.index("--batch-size") + 1] == "8"
    assert "| dcgan | bce | augment=diffaugment reg=r1 augment.policy=color reg.r1.gamma=1 |" in result.output
    assert "recipe wgan-gp (seed 0)" in (tmp_path / "b.md").read_text()


def test_bench_refuses_bad_variants_and_recipes_before_training(tmp_path):
    runner = CliRunner()
    base = ["bench", "--archs", "dcgan", "--losses", "bce", "--steps", "1", "--out", str(tmp_path)]
    typo = runner.invoke(cli, [*base, "--variant", "augmnt=diffaugment"])
    assert typo.exit_code == 1 and "--variant 'augmnt=diffaugment': unknown setting 'augmnt' (did you mean " \
        "'augment'?)" in typo.output
    plugin = runner.invoke(cli, [*base, "--variant", "augment=diffaugmnt"])
    assert plugin.exit_code == 1 and "Did you mean: diffaugment" in plugin.output
    for variant, why in (("seed=3", "--seed and --repeats choose it"),
                         ("augment=ada steps=7", "the budget is bench's --steps or --seconds")):
        owned = runner.invoke(cli, [*base, "--variant", variant])
        key = variant.split()[-1].split("=")[0]
        assert one_error_line(owned) == (f"Error: --variant '{variant}': bench sets {key} on every row ({why}); "
                                         f"drop {key} from the variant")
    as_variant = runner.invoke(cli, [*base, "--variant", "recipe=seed001"])
    assert one_error_line(as_variant) == ("Error: --variant 'recipe=seed001': a variant cannot name a recipe; bench's "
                                          "--recipes seed001 adds the recipe's row")
    recipe = runner.invoke(cli, [*base, "--recipes", "sngann"])
    assert recipe.exit_code == 1 and "Did you mean: sngan" in recipe.output
    other_data = runner.invoke(cli, ["bench", "--recipes", "seed002", "--steps", "1", "--out", str(tmp_path)])
    assert other_data.exit_code == 1 and "pass --dataset mnist to bench" in other_data.output
    no_rows = runner.invoke(cli, ["bench", "--steps", "1", "--out", str(tmp_path)])
    assert no_rows.exit_code == 1 and "--archs and --losses" in no_rows.output and "--recipes" in no_rows.output
    assert not any(tmp_path.iterdir())
