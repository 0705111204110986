"""Augmentations, regularisers and packing: what acts on the D step, with hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.api import GanzooError, IncompatibleError
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.trainer import Trainer, assemble
from conftest import assert_same_weights, tiny_run

AUGMENTS = ["diffaugment", "ada"]


tiny = tiny_run(arch="dcgan", width=8, nz=8, batch_size=8, steps=4, data_options={"n": 64}, device="cpu")


@pytest.mark.parametrize("name", AUGMENTS)
@pytest.mark.parametrize("channels", [1, 3])
def test_augmentations_keep_shapes_are_differentiable_and_one_op_for_real_and_fake(name, channels):
    augment = ganzoo.get("augments", name)(**({"p_init": 1.0} if name == "ada" else {}))
    x = (torch.rand(6, channels, 16, 16) * 2 - 1).requires_grad_(True)
    out = augment(x, torch.Generator().manual_seed(3))
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not torch.equal(out.detach(), x.detach()), "it changed the images"
    # The same op on any batch: a function of the images and the generator's state only.
    again = augment(x.detach(), torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, out.detach())


def test_saturation_is_the_identity_on_one_channel():
    from ganzoo_plugins.augments.ops import color

    gray = torch.rand(4, 1, 8, 8) * 2 - 1
    # Brightness then contrast only: x -> ((x + b) - m) * c + m with m the image mean after brightness.
    out = color(gray, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    b = torch.rand(4, 1, 1, 1, generator=g) - 0.5
    torch.rand(4, 1, 1, 1, generator=g)  # saturation's draw
    c = torch.rand(4, 1, 1, 1, generator=g) + 0.5
    shifted = gray + b
    mean = shifted.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(out, (shifted - mean) * c + mean)


def test_unknown_augmentation_or_policy_is_one_line(tmp_path):
    with pytest.raises(GanzooError, match="unknown augmentation 'diffaugmnet'. Did you mean: diffaugment"):
        assemble(tiny(tmp_path, augment="diffaugmnet"))
    with pytest.raises(GanzooError, match="policy=colour: diffaugment knows color, translation, cutout"):
        assemble(tiny(tmp_path, augment="diffaugment", augment_options={"policy": "colour"}))
    with pytest.raises(GanzooError, match="unknown regulariser 'r3'. Did you mean: r2, r1"):
        assemble(tiny(tmp_path, reg="r3"))
    with pytest.raises(GanzooError, match="--reg-opt lecam.weight=1: write NAME.KEY=VALUE with NAME one of --reg"):
        assemble(tiny(tmp_path, reg="r1", reg_options={"lecam.weight": 1}))


def test_ada_p_rises_while_d_overfits_and_falls_otherwise():
    ada = ganzoo.get("augments", "ada")(interval=2, speed=80.0, p_init=0.5)
    for _ in range(4):  # a D that separates perfectly: every real logit positive, r_t = 1 > 0.6
        ada.observe(torch.full((8,), 3.0))
    assert ada.p.item() == pytest.approx(0.5 + 2 * 16 / 80)
    assert ada.rt.item() == 1.0
    for _ in range(2):  # r_t = -1: no overfitting, p falls
        ada.observe(torch.full((8,), -3.0))
    assert ada.p.item() == pytest.approx(0.5 + 16 / 80)
    for _ in range(20):
        ada.observe(torch.full((8,), -3.0))
    assert ada.p.item() == 0.0, "p stays within [0, 1]"


def test_ada_resumes_exactly(tmp_path, resume_pair):
    common = dict(augment="ada", augment_options={"speed": 64.0, "interval": 1, "p_init": 0.5})
    straight, resumed, _, _ = resume_pair(lambda out, steps: tiny(tmp_path, out=out, steps=steps, **common), 4)
    a, _ = load_checkpoint(straight)
    assert "augment.p" in a and a["augment.p"].item() != 0.5, "p moved and was saved"
    assert_same_weights(straight, resumed, ("G.", "D.", "augment."), exact=True)


class Linear(nn.Module):
    """D(x) = w . x + 1: its input gradient is w for every image."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-1, 1, pixels))

    def forward(self, x):
        return x.flatten(1) @ self.w + 1


def test_r1_and_r2_match_hand_computation():
    D, real, fake = Linear(12), torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    expected = 10.0 / 2 * D.w.detach().square().sum().item()
    r1 = ganzoo.get("regularizers", "r1")()(D, real, fake, D(real), D(fake))
    r2 = ganzoo.get("regularizers", "r2")(gamma=4.0)(D, real, fake, D(real), D(fake))
    assert r1.item() == pytest.approx(expected) and r2.item() == pytest.approx(expected * 4 / 10)
    r1.backward()  # double backward: the penalty trains D
    torch.testing.assert_close(D.w.grad, 10.0 * D.w.detach())


def test_lecam_matches_hand_computation():
    lecam = ganzoo.get("regularizers", "lecam")(weight=0.5, decay=0.9)
    real_logits, fake_logits = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    term = lecam(None, None, None, real_logits, fake_logits)
    ema_real, ema_fake = 0.1 * 2.0, 0.1 * -1.0  # running means start at 0
    expected = ((1 - ema_fake) ** 2 + (3 - ema_fake) ** 2) / 2 + ((ema_real + 2) ** 2 + max(ema_real, 0) ** 2) / 2
    assert term.item() == pytest.approx(0.5 * expected)
    assert lecam.ema_real.item() == pytest.approx(0.2) and lecam.ema_fake.item() == pytest.approx(-0.1)


def test_bcr_matches_hand_computation_for_a_translation_invariant_d():
    D = lambda x: x.flatten(1).sum(1)  # noqa: E731 - sum of pixels: unchanged by flips and by shifts inside
    real, fake = torch.zeros(3, 1, 16, 16), torch.zeros(3, 1, 16, 16)
    real[:, :, 6:10, 6:10], fake[:, :, 7:9, 7:9] = 1.0, -1.0  # content away from the border: shifts keep it
    bcr = ganzoo.get("regularizers", "bcr")(weight_real=10.0, weight_fake=5.0)
    # The loss saw logits 1 above D's (say): bCR pulls D(T(x)) to them with weights 10 and 5.
    term = bcr(D, real, fake, D(real) + 1, D(fake) + 1)
    assert term.item() == pytest.approx(10.0 * 1 + 5.0 * 1)


def test_regularisers_work_with_any_loss_and_resume_exactly(tmp_path, resume_pair):
    common = dict(loss="hinge", reg="r1,lecam", reg_options={"r1.interval": 2, "lecam.weight": 0.1})
    straight, resumed, _, _ = resume_pair(lambda out, steps: tiny(tmp_path, out=out, steps=steps, **common), 4)
    a, _ = load_checkpoint(straight)
    assert a["reg.lecam.ema_real"].item() != 0
    assert_same_weights(straight, resumed, ("G.", "D.", "reg."), exact=True)


def test_packing_stacks_samples_into_d_channels(tmp_path):
    trainer = Trainer(tiny(tmp_path, arch="pacgan-table3", dataset="stacked-mnist", data_options={"n": 64},
                           image_size=28, pack=4, batch_size=8, nz=256))
    D = trainer.eager["D"]
    assert D.body[0].in_channels == 12, "4 samples x 3 channels"
    seen = []
    D.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    logs = trainer.train_step(trainer.batch_stream())
    assert seen[0] == (2, 12, 28, 28), "batch 8 judged as 2 packs of 4"
    assert math.isfinite(logs["d_loss"].item())


@pytest.mark.parametrize("stem", ["none", "all"])
def test_dcgan_d_takes_packed_samples(tmp_path, stem):
    trainer = Trainer(tiny(tmp_path, pack=2, arch_options={"d_stem": stem}))
    seen = []
    trainer.eager["D"].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    trainer.train_step(trainer.batch_stream())
    assert seen[0] == (4, 6, 32, 32), "batch 8 of RGB shapes judged as 4 pairs"


def test_packing_refuses_a_d_that_cannot_take_it(tmp_path):
    with pytest.raises(IncompatibleError, match=r"--pack 2: architecture 'mlp' cannot take packed samples \(its D's "
                                                r"input channels cannot be set.*architectures that can: dcgan, "
                                                r".*pacgan-table3"):
        assemble(tiny(tmp_path, arch="mlp", pack=2))
    with pytest.raises(GanzooError, match="--pack 3: --batch-size 8 is not a multiple of it"):
        assemble(tiny(tmp_path, arch="pacgan-table3", dataset="stacked-mnist", image_size=28, pack=3))
    from ganzoo.engine.trainer import _d_step_plugins

    labelled = ganzoo.Architecture(nn.Identity, nn.Identity, "D takes labels and channels",
                                   discriminator_input=("image", "label", "channels"))
    with pytest.raises(IncompatibleError, match="task 'conditional' shows D a label per image"):
        _d_step_plugins(tiny(tmp_path, task="conditional", pack=2), labelled, ganzoo.get("tasks", "conditional"))


@pytest.mark.parametrize("pack", [1, 2])
def test_a_joint_d_batch_lets_batch_norm_see_what_sets_a_fake_batch_apart(pack, tmp_path):
    """Fakes at half the reals' contrast: D's batch norm scales each split pass back to the same logits, so D (and
    so G) cannot see it; one joint pass normalises both with one mean and spread, and D tells them apart."""
    logits = {}
    for mode in ("split", "joint"):
        trainer = Trainer(tiny(tmp_path, arch="pacgan-table3", dataset="stacked-mnist", image_size=28, nz=256,
                               pack=pack, d_batch=mode, out=str(tmp_path / mode)))
        real = next(trainer.batch_stream())["image"]
        judge = ganzoo.Judge("D", real, real / 2)
        logits[mode] = trainer.adversarial.judge_both(trainer.eager["D"], judge, real, real / 2, None)
        assert [len(half) for half in logits[mode]] == [8 // pack] * 2
    torch.testing.assert_close(logits["split"][0], logits["split"][1], rtol=1e-3, atol=1e-3)
    assert (logits["joint"][0] - logits["joint"][1]).abs().min() > 1e-2


def test_a_joint_d_batch_resumes_exactly_and_takes_labels_and_condition_channels(tmp_path, resume_pair):
    straight, resumed, _, _ = resume_pair(lambda out, steps: tiny(tmp_path, out=out, steps=steps, d_batch="joint"), 4)
    assert_same_weights(straight, resumed, ("G.", "D."), exact=True)
    for task, arch in (("conditional", "dcgan"), ("inpainting", "unet")):  # D(x, label); a mask stacked on x
        trainer = Trainer(tiny(tmp_path, task=task, arch=arch, d_batch="joint", out=str(tmp_path / task)))
        seen = []
        trainer.eager["D"].register_forward_pre_hook(lambda module, args: seen.append([a.shape[0] for a in args]))
        logs = trainer.train_step(trainer.batch_stream())
        assert seen[0] == [16] * len(seen[0]) and math.isfinite(logs["d_loss"].item()), task
    with pytest.raises(GanzooError, match="^--reg bcr compares D's output on changed images, judged one batch at a "
                                          "time, with the loss's logits, which --d-batch joint takes from real and "
                                          "fake together; use --d-batch split with it$"):
        assemble(tiny(tmp_path, d_batch="joint", reg="bcr"))


def test_pacgan_table3_builds_the_papers_networks():
    arch = ganzoo.get("archs", "pacgan-table3")
    cfg = ganzoo.NetConfig(28, 3, nz=256)
    G, D = arch.generator(cfg), arch.discriminator(cfg)
    shapes = []
    for layer in G.body:
        if isinstance(layer, nn.BatchNorm2d):
            shapes.append(layer.num_features)
    assert shapes == [32, 16, 8] and G.project[0].out_features == 4 * 4 * 64
    z = torch.randn(2, 256)
    sizes, x = [], G.project(z)
    for layer in G.body:
        x = layer(x)
        if isinstance(layer, nn.ConvTranspose2d):
            sizes.append(tuple(x.shape[1:]))
    assert sizes == [(32, 7, 7), (16, 14, 14), (8, 28, 28)] and x.shape == (2, 3, 28, 28)
    convs = [m for m in D.body if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(2, (3, 3), (2, 2)), (4, (3, 3), (2, 2)),
                                                                         (8, (3, 3), (2, 2))]
    assert [m.negative_slope for m in D.body if isinstance(m, nn.LeakyReLU)] == [0.3] * 3
    assert D(x).shape == (2,)
