"""CycleGAN: generator shapes at any size, the history pool, the losses, training, translate, the benchmark data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage import io

import ganzoo
from ganzoo.api import DataOptions, GanzooError, IncompatibleError, NetConfig, StepContext
from ganzoo.cli import cli
from ganzoo.engine.adversarial import AdversarialStep
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.config import RunConfig
from ganzoo.engine.trainer import Trainer, assemble
from ganzoo_plugins.datasets.style_benchmark import style_filter
from ganzoo_plugins.tasks.cyclegan import ImagePool
from ganzoo_plugins.tasks.translate import translate_image
from ganzoo_plugins.architectures.resnet_generator import upsampling
from conftest import assert_same_logs, assert_same_weights, one_error_line, tiny_run


tiny = tiny_run(task="cyclegan", arch="resnet-6blocks", dataset="style-benchmark", image_size=16, width=8,
                batch_size=2, steps=3, sample_every=2, device="cpu", arch_options={"n_layers": 2},
                data_options={"n": 16, "n_test": 4})


def write_image(path: Path, height: int, width: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)
    io.imsave(path, pixels, check_contrast=False)


@pytest.fixture
def domains(tmp_path: Path) -> Path:
    """A tiny CycleGAN-layout folder: unequal domain sizes, mixed formats and shapes."""
    root = tmp_path / "data"
    for i, (h, w) in enumerate([(20, 24), (30, 18), (16, 16), (25, 40), (19, 19)]):
        write_image(root / "trainA" / f"a{i}.png", h, w, i)
    for i, (h, w) in enumerate([(22, 22), (40, 30), (17, 21)]):
        write_image(root / "trainB" / f"b{i}.jpg", h, w, 10 + i)
    write_image(root / "testA" / "t.png", 20, 20, 20)
    write_image(root / "testB" / "t.png", 20, 20, 21)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny cyclegan run on the style benchmark (3 steps), shared by the translate and evaluate tests."""
    return Trainer(tiny(tmp_path_factory.mktemp("cyclegan"))).fit()


@pytest.mark.parametrize("arch", ["resnet-6blocks", "resnet-9blocks"])
@pytest.mark.parametrize("size", [(17, 23), (5, 9), (30, 33), (1, 2), (16, 12)])
def test_generator_round_trips_any_size(arch, size):
    G = ganzoo.get("archs", arch).generator(NetConfig(image_size=16, channels=3, width=8, in_channels=3)).eval()
    image = torch.rand(3, *size) * 2 - 1
    with torch.no_grad():
        out = translate_image(G, image)
    assert out.shape == (3, *size)
    assert out.min() >= -1 and out.max() <= 1


def test_generator_keeps_multiples_of_four_and_batches():
    G = ganzoo.get("archs", "resnet-6blocks").generator(NetConfig(image_size=24, channels=1, width=8, in_channels=1))
    out = G(torch.randn(3, 1, 24, 36))
    assert out.shape == (3, 1, 24, 36)
    out.mean().backward()
    assert all(p.grad is not None for p in G.parameters())


def test_instance_norm_makes_the_generator_blind_to_exposure_batch_norm_does_not():
    arch = ganzoo.get("archs", "resnet-6blocks")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    darker = 0.5 * x - 0.3
    outputs = {}
    for norm in ("instance", "batch", "none"):
        torch.manual_seed(0)
        G = arch.generator(NetConfig(image_size=16, channels=3, width=8, in_channels=3, options={"g_norm": norm}))
        for module in G.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.kaiming_normal_(module.weight)
        G(torch.randn(4, 3, 16, 16))  # batch-norm running statistics
        G.eval()
        with torch.no_grad():
            outputs[norm] = (G(x) - G(darker)).abs().max().item()
    assert outputs["instance"] < 1e-3, "instance norm removes global brightness and contrast"
    assert outputs["batch"] > 0.05 and outputs["none"] > 0.05
    with pytest.raises(GanzooError, match="g_norm 'layer'"):
        arch.generator(NetConfig(image_size=16, channels=3, width=8, options={"g_norm": "layer"}))


def test_resize_upsampling_paints_no_checkerboard_transposed_convs_do():
    """On a flat input, a stride-2 transposed conv's uneven kernel overlap gives a 2-periodic pattern;
    nearest resize + conv gives a flat interior, whatever the weights."""
    torch.manual_seed(0)
    flat = torch.ones(1, 8, 6, 6)
    interior = {}
    for mode in ("transpose", "resize"):
        layers = torch.nn.Sequential(*upsampling(8, 4, mode, bias=False))
        with torch.no_grad():
            out = layers(flat)
        assert out.shape == (1, 4, 12, 12)
        interior[mode] = out[..., 2:-2, 2:-2]
    spread = lambda x: (x.amax(dim=(-2, -1)) - x.amin(dim=(-2, -1))).max().item()  # noqa: E731
    assert spread(interior["transpose"]) > 0.01
    assert spread(interior["resize"]) < 1e-6
    G = ganzoo.get("archs", "resnet-6blocks").generator(
        NetConfig(image_size=16, channels=3, width=8, in_channels=3, options={"upsample": "resize"}))
    assert G(torch.randn(2, 3, 20, 12)).shape == (2, 3, 20, 12)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules())
    with pytest.raises(GanzooError, match="upsample 'bilinear': choose one of transpose, resize"):
        ganzoo.get("archs", "resnet-6blocks").generator(
            NetConfig(image_size=16, channels=3, width=8, options={"upsample": "bilinear"}))


def test_residual_generator_corrects_its_input_and_needs_matching_channels():
    arch = ganzoo.get("archs", "resnet-6blocks")
    G = arch.generator(NetConfig(image_size=16, channels=3, width=8, in_channels=3, options={"residual": True}))
    last = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    x = torch.rand(2, 3, 16, 16) * 1.8 - 0.9
    torch.testing.assert_close(G(x), x, atol=1e-5, rtol=0)  # no correction: the input itself
    torch.nn.init.constant_(last.bias, 0.5)
    torch.testing.assert_close(G(x), torch.tanh(torch.atanh(x) + 0.5), atol=1e-5, rtol=0)
    with pytest.raises(GanzooError, match="residual=true .* not 4 and 3"):
        arch.generator(NetConfig(image_size=16, channels=3, width=8, in_channels=4, options={"residual": True}))


def test_architecture_limits_are_checked_before_training(tmp_path):
    with pytest.raises(IncompatibleError, match="multiple of 4"):
        assemble(tiny(tmp_path, image_size=18))
    with pytest.raises(IncompatibleError, match="n_layers=2"):
        assemble(tiny(tmp_path, arch_options={"n_layers": 3}))
    with pytest.raises(IncompatibleError, match="cannot serve task 'unconditional': it lacks G input 'noise'"):
        assemble(RunConfig(arch="resnet-6blocks", image_size=32))
    D = assemble(tiny(tmp_path, image_size=32, arch_options={})).nets["D_A"]
    assert D(torch.randn(2, 3, 32, 32)).shape == (2, 1, 2, 2)


def test_the_recipe_sets_batch_1_and_linear_decay_unless_the_user_does():
    recipe = assemble(RunConfig(task="cyclegan", dataset="style-benchmark", image_size=32)).config
    assert (recipe.batch_size, recipe.lr_policy, recipe.arch, recipe.loss) == (1, "linear", "resnet-9blocks", "lsgan")
    chosen = assemble(RunConfig(task="cyclegan", dataset="style-benchmark", image_size=32, batch_size=4,
                                lr_policy="constant")).config
    assert (chosen.batch_size, chosen.lr_policy) == (4, "constant")
    plain = assemble(RunConfig()).config
    assert (plain.batch_size, plain.lr_policy) == (64, "constant")


def test_pool_fills_then_swaps_half_with_history():
    pool = ImagePool(3, (1, 1, 1))
    gen = torch.Generator().manual_seed(0)
    first = torch.arange(2.0).view(2, 1, 1, 1)
    assert torch.equal(pool.query(first, gen), first)
    second = torch.tensor([2.0, 3.0]).view(2, 1, 1, 1)
    out = pool.query(second, gen)
    assert out[0].item() == 2.0, "the pool is not full yet: image 2 fills its last slot and passes through"
    assert pool.filled == 3 and sorted(pool.images.flatten().tolist()) == [0.0, 1.0, 2.0]
    assert out[1].item() in (0.0, 1.0, 2.0, 3.0)
    swapped = 0
    for value in range(4, 404):
        history = set(pool.images.flatten().tolist())
        got = pool.query(torch.tensor([float(value)]).view(1, 1, 1, 1), gen).item()
        if got != value:
            assert got in history, "a swapped-out image must come from the pool"
            assert value in pool.images.flatten().tolist(), "the new image must take its place"
            swapped += 1
    assert 150 < swapped < 250, swapped


def test_pool_is_deterministic_and_survives_state_dict():
    def run(seed: int) -> tuple[list[float], ImagePool]:
        pool, gen = ImagePool(4, (1, 1, 1)), torch.Generator().manual_seed(seed)
        return [pool.query(torch.tensor([[[[float(v)]]]]), gen).item() for v in range(30)], pool

    a, pool = run(0)
    assert a == run(0)[0] and a != run(1)[0]
    copy = ImagePool(4, (1, 1, 1))
    copy.load_state_dict(pool.state_dict())
    assert copy.filled == 4 and torch.equal(copy.images, pool.images)
    unpooled = ImagePool(0, (1, 1, 1))
    x = torch.randn(2, 1, 1, 1)
    assert unpooled.query(x, torch.Generator()) is x


def _g_step(tmp_path: Path, lambda_identity: float) -> tuple[float, dict, int]:
    torch.manual_seed(0)
    asm = assemble(tiny(tmp_path, task_options={"lambda_identity": lambda_identity}))
    calls = []
    for name in ("G_AB", "G_BA"):
        asm.nets[name].register_forward_hook(lambda *args: calls.append(1))
    ctx = StepContext(asm.nets, asm.nets, asm.loss, torch.device("cpu"), torch.Generator().manual_seed(0))
    batch = {"A": torch.rand(2, 3, 16, 16) * 2 - 1, "B": torch.rand(2, 3, 16, 16) * 2 - 1}
    step = AdversarialStep(asm.task, asm.loss, asm.nets, asm.nets, asm.nets, None, None, None, ctx.device, None)
    loss, logs = step.generator_loss(ctx, batch, None)
    return loss.item(), logs, len(calls)


def test_identity_loss_only_when_lambda_identity_is_positive(tmp_path):
    off, logs_off, calls_off = _g_step(tmp_path, 0.0)
    on, logs_on, calls_on = _g_step(tmp_path, 0.5)
    assert "idt_AB" not in logs_off and calls_off == 4, "fakes + reconstructions only"
    assert calls_on == 6, "identity adds G_AB(B) and G_BA(A)"
    expected = 0.5 * 10 * (logs_on["idt_AB"].item() + logs_on["idt_BA"].item())
    assert on - off == pytest.approx(expected, rel=1e-4)
    assert logs_on["idt_AB"].item() > 0


def test_unknown_or_negative_task_options_are_clear_errors(tmp_path):
    with pytest.raises(GanzooError, match="did you mean lambda_identity"):
        assemble(tiny(tmp_path, task_options={"lambda_idt": 0.1}))
    with pytest.raises(GanzooError, match="pool_size=-1: task 'cyclegan' needs it >= 0"):
        assemble(tiny(tmp_path, task_options={"pool_size": -1}))


def test_a_few_cpu_steps_on_an_unaligned_folder(domains, tmp_path):
    config = tiny(tmp_path, dataset="unaligned", data_root=str(domains), data_options={}, lr_policy="linear",
                  task_options={"pool_size": 3})
    run_dir = Trainer(config).fit()
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    for key in ("d_loss", "g_loss", "D_A", "D_B", "adv_D_A", "adv_D_B", "cycle_A", "cycle_B", "idt_AB", "idt_BA"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert records[0]["lr"] == pytest.approx(2e-4) and records[-1]["lr"] == 0.0, "constant, then linear to zero"
    grid = io.imread(run_dir / "samples.png")
    assert grid.shape[1] == 6 * 16 + 7 * 2, "six columns: real A, fake B, rec A, real B, fake A, rec B"
    assert grid.shape[0] == 4 * 16 + 5 * 2, "one row per fixed pair"
    page = (run_dir / "index.html").read_text()
    assert "reconstructed A" in page and "samples/step_000002.png" in page
    tensors, meta = load_checkpoint(run_dir)
    assert {"pool_A.images", "pool_B.images", "G_AB.net.1.weight", "D_B.net.0.weight"} <= set(tensors)
    assert meta["task"] == "cyclegan" and meta["loss"] == "lsgan"


def test_resume_is_exact_with_the_pool(tmp_path, resume_pair):
    # Constant LR: the recipe's linear decay is defined against --steps, which this resume changes.
    common = dict(task_options={"pool_size": 3}, sample_every=1000, lr_policy="constant")
    straight, resumed, log_a, log_b = resume_pair(lambda out, steps: tiny(tmp_path, steps=steps, out=out, **common), 4)
    assert [r["step"] for r in log_b] == [1, 2, 3, 4]
    assert_same_logs(log_a, log_b, ("d_loss", "g_loss", "D_A", "D_B"))
    assert_same_weights(straight, resumed, ("G_AB.", "G_BA.", "D_A.", "D_B.", "pool_A.", "pool_B."))


def test_unaligned_dataset_layout_and_preprocessing(domains):
    spec = ganzoo.get("datasets", "unaligned")
    train = spec.load("unaligned", DataOptions(root=str(domains), image_size=16, seed=0))
    assert len(train) == 5, "max(|A|, |B|) items"
    item = train[3]
    assert item["A"].shape == item["B"].shape == (3, 16, 16)
    assert item["A"].min() >= -1 and item["A"].max() <= 1
    assert all(torch.equal(train[3][k], item[k]) for k in "AB"), "items are deterministic (exact resume)"
    assert train.load_size == 18, "load = image_size * 286 / 256, as CycleGAN's 286 for 256"
    test = spec.load("unaligned", DataOptions(root=str(domains), image_size=16, split="test"))
    assert len(test) == 1 and test.load_size == 16 and not test.flip
    unflipped = spec.load("unaligned", DataOptions(root=str(domains), image_size=16, options={"flip": False, "load_size": 16}))
    assert not unflipped.flip
    with pytest.raises(GanzooError, match="testA"):
        spec.load("unaligned", DataOptions(root=str(domains / "trainA"), image_size=16, split="test"))
    with pytest.raises(GanzooError, match="load_size=8 is smaller"):
        spec.load("unaligned", DataOptions(root=str(domains), image_size=16, options={"load_size": 8}))
    with pytest.raises(GanzooError, match="needs --data-root"):
        spec.load("unaligned", DataOptions(image_size=16))
    with pytest.raises(GanzooError, match="--data-opt crop: dataset .unaligned. has no such option .its options: load_size=None, flip=true"):
        spec.load("unaligned", DataOptions(root=str(domains), image_size=16, options={"crop": 3}))


def test_style_benchmark_train_pairs_are_never_seen(tmp_path):
    spec = ganzoo.get("datasets", "style-benchmark")
    train = spec.load("style-benchmark", DataOptions(image_size=16, options={"n": 40}))
    assert len(train) == 20 and not train.aligned_pairs
    sources = [train.b_source(i) for i in range(len(train))]
    assert all(20 <= s < 40 for s in sources), "B images come from the other half"
    assert len(set(sources)) > 5, "B partners are drawn, not a fixed offset"
    for i in (0, 7):
        item = train[i]
        assert torch.equal(item["A"], train.patches[i]["image"])
        assert torch.equal(item["B"], style_filter(train.patches[sources[i]]["image"]))
    test = spec.load("style-benchmark", DataOptions(image_size=16, split="test", options={"n_test": 3}))
    assert len(test) == 3 and test.aligned_pairs
    pair = test[1]
    assert torch.equal(pair["B"], style_filter(pair["A"]))
    assert not torch.allclose(pair["A"], train[1]["A"]), "held-out crops are drawn separately"


def test_style_filter_changes_colour_and_texture():
    flat = torch.full((3, 16, 16), 0.2)
    graded = style_filter(flat)
    assert graded.std(dim=(1, 2)).max() < 1e-5 and not torch.allclose(graded, flat), "a flat image changes colour only"
    edge = torch.full((3, 16, 16), -0.5)
    edge[:, :, 8:] = 0.5
    styled = style_filter(edge)
    colour_only = torch.cat([style_filter(edge[:, :, :4])[:, :, :1].expand(3, 16, 8),
                             style_filter(edge[:, :, 12:])[:, :, :1].expand(3, 16, 8)], dim=2)
    assert (styled - colour_only).abs()[:, :, 6:10].max() > 0.1, "the unsharp mask adds halos at edges"
    with pytest.raises(GanzooError, match="RGB"):
        style_filter(torch.zeros(1, 8, 8))


def test_evaluate_scores_held_out_pairs_against_baselines(trained, tmp_path):
    from ganzoo.engine.trainer import load_for_inference

    asm, nets = load_for_inference(trained, "cpu")
    result = asm.task.evaluate(nets, torch.device("cpu"), num=3, out=str(tmp_path))
    assert result["pairs"] == 3
    for direction in ("AtoB", "BtoA"):
        assert set(result[direction]) == {"model", "identity", "match_histograms_one", "match_histograms_domain"}
        assert all(np.isfinite(v) for m in result[direction].values() for v in m.values())
    test = asm.dataset.load("style-benchmark", DataOptions(image_size=16, split="test", options={"n_test": 3}))
    from skimage.metrics import peak_signal_noise_ratio
    from ganzoo.images import to_uint8

    identity = np.mean([peak_signal_noise_ratio(to_uint8(p["B"]) / 255, to_uint8(p["A"]) / 255, data_range=1)
                        for p in (test[i] for i in range(3))])
    assert result["AtoB"]["identity"]["psnr"] == pytest.approx(identity)
    assert io.imread(result["grid"]).shape[0] == 3 * 16 + 4 * 2
    with pytest.raises(GanzooError, match="drop --metrics"):
        asm.task.evaluate(nets, torch.device("cpu"), num=3, metrics=["fid"])


def test_evaluate_needs_ground_truth_pairs(domains, tmp_path):
    asm = assemble(tiny(tmp_path, dataset="unaligned", data_root=str(domains), data_options={}))
    with pytest.raises(GanzooError, match="style-benchmark"):
        asm.task.evaluate(asm.nets, torch.device("cpu"))


def test_translate_cli_folder_in_folder_out(trained, tmp_path):
    inputs = tmp_path / "photos"
    write_image(inputs / "odd.png", 17, 23, 1)
    write_image(inputs / "nested" / "small.jpg", 5, 9, 2)
    single = tmp_path / "single.png"
    write_image(single, 12, 16, 3)
    runner = CliRunner()
    result = runner.invoke(cli, ["translate", str(trained), str(inputs), str(single), "--direction", "BtoA",
                                 "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "translated 3 image(s) BtoA" in result.output
    assert io.imread(tmp_path / "out" / "odd.png").shape == (17, 23, 3)
    assert io.imread(tmp_path / "out" / "nested" / "small.png").shape == (5, 9, 3)
    assert io.imread(tmp_path / "out" / "single.png").shape == (12, 16, 3)
    clash = runner.invoke(cli, ["translate", str(trained), str(single), str(inputs / "odd.png"), str(single),
                                "--out", str(tmp_path / "o2"), "--device", "cpu"])
    assert clash.exit_code != 0 and "would both be written" in clash.output
    assert not (tmp_path / "o2").exists(), "nothing is written when the plan is refused"
    as_file = runner.invoke(cli, ["translate", str(trained), str(single), "--out", str(tmp_path / "styled.jpg"),
                                  "--device", "cpu"])
    assert one_error_line(as_file) == (f"Error: --out {tmp_path / 'styled.jpg'}: translate writes a folder (one PNG "
                                       f"per input, named after it); name a folder, e.g. --out {tmp_path / 'styled'}/")
    assert not (tmp_path / "styled.jpg").exists()
    slash = runner.invoke(cli, ["translate", str(trained), str(single), "--out", f"{tmp_path / 'styled.jpg'}/",
                                "--device", "cpu"])
    assert slash.exit_code == 0 and (tmp_path / "styled.jpg").is_dir()  # a trailing slash says "folder"
    original = single.read_bytes()
    in_place = runner.invoke(cli, ["translate", str(trained), str(single), "--out", str(single.parent), "--device", "cpu"])
    assert one_error_line(in_place) == (f"Error: --out would overwrite the input {single} with its result; write to "
                                        "another folder") and single.read_bytes() == original


def test_translate_says_when_inputs_are_grayscale_for_an_rgb_model(trained, tmp_path):
    gray = tmp_path / "gray"
    gray.mkdir()
    io.imsave(gray / "scan.png", (np.random.default_rng(0).random((12, 16)) * 255).astype(np.uint8),
              check_contrast=False)
    write_image(gray / "colour.png", 12, 16, 1)
    result = CliRunner().invoke(cli, ["translate", str(trained), str(gray), "--out", str(tmp_path / "out"),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    notices = [line for line in result.output.splitlines() if "grayscale" in line]
    assert notices == [f"warning: 1 of 2 input image(s) (e.g. {gray / 'scan.png'}) are grayscale but the model is "
                       "RGB: each is translated as gray RGB (its channel repeated), and its output is RGB"]
    assert io.imread(tmp_path / "out" / "scan.png").shape == (12, 16, 3)
    quiet = CliRunner().invoke(cli, ["translate", str(trained), str(gray / "colour.png"), "--out",
                                     str(tmp_path / "out2"), "--device", "cpu"])
    assert quiet.exit_code == 0 and "warning" not in quiet.output
    logo = np.zeros((12, 16, 4), np.uint8)
    logo[..., 3] = 255 * (np.arange(16) < 8)  # the right half transparent
    io.imsave(tmp_path / "logo.png", logo, check_contrast=False)
    result = CliRunner().invoke(cli, ["translate", str(trained), str(tmp_path / "logo.png"), "--out",
                                      str(tmp_path / "out3"), "--device", "cpu"])
    assert result.exit_code == 0 and [line for line in result.output.splitlines() if "warning" in line] == [
        f"warning: 1 of 1 input image(s) (e.g. {tmp_path / 'logo.png'}) have an alpha channel: it is dropped, so "
        "transparent pixels show the colour stored under them (often black) and the outputs are opaque; flatten "
        "them onto a background first if that matters"]


def test_translate_refuses_other_tasks(tmp_path):
    run = Trainer(RunConfig(width=8, nz=16, batch_size=8, steps=1, n_samples=4, progress=False, device="cpu",
                            data_options={"n": 16}, out=str(tmp_path / "gen"))).fit()
    write_image(tmp_path / "x.png", 8, 8, 0)
    result = CliRunner().invoke(cli, ["translate", str(run), str(tmp_path / "x.png"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "use `ganzoo sample` for it, not translate" in result.output
