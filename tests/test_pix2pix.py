"""pix2pix: paired data (aligned, style-benchmark-aligned), training, exact resume, evaluation, translate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import io

import ganzoo
from ganzoo.api import DataOptions, GanzooError, IncompatibleError
from ganzoo.cli import cli
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer, assemble, load_for_inference
from ganzoo.images import resize
from ganzoo_plugins.datasets.style_benchmark import style_filter
from conftest import assert_same_logs, assert_same_weights, one_error_line, tiny_run


tiny = tiny_run(task="pix2pix", dataset="style-benchmark-aligned", image_size=16, width=8, batch_size=2, steps=3,
                sample_every=2, device="cpu", data_options={"n": 16, "n_test": 4})


def write_image(path: Path, height: int, width: int, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)
    io.imsave(path, pixels, check_contrast=False)
    return pixels


def load(root: Path, split: str = "train", **options) -> torch.utils.data.Dataset:
    return ganzoo.get("datasets", "aligned").load("aligned", DataOptions(root=str(root), image_size=8, split=split,
                                                                         options=options))


def message(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text, "errors are one line"
    return text


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny pix2pix run on the paired style benchmark (3 steps), shared by the translate and evaluate tests."""
    return Trainer(tiny(tmp_path_factory.mktemp("pix2pix"))).fit()


def test_recipe_defaults_and_what_serves_it(tmp_path):
    recipe = assemble(RunConfig(task="pix2pix", dataset="style-benchmark-aligned", image_size=32)).config
    assert (recipe.arch, recipe.loss, recipe.batch_size, recipe.lr_policy) == ("unet", "bce", 1, "linear")
    assert (recipe.lr, recipe.beta1, recipe.beta2) == (2e-4, 0.5, 0.999)
    listed = {e.name: e.obj for e in ganzoo.list("tasks")}["pix2pix"]
    assert listed.option_defaults({}) == {"lambda_L1": 100.0}
    asm = assemble(tiny(tmp_path, arch="resnet-6blocks", arch_options={"n_layers": 2}))
    x = torch.randn(2, 3, 16, 16)
    assert asm.nets["D"](torch.cat([x, x], 1)).dim() == 4, "D judges the image with the source's 3 channels"
    with pytest.raises(IncompatibleError, match="dataset 'style-benchmark' yields 'unaligned' items but task "
                                                "'pix2pix' needs 'aligned' items"):
        assemble(tiny(tmp_path, dataset="style-benchmark"))
    with pytest.raises(GanzooError, match="lambda_L1=-1.0: task 'pix2pix' needs it >= 0"):
        assemble(tiny(tmp_path, task_options={"lambda_L1": -1}))


def test_generator_loss_is_adversarial_plus_100_l1(tmp_path):
    from ganzoo.api import StepContext
    from ganzoo.engine.adversarial import AdversarialStep

    torch.manual_seed(0)
    asm = assemble(tiny(tmp_path))
    ctx = StepContext(asm.nets, asm.nets, asm.loss, torch.device("cpu"), torch.Generator().manual_seed(0))
    batch = {"A": torch.rand(2, 3, 16, 16) * 2 - 1, "B": torch.rand(2, 3, 16, 16) * 2 - 1}
    step = AdversarialStep(asm.task, asm.loss, asm.nets, asm.nets, asm.nets, None, None, None, ctx.device, None)
    loss, logs = step.generator_loss(ctx, batch, None)
    fake = asm.nets["G"](batch["A"])
    assert logs["l1"].item() == pytest.approx((fake - batch["B"]).abs().mean().item(), rel=1e-5)
    logits = asm.nets["D"](torch.cat([fake, batch["A"]], 1))
    assert logs["adv"].item() == pytest.approx(torch.nn.functional.softplus(-logits).mean().item(), rel=1e-5)
    assert loss.item() == pytest.approx(logs["adv"].item() + 100 * logs["l1"].item(), rel=1e-5)


def test_eval_every_logs_its_own_figures_not_metric_plugins(tmp_path):
    result = CliRunner().invoke(cli, [
        "train", "--task", "pix2pix", "--dataset", "style-benchmark-aligned", "--image-size", "16", "--width", "8",
        "--data-opt", "n=8", "--data-opt", "n_test=2", "--steps", "1", "--eval-every", "1", "--metrics", "fid",
        "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and result.output.strip() == (
        "Error: --metrics: task 'pix2pix' is scored by its own evaluation, not by metric plugins; drop --metrics "
        "(--eval-every logs its own figures)")
    run = Trainer(tiny(tmp_path, steps=2, eval_every=2, sample_every=1000)).fit()
    evals = [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "eval/AtoB_psnr" in r]
    assert [r["step"] for r in evals] == [0, 2]
    assert set(evals[0]) == {"step", *(f"eval/AtoB_{who}{key}" for who in ("", "identity_")
                                       for key in ("psnr", "ssim", "l1"))}


def test_trains_and_writes_grids_and_log(trained):
    records = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    for key in ("d_loss", "g_loss", "D(x)", "D(G(x))", "l1", "adv"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert records[0]["lr"] == pytest.approx(2e-4) and records[-1]["lr"] == 0.0, "the recipe's linear decay"
    grid = io.imread(trained / "samples.png")
    assert grid.shape[:2] == (4 * 16 + 5 * 2, 3 * 16 + 4 * 2), "rows of A | G(A) | B"
    tensors, meta = load_checkpoint(trained)
    assert meta["task"] == "pix2pix" and meta["loss"] == "bce" and "G.stem.0.weight" in tensors


def test_resume_is_exact(tmp_path, resume_pair):
    common = dict(sample_every=1000, lr_policy="constant")
    straight, resumed, log_a, log_b = resume_pair(lambda out, steps: tiny(tmp_path, steps=steps, out=out, **common), 4)
    assert [r["step"] for r in log_b] == [1, 2, 3, 4]
    assert_same_logs(log_a, log_b, ("d_loss", "g_loss", "D(x)", "D(G(x))", "l1"))
    assert_same_weights(straight, resumed, exact=True)


def test_evaluate_scores_held_out_pairs_like_cyclegan(trained, tmp_path):
    asm, nets = load_for_inference(trained, "cpu")
    result = asm.task.evaluate(nets, torch.device("cpu"), num=3, out=str(tmp_path))
    assert result["pairs"] == 3 and "BtoA" not in result
    assert set(result["AtoB"]) == {"model", "identity", "match_histograms_one", "match_histograms_domain"}
    test = ganzoo.get("datasets", "style-benchmark").load(
        "style-benchmark", DataOptions(image_size=16, split="test", options={"n_test": 3}))
    pairs = [test[i] for i in range(3)]
    G = nets["G"]
    with torch.no_grad():
        outputs = [((G(p["A"][None])[0].clamp(-1, 1) + 1) * 127.5).round() / 255 for p in pairs]
    truth = [((p["B"] + 1) * 127.5).round() / 255 for p in pairs]
    l1 = np.mean([(o - t).abs().mean().item() for o, t in zip(outputs, truth, strict=True)])
    assert result["AtoB"]["model"]["l1"] == pytest.approx(l1, abs=1e-6), "the same pairs cyclegan scores on"
    assert asm.task.figures(result).keys() == {"AtoB_psnr", "AtoB_ssim", "AtoB_l1", "AtoB_identity_psnr",
                                               "AtoB_identity_ssim", "AtoB_identity_l1"}
    assert io.imread(result["grid"]).shape[:2] == (3 * 16 + 4 * 2, 4 * 16 + 5 * 2)
    with pytest.raises(GanzooError, match="drop --metrics"):
        asm.task.evaluate(nets, torch.device("cpu"), metrics=["fid"])


def test_evaluation_flags_the_task_never_reads_are_refused(trained, tmp_path):
    """pix2pix's scores need no feature net and draw nothing at random: --classifier and --seed would be ignored."""
    runner = CliRunner()
    assert one_error_line(runner.invoke(cli, ["eval", str(trained), "--classifier", "c.safetensors"])) == (
        "Error: --classifier: task 'pix2pix' does not use it in its evaluation (it reads: --data-root, -n, --out); "
        "drop --classifier")
    seeded = runner.invoke(cli, ["eval", str(trained), "--seed", "3", "--out", str(tmp_path / "grid")])
    assert one_error_line(seeded).startswith("Error: --seed: task 'pix2pix' does not use it")
    trained_with = runner.invoke(cli, [
        "train", "--task", "pix2pix", "--dataset", "style-benchmark-aligned", "--image-size", "16", "--steps", "1",
        "--eval-every", "1", "--classifier", "c.safetensors", "--out", str(tmp_path / "run")])
    assert one_error_line(trained_with) == ("Error: --classifier: task 'pix2pix' does not use it in its evaluation "
                                            "(it reads: --data-root, --eval-num); drop --classifier")
    assert not (tmp_path / "run").exists() and not (tmp_path / "grid").exists()


def test_translate_runs_g_and_refuses_the_other_direction(trained, tmp_path):
    write_image(tmp_path / "in" / "odd.png", 17, 23, 1)
    runner = CliRunner()
    done = runner.invoke(cli, ["translate", str(trained), str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                               "--device", "cpu"])
    assert done.exit_code == 0, done.output
    assert "translated 1 image(s) AtoB" in done.output
    assert io.imread(tmp_path / "out" / "odd.png").shape == (17, 23, 3)
    back = runner.invoke(cli, ["translate", str(trained), str(tmp_path / "in"), "--direction", "BtoA", "--out",
                               str(tmp_path / "o2"), "--device", "cpu"])
    assert back.exit_code == 1 and back.output.strip() == (
        "Error: --direction BtoA: a pix2pix run translates AtoB only; pass --direction AtoB")
    sampled = runner.invoke(cli, ["sample", str(trained), "--out", str(tmp_path / "s.png")])
    assert sampled.exit_code != 0 and "use `ganzoo translate` for it" in sampled.output


def test_style_benchmark_aligned_pairs_the_unpaired_splits_patches():
    unpaired = ganzoo.get("datasets", "style-benchmark").load("style-benchmark", DataOptions(image_size=16,
                                                                                            options={"n": 20}))
    paired = ganzoo.get("datasets", "style-benchmark-aligned").load("style-benchmark-aligned",
                                                                     DataOptions(image_size=16, options={"n": 20}))
    assert len(paired) == len(unpaired) == 10 and paired.aligned_pairs
    for i in (0, 9):
        assert torch.equal(paired[i]["A"], unpaired[i]["A"])
        assert torch.equal(paired[i]["B"], style_filter(paired[i]["A"]))
    test = ganzoo.get("datasets", "style-benchmark-aligned").load(
        "style-benchmark-aligned", DataOptions(image_size=16, split="test", options={"n_test": 3}))
    same = ganzoo.get("datasets", "style-benchmark").load(
        "style-benchmark", DataOptions(image_size=16, split="test", options={"n_test": 3}))
    assert all(torch.equal(test[i][k], same[i][k]) for i in range(3) for k in "AB"), "identical held-out pairs"


def test_aligned_reads_side_by_side_pairs_with_one_crop_and_flip(tmp_path):
    pixels = write_image(tmp_path / "train" / "p.png", 12, 24, 0)
    write_image(tmp_path / "val" / "q.png", 8, 16, 1)
    train = load(tmp_path, load_size=12)
    assert len(train) == 1 and train.load_size == 12
    item = train[0]
    a, b = item["A"], item["B"]
    assert a.shape == b.shape == (3, 8, 8)
    left = torch.from_numpy(pixels[:, :12].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
    right = torch.from_numpy(pixels[:, 12:].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
    found = [(t, l, f) for t in range(5) for l in range(5) for f in (False, True)
             if torch.allclose(a, (left[:, t:t + 8, l:l + 8].flip(-1) if f else left[:, t:t + 8, l:l + 8]), atol=1e-5)]
    assert len(found) == 1, "A is a crop of the left half"
    t, l, f = found[0]
    crop = right[:, t:t + 8, l:l + 8]
    assert torch.allclose(b, crop.flip(-1) if f else crop, atol=1e-5), "B has A's crop and flip"
    assert all(torch.equal(train[0][k], item[k]) for k in "AB"), "items are deterministic (exact resume)"
    test = load(tmp_path, "test")
    assert len(test) == 1 and test.load_size == 8 and not test.flip, "test falls back to val/, no crop or flip"


def test_aligned_pairs_a_and_b_folders_by_name(tmp_path):
    for i, name in enumerate(["x", "sub/y"]):
        write_image(tmp_path / "train" / "A" / f"{name}.png", 10, 10, i)
        write_image(tmp_path / "train" / "B" / f"{name}.jpg", 10, 10, 10 + i)
    train = load(tmp_path, flip=False, load_size=8)
    assert [(a.name, b.name) for a, b in train.pairs] == [("y.png", "y.jpg"), ("x.png", "x.jpg")]
    item = train[1]
    for side, suffix in (("A", "png"), ("B", "jpg")):
        expected = resize(ganzoo.read_image(tmp_path / "train" / side / f"x.{suffix}", 3), 8)
        assert torch.equal(item[side], expected), side


@pytest.mark.parametrize(("layout", "expected"), [
    ({"train/A/x.png": (8, 8), "train/A/y.png": (8, 8), "train/B/x.png": (8, 8)},
     "{root}/train/A/y.png has no partner named y.* in {root}/train/B; pairs need matching names in A/ and B/"),
    ({"train/A/x.png": (8, 8), "train/B/x.png": (8, 8), "train/B/z.png": (8, 8), "train/B/w.png": (8, 8)},
     "{root}/train/B/w.png has no partner named w.* in {root}/train/A (and 1 more)"),
    ({"train/A/x.png": (8, 8), "train/B/x.png": (8, 10)},
     "{root}/train/B/x.png is 10x8 px but its partner {root}/train/A/x.png is 8x8; the two images of a pair"),
    ({"train/A/x.png": (8, 8), "train/A/x.jpg": (8, 8), "train/B/x.png": (8, 8)},
     "{root}/train/A/x.jpg and {root}/train/A/x.png have the same name"),
    ({"train/ab.png": (8, 15)}, "{root}/train/ab.png is 15x8 px, an odd width: a side-by-side pair"),
    ({"trainA/a.png": (8, 8), "trainB/b.png": (8, 8)},
     "{root} holds trainA/ trainB/, the unpaired CycleGAN layout; pairs go in train/A/ and train/B/"),
    ({"photos/a.png": (8, 8)}, "{root}/train does not exist; --data-root must hold train/"),
])
def test_aligned_refuses_unpaired_or_mismatched_folders_naming_the_file(tmp_path, layout, expected):
    for i, (name, (height, width)) in enumerate(layout.items()):
        write_image(tmp_path / name, height, width, i)
    with pytest.raises(GanzooError) as excinfo:
        load(tmp_path)
    assert expected.format(root=tmp_path) in message(excinfo)
    assert message(excinfo).startswith("dataset 'aligned': ")


def test_pix2pix_trains_on_an_aligned_folder_from_the_cli(tmp_path):
    for i in range(4):
        write_image(tmp_path / "data" / "train" / f"{i}.png", 16, 32, i)
    write_image(tmp_path / "data" / "test" / "t.png", 16, 32, 9)
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--task", "pix2pix", "--dataset", "aligned", "--data-root",
                                 str(tmp_path / "data"), "--image-size", "16", "--width", "8", "--steps", "2",
                                 "--batch-size", "2", "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    scored = runner.invoke(cli, ["eval", str(tmp_path / "run"), "--device", "cpu"])
    assert scored.exit_code == 0, scored.output
    assert scored.output.splitlines()[0].split() == ["pairs", "1"]
