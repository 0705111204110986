"""Built-in adversarial losses: known values, gradients, options and output shapes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ganzoo

LOSSES = ["bce", "hinge", "lsgan", "wgan", "wgan-gp"]


def loss(name: str, **options: object) -> ganzoo.Loss:
    return ganzoo.get("losses", name)(**options)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("shape", [(4,), (4, 1, 3, 3)], ids=["logits", "patch"])
def test_scalar_losses_with_gradients_for_any_logit_shape(name: str, shape: tuple[int, ...]) -> None:
    obj = loss(name)
    real, fake = torch.randn(shape, requires_grad=True), torch.randn(shape, requires_grad=True)
    d, g = obj.d_loss(real, fake), obj.g_loss(fake)
    assert d.dim() == 0 and g.dim() == 0 and d.isfinite() and g.isfinite()
    (d + g).backward()
    assert real.grad is not None and fake.grad is not None
    assert math.isfinite(obj.score(real))
    assert ganzoo.get("losses", name).description


def test_hinge_known_values() -> None:
    h = loss("hinge")
    assert h.d_loss(torch.tensor([2.0]), torch.tensor([-2.0])).item() == 0.0
    assert h.d_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2.0)
    assert h.d_loss(torch.tensor([0.5]), torch.tensor([0.0])).item() == pytest.approx(1.5)
    assert h.g_loss(torch.tensor([-2.0, 4.0])).item() == pytest.approx(-1.0)


def test_bce_known_values() -> None:
    b = loss("bce")
    zeros = torch.zeros(5)
    assert b.d_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert b.g_loss(zeros).item() == pytest.approx(math.log(2))
    assert loss("bce", minimax=True).g_loss(zeros).item() == pytest.approx(-math.log(2))
    big = torch.tensor([100.0])  # Sigmoid + BCELoss would hit log(0) here
    assert b.d_loss(big, -big).item() == pytest.approx(0.0, abs=1e-6)
    assert b.d_loss(-big, big).item() == pytest.approx(200.0)
    assert b.score(zeros) == pytest.approx(0.5)


def test_minimax_generator_gradient_vanishes_where_non_saturating_does_not() -> None:
    grads = {}
    for minimax in (False, True):
        fake = torch.tensor([-8.0], requires_grad=True)  # D confidently rejects G's sample
        loss("bce", minimax=minimax).g_loss(fake).backward()
        grads[minimax] = fake.grad.item()
    assert grads[False] == pytest.approx(-torch.sigmoid(torch.tensor(8.0)).item())
    assert grads[True] == pytest.approx(-torch.sigmoid(torch.tensor(-8.0)).item())
    assert abs(grads[False]) > 1000 * abs(grads[True])


def test_lsgan_known_values_on_patches() -> None:
    ls = loss("lsgan")
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert ls.d_loss(ones, zeros).item() == 0.0
    assert ls.d_loss(zeros, ones).item() == pytest.approx(1.0)
    assert ls.g_loss(ones).item() == 0.0
    assert ls.g_loss(zeros).item() == pytest.approx(0.5)
    assert ls.d_loss(torch.full((3,), 3.0), torch.full((3,), -1.0)).item() == pytest.approx(0.5 * 4 + 0.5 * 1)
    assert ls.score(torch.tensor([0.2, 0.4])) == pytest.approx(0.3)


@pytest.mark.parametrize("name", ["wgan", "wgan-gp"])
def test_wasserstein_values_score_and_defaults(name: str) -> None:
    w = loss(name)
    assert w.n_critic == 5
    assert w.d_loss(torch.tensor([3.0, 5.0]), torch.tensor([-1.0, 1.0])).item() == pytest.approx(-4.0)
    assert w.g_loss(torch.tensor([-1.0, 1.0, 3.0])).item() == pytest.approx(-1.0)
    assert w.score(torch.tensor([3.0, 5.0])) == pytest.approx(4.0)
    assert loss("bce").n_critic == 1 and loss("hinge").n_critic == 1


def test_wgan_gp_penalty_for_a_linear_critic() -> None:
    torch.manual_seed(0)
    weight = torch.zeros(1, 2, 2, 2)
    weight[0, 0, 0, 0], weight[0, 1, 1, 1] = 3.0, 4.0  # ||w|| = 5: gradient of D is w everywhere
    weight = nn.Parameter(weight)

    def critic(x: torch.Tensor) -> torch.Tensor:
        return (x * weight).flatten(1).sum(1)

    real, fake = torch.randn(6, 2, 2, 2), torch.randn(6, 2, 2, 2)
    gp = loss("wgan-gp")
    penalty = gp.penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(10 * (5 - 1) ** 2)
    penalty.backward()  # double backward reaches the critic's parameters
    expected = 10 * 2 * (5 - 1) * weight.detach() / 5
    torch.testing.assert_close(weight.grad, expected)
    assert loss("wgan-gp", gp_weight=1.0).penalty(critic, real, fake).item() == pytest.approx(16.0)


def test_wgan_gp_penalty_keeps_fp32_accuracy_under_fp16_autocast() -> None:
    """The input gradient is not loss-scaled, so in fp16 it would lose precision (or underflow)."""
    torch.manual_seed(0)
    critic = nn.Linear(64, 1)
    with torch.no_grad():
        critic.weight.copy_(nn.functional.normalize(torch.randn(1, 64)) * 1.5)  # penalty 10 * 0.5^2
    real, fake = torch.randn(8, 64), torch.randn(8, 64)
    gp = loss("wgan-gp")
    torch.manual_seed(1)
    full = gp.penalty(critic, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.float16):
        mixed = gp.penalty(critic, real, fake)
    assert full.item() == pytest.approx(2.5, rel=1e-5)
    assert mixed.dtype == torch.float32 and mixed.item() == pytest.approx(full.item(), rel=1e-5)


def test_wgan_gp_penalty_on_conv_patch_critic_and_interpolates_per_sample() -> None:
    torch.manual_seed(0)
    critic = nn.Conv2d(3, 1, 3)
    real, fake = torch.ones(4, 3, 5, 5), -torch.ones(4, 3, 5, 5)
    seen = []
    penalty = loss("wgan-gp").penalty(lambda x: seen.append(x) or critic(x), real, fake)
    assert penalty.dim() == 0 and penalty.item() > 0
    x_hat = seen[0].detach()
    assert torch.allclose(x_hat, x_hat[:, :1, :1, :1].expand_as(x_hat))  # one alpha per sample
    assert x_hat.abs().max() <= 1 and x_hat[:, 0, 0, 0].unique().numel() == 4
    penalty.backward()
    assert critic.weight.grad is not None


def test_wgan_clips_every_critic_parameter() -> None:
    critic = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with torch.no_grad():
        for p in critic.parameters():
            p.uniform_(-1, 1)
    loss("wgan").after_d_step(critic)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    assert max(p.abs().max().item() for p in critic.parameters()) == pytest.approx(0.01)


def test_clip_option_is_honoured() -> None:
    critic = nn.Linear(3, 1)
    nn.init.constant_(critic.weight, 2.0)
    loss("wgan", clip=0.5).after_d_step(critic)
    assert torch.all(critic.weight == 0.5)


def test_unknown_option_or_wrong_kind_of_value_is_refused() -> None:
    with pytest.raises(ganzoo.GanzooError, match="--loss-opt lamda: loss 'wgan-gp' has no such option .*gp_weight=10"):
        loss("wgan-gp", lamda=5)
    with pytest.raises(ganzoo.GanzooError, match="--loss-opt gp_weight=abc: .* expects a number"):
        loss("wgan-gp", gp_weight="abc")
    with pytest.raises(ganzoo.GanzooError, match="n_critic=2.5: .* expects an integer"):
        loss("wgan-gp", n_critic=2.5)
    with pytest.raises(ganzoo.GanzooError, match="minimax=maybe: .* expects true or false"):
        loss("bce", minimax="maybe")
    assert loss("wgan-gp", gp_weight=5).gp_weight == 5.0 and loss("bce", minimax="true").minimax is True
