"""Inpainting: mask generators, the exact composite, training, evaluation and `ganzoo inpaint`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import io
from skimage.restoration import inpaint_biharmonic

import ganzoo
from ganzoo.api import GanzooError, IncompatibleError, NetConfig
from ganzoo.cli import cli
from ganzoo.engine.trainer import Trainer, load_for_inference
from ganzoo_plugins.architectures.unet import UNet
from ganzoo import draw_masks, hole_fraction
from ganzoo_plugins.tasks.inpainting import complete, self_ensemble, smooth_fill
from conftest import assert_same_logs, assert_same_weights, one_error_line, tiny_run

MASKS = [e.name for e in ganzoo.list("masks") if e.distribution == "ganzoo"]


tiny = tiny_run(task="inpainting", arch="unet", dataset="shapes", image_size=16, channels=1, batch_size=8, width=8,
                steps=2, data_options={"n": 64})


def test_all_mask_kinds_are_listed_with_their_area_range():
    assert set(MASKS) >= {"box", "random-boxes", "strokes", "thin", "medium", "thick"}
    result = CliRunner().invoke(cli, ["list", "masks", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)}
    assert listed["strokes"]["area"] == [0.02, 0.5] and listed["box"]["options"] == {"area": 0.25}


@pytest.mark.parametrize("name", MASKS)
def test_mask_generators_cover_their_declared_area_range(name):
    spec = ganzoo.get("masks", name)
    low, high = spec.area
    for shape in [(28, 28), (64, 64), (40, 72)]:
        masks = draw_masks(name, 150, shape, np.random.default_rng(1))
        assert masks.dtype == bool and masks.shape == (150, *shape)
        areas = hole_fraction(masks)
        assert areas.min() >= low and areas.max() <= high, (shape, areas.min(), areas.max())
        if name != "box":  # the centre box is the same every time; the others must spread over their range
            assert areas.max() - areas.min() >= 0.4 * (high - low), (shape, areas.min(), areas.max())
    again = draw_masks(name, 5, (28, 28), np.random.default_rng(7))
    np.testing.assert_array_equal(again, draw_masks(name, 5, (28, 28), np.random.default_rng(7)))


def test_centre_box_area_option_and_placement():
    mask = draw_masks("box", 1, (28, 28), np.random.default_rng(0))[0]
    assert mask.sum() == 14 * 14 and mask[7:21, 7:21].all()
    small = draw_masks("box", 1, (64, 64), np.random.default_rng(0), area=0.1)[0]
    assert small.mean() == pytest.approx(0.1, abs=0.01)


def test_mask_option_errors():
    with pytest.raises(GanzooError, match="width: this mask has no such option.*area"):
        draw_masks("box", 1, (28, 28), np.random.default_rng(0), width=3)
    with pytest.raises(GanzooError, match="Did you mean: strokes"):
        draw_masks("stroke", 1, (28, 28), np.random.default_rng(0))
    with pytest.raises(GanzooError, match="at least 16 px"):
        draw_masks("strokes", 1, (8, 8), np.random.default_rng(0))


def test_mixture_mask_draws_the_weighted_kinds_within_its_area_range():
    rng = np.random.default_rng(0)
    only_boxes = draw_masks("mixture", 20, (28, 28), rng, kinds="box,strokes", weights="1,0")
    np.testing.assert_array_equal(only_boxes, draw_masks("box", 20, (28, 28), rng))
    masks = draw_masks("mixture", 300, (32, 32), np.random.default_rng(1), kinds="box,thick", min_area=0.2,
                       max_area=0.45)
    areas = hole_fraction(masks)
    assert areas.min() >= 0.2 and areas.max() <= 0.45
    boxes = (masks == draw_masks("box", 1, (32, 32), rng)[0]).all(axis=(1, 2))
    assert 0.4 < boxes.mean() < 0.6  # equal weights: half centre boxes, though thick strokes miss the range more


def test_mixture_mask_errors_name_the_option():
    with pytest.raises(GanzooError, match="weights='1,2' needs 3 non-negative numbers"):
        draw_masks("mixture", 1, (28, 28), np.random.default_rng(0), kinds="box,thin,thick", weights="1,2")
    with pytest.raises(GanzooError, match="Did you mean: strokes"):
        draw_masks("mixture", 1, (28, 28), np.random.default_rng(0), kinds="box,stroke")
    with pytest.raises(GanzooError, match="min_area <= max_area"):
        draw_masks("mixture", 1, (28, 28), np.random.default_rng(0), min_area=0.5, max_area=0.2)
    with pytest.raises(GanzooError, match=r"mask 'box' produced no mask with hole area in \(0.5, 1.0\).*leave 'box'"):
        draw_masks("mixture", 1, (28, 28), np.random.default_rng(0), kinds="box", min_area=0.5)
    with pytest.raises(GanzooError, match="kind 'strokes' needs images of at least 16 px"):
        draw_masks("mixture", 1, (8, 8), np.random.default_rng(0), kinds="random-boxes,strokes")


def test_composite_equals_input_outside_the_hole_exactly():
    torch.manual_seed(0)
    G = UNet(NetConfig(20, 3, width=8, in_channels=4)).eval()
    image = torch.rand(6, 3, 20, 36) * 2 - 1  # any size: the U-Net pads to its multiple and crops back
    mask = torch.from_numpy(draw_masks("strokes", 6, (20, 36), np.random.default_rng(0))[:, None]).float()
    with torch.no_grad():
        pred, filled = complete(G, image, mask)
    keep = ~mask.bool().expand_as(image)
    assert pred.shape == image.shape
    assert torch.equal(filled[keep], image[keep])
    assert torch.equal(filled[~keep], pred.clamp(-1, 1)[~keep])
    assert not torch.equal(filled, image)


def test_smooth_fill_keeps_known_pixels_and_fills_from_the_border():
    mask = torch.from_numpy(draw_masks("thick", 4, (20, 28), np.random.default_rng(0))[:, None]).float()
    flat = torch.full((4, 3, 20, 28), 0.3)
    assert torch.allclose(smooth_fill(flat, mask), flat), "a flat image is filled with its colour"
    ramp = torch.linspace(-1, 1, 28).expand(4, 3, 20, 28).contiguous()
    filled = smooth_fill(ramp, mask)
    hole = mask.bool().expand_as(ramp)
    assert torch.equal(filled[~hole], ramp[~hole])
    # A ramp is harmonic, so a fill from the border comes close to it: 0.08 here, where the mean of the known
    # pixels errs by 0.5 (these holes cover a third of the image and reach its edges)
    mean_fill = (ramp * (1 - mask)).sum((2, 3), keepdim=True) / (1 - mask).sum((2, 3), keepdim=True)
    assert (filled - ramp)[hole].abs().mean() < 0.2 * (mean_fill - ramp).expand_as(ramp)[hole].abs().mean()
    assert filled.min() >= -1 and filled.max() <= 1  # no overshoot beyond the known values


@pytest.mark.parametrize("prefill", ["smooth", "biharmonic"])
def test_prefill_starts_from_the_fill_and_is_refused_when_misspelt(tmp_path, prefill):
    class Zero(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(x[:, :-1])

    image = torch.rand(2, 3, 16, 16) * 2 - 1
    mask = torch.from_numpy(draw_masks("strokes", 2, (16, 16), np.random.default_rng(1))[:, None]).float()
    _, filled = complete(Zero(), image, mask, prefill)
    if prefill == "smooth":
        assert torch.equal(filled, smooth_fill(image, mask).clamp(-1, 1))
    else:  # scikit-image's own solve, the baseline the eval scores against
        unit = (image.double().permute(0, 2, 3, 1).numpy() + 1) / 2
        skimage = [inpaint_biharmonic(x, m[0].numpy() > 0, channel_axis=-1) for x, m in zip(unit, mask)]
        expected = torch.from_numpy(np.stack(skimage).clip(0, 1) * 2 - 1).permute(0, 3, 1, 2).float()
        assert torch.allclose(filled, torch.where(mask.bool(), expected, image), atol=1e-6)
        assert torch.equal(filled[~mask.bool().expand_as(image)], image[~mask.bool().expand_as(image)])
    run = Trainer(tiny(tmp_path, steps=2, task_options={"prefill": prefill})).fit()
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
    with pytest.raises(GanzooError, match="--task-opt prefill=smoth: task 'inpainting' knows zero, smooth, biharmonic"):
        Trainer(tiny(tmp_path, task_options={"prefill": "smoth"}))


def test_self_ensemble_averages_g_over_flips_and_turns():
    class Pattern(torch.nn.Module):  # not flip- or turn-invariant: a centred left-to-right ramp, plus a constant
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            ramp = torch.linspace(-0.6, 0.6, x.shape[-1]).expand(x.shape[0], x.shape[1] - 1, *x.shape[-2:])
            return ramp + 0.25

    image = torch.rand(2, 3, 12, 12) * 2 - 1
    mask = torch.from_numpy(draw_masks("box", 2, (12, 12), np.random.default_rng(0))[:, None]).float()
    pred, filled = self_ensemble(Pattern(), image, mask)
    # the ramp turned back from the 8 views points along +x, -x, +y and -y, twice each: only the constant stays
    assert torch.allclose(pred, torch.full_like(pred, 0.25), atol=1e-6)
    assert not torch.allclose(complete(Pattern(), image, mask)[0], pred)
    keep = ~mask.bool().expand_as(image)
    assert torch.equal(filled[keep], image[keep])


def test_training_steps_on_cpu_write_samples(tmp_path):
    trainer = Trainer(tiny(tmp_path, steps=3))
    run = trainer.fit()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(np.isfinite(r[k]) for r in records for k in ("d_loss", "g_loss", "l1", "adv", "D(x)", "D(G(x))"))
    assert trainer.config.loss == "hinge"
    fixed = trainer.fixed_inputs()
    assert fixed["mask"].shape == (4, 1, 16, 16) and fixed["mask"].mean().item() == pytest.approx(0.25)
    images = trainer.task.samples(trainer.sample_nets(), fixed)
    assert images.shape == (12, 1, 16, 16)  # masked | completed | truth rows
    assert trainer.task.sample_nrow(12) == 4
    assert io.imread(run / "samples.png").shape == (3 * 18 + 2, 4 * 18 + 2)


def test_l1_only_ablation_has_no_adversarial_term(tmp_path):
    run = Trainer(tiny(tmp_path, task_options={"adv_weight": 0})).fit()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all(r["g_loss"] == r["l1"] and "adv" not in r for r in records)


def test_resume_is_exact_with_random_masks(tmp_path, resume_pair):
    """Masks come from the engine's generator: stop + resume gives the same losses and weights."""
    common = dict(loss="wgan-gp", n_critic=2, task_options={"mask": "strokes", "mask_strokes": [1, 2]})
    straight, resumed, log_a, log_b = resume_pair(lambda out, steps: tiny(tmp_path, steps=steps, out=out, **common), 4)
    assert_same_logs(log_a, log_b, ("d_loss", "g_loss", "l1"))
    assert_same_weights(straight, resumed)


def test_impossible_combinations_are_refused(tmp_path):
    with pytest.raises(IncompatibleError,
                       match="architecture 'dcgan' cannot serve task 'inpainting': it lacks G input 'image'"):
        Trainer(tiny(tmp_path, arch="dcgan", image_size=32))
    with pytest.raises(IncompatibleError, match="architecture 'unet' cannot serve task 'unconditional'"):
        Trainer(tiny(tmp_path, task="unconditional"))
    with pytest.raises(GanzooError, match=r"--task-opt l2_hole \(did you mean l1_hole\?\): task 'inpainting' has no"):
        Trainer(tiny(tmp_path, task_options={"l2_hole": 1}))
    with pytest.raises(GanzooError, match=r"--task-opt mask_sides \(did you mean mask_area\?\): task 'inpainting' has no"):
        Trainer(tiny(tmp_path, task_options={"mask_sides": 2}))
    with pytest.raises(GanzooError, match="^--task-opt mask=thinn: unknown mask 'thinn'. Did you mean: thin"):
        Trainer(tiny(tmp_path, task_options={"mask": "thinn"}))
    with pytest.raises(GanzooError, match="--task-opt mask_area=abc: task 'inpainting' expects a number"):
        Trainer(tiny(tmp_path, task_options={"mask_area": "abc"}))
    with pytest.raises(GanzooError, match="--task-opt l1_hole=x: task .inpainting. expects a number"):
        Trainer(tiny(tmp_path, task_options={"l1_hole": "x"}))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inpaint")
    options = {"mask": "box", "mask_area": 0.25}
    return Trainer(tiny(out, steps=2, out=str(out / "run"), task_options=options)).fit() / "checkpoint.safetensors"


def test_evaluate_compares_with_baselines_per_area_bin(checkpoint, tmp_path):
    from ganzoo_plugins.metrics.classifier import train_classifier

    classifier = train_classifier("shapes", None, tmp_path / "clf.safetensors", image_size=16, channels=1, steps=3,
                                  data_options={"n": 64}, limit=64)
    asm, nets = load_for_inference(checkpoint, "cpu")
    result = asm.task.evaluate(nets, torch.device("cpu"), num=24, out=str(tmp_path), classifier=str(classifier))
    assert result["num"] == 24 and result["hole_area"]["mean"] == pytest.approx(0.25)
    methods = result["methods"]
    assert set(methods) == {"ganzoo", "biharmonic", "smooth-fill", "mean-fill", "truth"}
    for name in ("ganzoo", "biharmonic", "smooth-fill", "mean-fill"):
        m = methods[name]
        assert 0 <= m["accuracy"] <= 1 and 0 <= m["hole_l1"] <= 1 and m["ssim"] <= 1
        # The composite differs from the truth only in the hole, which is a quarter of every image.
        assert m["l1"] == pytest.approx(0.25 * m["hole_l1"], rel=1e-3)
        assert m["psnr"] > m["hole_psnr"]
    assert methods["biharmonic"]["hole_psnr"] > methods["mean-fill"]["hole_psnr"]  # flat-coloured shapes
    assert methods["mean-fill"]["hf_energy"] == 0  # a constant fill has no detail inside the hole
    assert list(result["bins"]) == ["20%-30%"] and result["bins"]["20%-30%"]["count"] == 24
    assert result["grid"] == str(tmp_path / "inpainting_eval.png")
    grid = io.imread(result["grid"])
    assert grid.shape == (4 * 18 + 2, 10 * 18 + 2)
    strokes = asm.task.evaluate(nets, torch.device("cpu"), num=24, mask="thick")
    assert strokes["mask"]["kind"] == "thick" and 0.3 <= strokes["hole_area"]["min"]
    assert sum(b["count"] for b in strokes["bins"].values()) == 24


def test_eval_cli_prints_one_table_row_per_bin_and_method(checkpoint, tmp_path):
    result = CliRunner().invoke(cli, ["eval", str(checkpoint), "-n", "12", "--device", "cpu",
                                      "--json", str(tmp_path / "eval.json")])
    assert result.exit_code == 0, result.output
    assert "{" not in result.output, "nested results are tables, not raw dicts"
    assert "| 20%-30% | 12 | biharmonic |" in result.output and "| ganzoo |" in result.output
    assert json.loads((tmp_path / "eval.json").read_text())["bins"]["20%-30%"]["count"] == 12
    refused = CliRunner().invoke(cli, ["eval", str(checkpoint), "-n", "12", "--metrics", "fid", "--device", "cpu"])
    assert refused.exit_code == 1 and "drop --metrics" in refused.output
    ignored = CliRunner().invoke(cli, ["eval", str(checkpoint), "--metric-opt", "kid.subset_size=4"])
    assert ignored.exit_code == 1 and ("Error: --metric-opt: task 'inpainting' is scored by its own evaluation, not by "
                                       "metric plugins; drop --metric-opt") in ignored.output


def test_eval_keeps_the_trained_mask_options_unless_told_otherwise(tmp_path):
    run = Trainer(tiny(tmp_path, steps=1, task_options={"mask": "box", "mask_area": 0.4})).fit()
    asm, _ = load_for_inference(run, "cpu")
    assert asm.task.eval_option_defaults({})["mask_area"] == 0.4
    assert asm.task.eval_option_defaults({"mask": "thin"})["mask_area"] == (0.05, 0.25)  # another kind: its own
    assert asm.task.eval_option_defaults({"mask": "mask-boxes:box"})["mask_area"] == 0.4  # the same kind, qualified
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(cli, ["eval", str(run), "-n", "8", "--device", "cpu", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["hole_area"]["mean"] == pytest.approx(0.4, abs=0.02)


def test_eval_cli_takes_the_tasks_own_options(checkpoint, tmp_path):
    def scored(*options: str) -> dict:
        out = tmp_path / "eval.json"
        result = CliRunner().invoke(cli, ["eval", str(checkpoint), "-n", "8", "--device", "cpu", "--json", str(out),
                                          *options])
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text())

    plain = scored()
    thick = scored("--eval-opt", "mask=thick")
    assert thick["mask"]["kind"] == "thick" and thick["hole_area"]["min"] >= 0.3
    smaller = scored("--eval-opt", "mask_area=0.1")  # the training kind, one option changed
    assert smaller["mask"]["kind"] == "box" and smaller["hole_area"]["mean"] == pytest.approx(0.1, abs=0.02)
    ensemble = scored("--eval-opt", "self_ensemble=true")
    assert ensemble["mask"] == plain["mask"] and ensemble["hole_area"] == plain["hole_area"]  # same masks
    assert ensemble["methods"]["biharmonic"] == plain["methods"]["biharmonic"]
    assert ensemble["methods"]["ganzoo"]["hole_l1"] != plain["methods"]["ganzoo"]["hole_l1"]  # 8 views averaged

    typo = CliRunner().invoke(cli, ["eval", str(checkpoint), "--device", "cpu", "--eval-opt", "mask_aera=0.1"])
    assert typo.exit_code == 1
    assert one_error_line(typo).startswith("Error: --eval-opt mask_aera (did you mean mask_area?): task 'inpainting' "
                                           "has no such option (its options: mask=box, self_ensemble=false, ")
    other = CliRunner().invoke(cli, ["eval", str(checkpoint), "--device", "cpu", "--eval-opt", "mask=thin",
                                     "--eval-opt", "mask_wdth=0.1"])
    assert "mask_width=[0.02,0.06], mask_area=[0.05,0.25]" in one_error_line(other), "that kind's options, as TOML"
    for value in ("0.3", "[0.1]", "[0.1,true]"):  # a range is two numbers
        scalar = CliRunner().invoke(cli, ["eval", str(checkpoint), "--device", "cpu", "--eval-opt", "mask=thin",
                                          "--eval-opt", f"mask_area={value}"])
        assert one_error_line(scalar).endswith(": task 'inpainting' expects a list of 2 numbers for mask_area, "
                                               "such as the default [0.05,0.25]")
    unknown = CliRunner().invoke(cli, ["eval", str(checkpoint), "--device", "cpu", "--eval-opt", "mask=thinn"])
    assert one_error_line(unknown).startswith("Error: --eval-opt mask=thinn: unknown mask 'thinn'. Did you mean: thin")
    wrong = CliRunner().invoke(cli, ["eval", str(checkpoint), "--device", "cpu", "--eval-opt", "self_ensemble=yes"])
    assert one_error_line(wrong) == ("Error: --eval-opt self_ensemble=yes: task 'inpainting' expects true or false "
                                     "for self_ensemble (default false)")


def _png(path: Path, array: np.ndarray) -> Path:
    io.imsave(path, array, check_contrast=False)
    return path


def test_cli_inpaint_png_keeps_known_pixels(checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    image = _png(tmp_path / "digit.png", rng.integers(0, 256, (20, 24), dtype=np.uint8))
    mask = np.zeros((20, 24), dtype=np.uint8)
    mask[5:15, 6:18] = 255
    mask_path = _png(tmp_path / "hole.png", mask)
    out = tmp_path / "filled.png"
    result = CliRunner().invoke(cli, ["inpaint", str(checkpoint), str(image), "--mask", str(mask_path),
                                      "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "hole 25.0% of the image" in result.output
    before, after = io.imread(image), io.imread(out)
    assert after.shape == before.shape and after.dtype == np.uint8
    np.testing.assert_array_equal(after[mask == 0], before[mask == 0])
    assert not np.array_equal(after[mask > 0], before[mask > 0])

    drawn = tmp_path / "drawn"
    result = CliRunner().invoke(cli, ["inpaint", str(checkpoint), str(image), "--mask-kind", "strokes", "--seed", "3",
                                      "--save-masks", "--out", str(drawn), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    used = io.imread(drawn / "digit.mask.png")
    assert set(np.unique(used)) <= {0, 255} and used.any()
    np.testing.assert_array_equal(io.imread(drawn / "digit.png")[used == 0], before[used == 0])

    result = CliRunner().invoke(cli, ["inpaint", str(checkpoint), str(image), "--mask", str(mask_path), "--out",
                                      str(tmp_path / "ensemble.png"), "--device", "cpu", "--self-ensemble"])
    assert result.exit_code == 0, result.output
    ensemble = io.imread(tmp_path / "ensemble.png")
    np.testing.assert_array_equal(ensemble[mask == 0], before[mask == 0])
    assert not np.array_equal(ensemble[mask > 0], after[mask > 0]), "the 8-view mean differs from one pass"

    transparent = _png(tmp_path / "transparent.png", np.stack([before, np.full_like(before, 128)], axis=-1))
    result = CliRunner().invoke(cli, ["inpaint", str(checkpoint), str(transparent), "--mask", str(mask_path),
                                      "--out", str(tmp_path / "opaque.png"), "--device", "cpu"])
    assert result.exit_code == 0 and f"warning: 1 of 1 input image(s) (e.g. {transparent}) have an alpha" in (
        result.output)
    np.testing.assert_array_equal(io.imread(tmp_path / "opaque.png"), after)  # alpha dropped, gray kept
    (tmp_path / "broken.png").write_bytes(b"not a png")
    result = CliRunner().invoke(cli, ["inpaint", str(checkpoint), str(tmp_path / "broken.png"), "--mask",
                                      str(mask_path), "--out", str(tmp_path / "none.png"), "--device", "cpu"])
    assert one_error_line(result).startswith(f"Error: cannot read image {tmp_path / 'broken.png'}")


def test_cli_inpaint_folder(checkpoint, tmp_path):
    rng = np.random.default_rng(1)
    src, masks = tmp_path / "images", tmp_path / "masks"
    (src / "sub").mkdir(parents=True)
    (masks / "sub").mkdir(parents=True)
    for rel in ("a.png", "sub/b.png"):
        _png(src / rel, rng.integers(0, 256, (16, 16), dtype=np.uint8))
        _png(masks / rel, np.where(rng.random((16, 16)) < 0.3, 255, 0).astype(np.uint8))
    runner = CliRunner()
    result = runner.invoke(cli, ["inpaint", str(checkpoint), str(src), "--mask-kind", "box", "--mask-opt", "area=0.1",
                                 "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.output.count("hole 9.8% of the image") == 2  # a 5x5 box in 16x16
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "sub" / "b.png").is_file()
    result = runner.invoke(cli, ["inpaint", str(checkpoint), str(src), "--mask", str(masks),
                                 "--out", str(tmp_path / "out2"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for rel in ("a.png", "sub/b.png"):
        keep = io.imread(masks / rel) == 0
        np.testing.assert_array_equal(io.imread(tmp_path / "out2" / rel)[keep], io.imread(src / rel)[keep])
    _png(src / "sub" / "c.png", rng.integers(0, 256, (16, 16), dtype=np.uint8))  # a mask missing for the last image
    result = runner.invoke(cli, ["inpaint", str(checkpoint), str(src), "--mask", str(masks),
                                 "--out", str(tmp_path / "out3"), "--device", "cpu"])
    assert one_error_line(result).endswith(f"no mask for {src / 'sub' / 'c.png'}: looked for {masks / 'sub' / 'c.png'}")
    assert not (tmp_path / "out3").exists(), "checked before the first file is written"


def test_cli_inpaint_never_overwrites_its_inputs(checkpoint, tmp_path):
    """--out onto the images (or masks) themselves is refused before any work, and the originals stay as they were."""
    src, masks = tmp_path / "images", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    image = _png(src / "a.png", np.full((16, 16), 128, dtype=np.uint8))
    _png(masks / "a.png", np.where(np.arange(256).reshape(16, 16) % 3 == 0, 255, 0).astype(np.uint8))
    before = image.read_bytes()
    for args in ([str(src), "--mask-kind", "box", "--out", str(src)],
                 [str(image), "--mask-kind", "box", "--out", str(image)],
                 [str(image), "--mask-kind", "box", "--out", str(src)],
                 [str(src), "--mask", str(masks), "--out", str(masks)]):
        result = CliRunner().invoke(cli, ["inpaint", str(checkpoint), *args, "--device", "cpu"])
        assert one_error_line(result).endswith("with its result; write to another folder"), args
    assert image.read_bytes() == before


def test_cli_inpaint_clear_errors(checkpoint, tmp_path):
    image = _png(tmp_path / "img.png", np.full((16, 16), 128, dtype=np.uint8))
    rgb = _png(tmp_path / "rgb.png", np.full((16, 16, 3), 128, dtype=np.uint8))
    wrong_size = _png(tmp_path / "big.png", np.full((16, 20), 255, dtype=np.uint8))
    gray = _png(tmp_path / "soft.png", np.linspace(0, 255, 256).astype(np.uint8).reshape(16, 16))
    colour = np.zeros((16, 16, 3), dtype=np.uint8)
    colour[..., 0] = 255
    colour_mask = _png(tmp_path / "red.png", colour)
    cases = [
        (["--mask", str(wrong_size)], "is 20x16 (WxH) but image"),
        (["--mask", str(gray)], "not binary: it has 256 gray levels"),
        (["--mask", str(colour_mask)], "colour image"),
        ([], "exactly one of --mask"),
        (["--mask", str(gray), "--mask-kind", "box"], "exactly one of --mask"),
        (["--mask-kind", "boxx"], "Did you mean: box"),
    ]
    runner = CliRunner()
    for extra, message in cases:
        result = runner.invoke(cli, ["inpaint", str(checkpoint), str(image), *extra, "--out", str(tmp_path / "o.png")])
        assert result.exit_code != 0 and message in result.output, (extra, result.output)
        assert "Traceback" not in result.output
    result = runner.invoke(cli, ["inpaint", str(checkpoint), str(rgb), "--mask-kind", "box", "--out",
                                 str(tmp_path / "o.png")])
    assert result.exit_code != 0 and "has 3 channel(s) but the checkpoint was trained on 1-channel" in result.output
    result = runner.invoke(cli, ["inpaint", str(checkpoint), str(tmp_path), "--mask-kind", "box", "--out",
                                 str(tmp_path / "o.png")])
    assert result.exit_code != 0 and "--out must be a folder" in result.output
    result = runner.invoke(cli, ["sample", str(checkpoint), "--out", str(tmp_path / "s.png")])
    assert result.exit_code != 0 and "use `ganzoo inpaint` for it, not sample" in result.output


def test_a_mask_over_the_whole_image_is_filled_mid_gray_by_the_baselines_not_a_crash():
    from ganzoo_plugins.tasks.inpainting import biharmonic_fill, mean_fill

    images = np.random.default_rng(0).random((2, 8, 8, 3))
    masks = np.zeros((2, 8, 8), dtype=bool)
    masks[0] = True  # inpaint --mask-opt area=1, or an all-white mask file
    masks[1, 2:4, 2:4] = True
    for fill in (biharmonic_fill, mean_fill):
        out = fill(images, masks)
        assert np.all(out[0] == 0.5) and np.array_equal(out[1][~masks[1]], images[1][~masks[1]])
