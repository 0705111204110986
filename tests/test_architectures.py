"""Built-in noise-to-image architectures: shapes, ranges, conditioning, declared limits, init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.api import IncompatibleError, NetConfig
from ganzoo.registry import BUILTIN_DIST

OURS = {"dcgan", "dcgan-keras", "dcgan-tf", "mlp", "resnet-sn"}
GENERATIVE = [e for e in ganzoo.list("archs") if e.distribution == BUILTIN_DIST and "noise" in e.obj.generator_input]


def _sizes(arch: ganzoo.Architecture) -> tuple[int, ...]:
    """Declared sizes, or a small legal one (and the smallest) for 'any size' architectures."""
    if arch.image_sizes is not None:
        return arch.image_sizes
    step = arch.size_multiple
    return (math.ceil(arch.min_size / step) * step, math.ceil(12 / step) * step)


CASES = [
    pytest.param(e.name, size, ch, id=f"{e.name}-{size}px-{ch}ch")
    for e in GENERATIVE
    for size in _sizes(e.obj)
    for ch in (e.obj.channels or (1, 3))
]


def _build(name: str, size: int, channels: int, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    arch = ganzoo.get("archs", name)
    cfg = NetConfig(image_size=size, channels=channels, nz=16, width=8, num_classes=num_classes)
    return arch.generator(cfg), arch.discriminator(cfg)


def test_all_builtin_generative_architectures_are_registered() -> None:
    assert OURS <= {e.name for e in GENERATIVE}


@pytest.mark.parametrize("name,size,channels", CASES)
def test_shapes_range_and_gradients(name: str, size: int, channels: int) -> None:
    torch.manual_seed(0)
    G, D = _build(name, size, channels)
    fake = G(torch.randn(2, 16))
    assert fake.shape == (2, channels, size, size)
    assert fake.min() >= -1 and fake.max() <= 1
    logits = D(fake)
    assert logits.shape == (2,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters())


@pytest.mark.parametrize("name", [e.name for e in GENERATIVE if "label" in e.obj.generator_input])
def test_conditional_nets_use_labels(name: str) -> None:
    torch.manual_seed(0)
    arch = ganzoo.get("archs", name)
    assert "label" in arch.discriminator_input
    size = (arch.image_sizes or (16,))[0]
    G, D = _build(name, size, 3, num_classes=4)
    G.eval()
    D.eval()
    z, x = torch.randn(2, 16).repeat(2, 1), torch.rand(2, 3, size, size).repeat(2, 1, 1, 1) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    fake, logits = G(z, y), D(x, y)
    assert fake.shape == (4, 3, size, size) and logits.shape == (4,)
    assert not torch.allclose(fake[:2], fake[2:]), "G ignores the label"
    assert not torch.allclose(logits[:2], logits[2:]), "D ignores the label"
    with pytest.raises(ValueError, match="labels"):
        G(z)


def test_unconditional_net_refuses_labels() -> None:
    G, _ = _build("dcgan", 32, 3)
    with pytest.raises(ValueError, match="unconditional"):
        G(torch.randn(2, 16), torch.tensor([0, 1]))


def test_discriminators_return_logits_not_probabilities() -> None:
    for e in GENERATIVE:
        _, D = _build(e.name, _sizes(e.obj)[0], 1)
        assert not any(isinstance(m, nn.Sigmoid) for m in D.modules()), e.name


def test_check_refuses_keras_at_64px() -> None:
    arch = ganzoo.get("archs", "dcgan-keras")
    arch.check("dcgan-keras", 28, 1)
    with pytest.raises(IncompatibleError, match="28") as err:
        arch.check("dcgan-keras", 64, 1)
    assert "dcgan-keras" in str(err.value)
    assert arch.lacks(ganzoo.get("tasks", "conditional")) == ["G input 'label'", "D input 'label'"]


def test_check_refuses_mlp_below_min_size() -> None:
    with pytest.raises(IncompatibleError, match="at least 4"):
        ganzoo.get("archs", "mlp").check("mlp", 2, 1)


def test_dcgan_init_statistics() -> None:
    torch.manual_seed(0)
    for net in _build("dcgan", 64, 3):
        conv_layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        convs = torch.cat([m.weight.flatten() for m in conv_layers])
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        gamma = torch.cat([m.weight.flatten() for m in bns])
        assert abs(convs.mean().item()) < 1e-3 and convs.std().item() == pytest.approx(0.02, rel=0.05)
        assert gamma.mean().item() == pytest.approx(1.0, abs=0.01)
        assert gamma.std().item() == pytest.approx(0.02, rel=0.3)
        assert all((m.bias == 0).all() for m in bns)
        assert all(m.bias is None for m in conv_layers)


def test_dcgan_32px_follows_seed_001_widths() -> None:
    G, D = _build("dcgan", 32, 3)
    convt = [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert convt == [32, 16, 8, 3]  # 4ngf, 2ngf, ngf at ngf=8
    assert isinstance(D.features[1], nn.LeakyReLU)  # no BN on D's first layer


def test_keras_batchnorm_mirrors_keras_momentum() -> None:
    G, D = _build("dcgan-keras", 28, 1)
    bns = [m for net in (G, D) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.momentum == pytest.approx(0.2) and m.eps == pytest.approx(1e-3) for m in bns)
    assert sum(isinstance(m, nn.Dropout) for m in D.modules()) == 4


def test_resnet_sn_discriminator_is_spectrally_normalised() -> None:
    _, D = _build("resnet-sn", 32, 3)
    weighted = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)


@pytest.mark.parametrize("norm,batch_norms,spectral", [("batch", 2, 0), ("spectral", 0, 4), ("none", 0, 0)])
def test_dcgan_d_norm_swaps_batch_norm(norm: str, batch_norms: int, spectral: int) -> None:
    arch = ganzoo.get("archs", "dcgan")
    D = arch.discriminator(NetConfig(image_size=32, channels=3, width=8, options={"d_norm": norm}))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == batch_norms
    assert sum(parametrize.is_parametrized(m, "weight") for m in D.modules()) == spectral
    assert D(torch.randn(4, 3, 32, 32)).shape == (4,)


def _convs_seen(net: nn.Module, x: torch.Tensor) -> list[tuple[int, int, int]]:
    """(kernel, stride, output side) of every conv the input goes through, in order."""
    seen: list[tuple[int, int, int]] = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m.kernel_size[0], m.stride[0], o.shape[-1])))
             for m in net.modules() if isinstance(m, nn.Conv2d)]
    net(x)
    for hook in hooks:
        hook.remove()
    return seen


@pytest.mark.parametrize("stem,expected", [
    ("none", [(4, 2, 16), (4, 2, 8), (4, 2, 4), (4, 1, 1)]),
    ("first", [(3, 1, 32), (4, 2, 16), (4, 2, 8), (4, 2, 4), (4, 1, 1)]),
    ("all", [(3, 1, 32), (4, 2, 16), (3, 1, 16), (4, 2, 8), (3, 1, 8), (4, 2, 4), (4, 1, 1)]),
])
def test_dcgan_d_stem_adds_full_resolution_convs(stem: str, expected: list) -> None:
    D = ganzoo.get("archs", "dcgan").discriminator(NetConfig(image_size=32, channels=3, width=8,
                                                             options={"d_stem": stem}))
    assert _convs_seen(D, torch.randn(2, 3, 32, 32)) == expected


def test_dcgan_d_down_max_pools_after_full_resolution_convs() -> None:
    D = ganzoo.get("archs", "dcgan").discriminator(NetConfig(image_size=32, channels=3, width=8,
                                                             options={"d_down": "max"}))
    assert _convs_seen(D, torch.randn(2, 3, 32, 32)) == [(3, 1, 32), (3, 1, 16), (3, 1, 8), (4, 1, 1)]
    assert sum(isinstance(m, nn.MaxPool2d) for m in D.modules()) == 3


def test_dcgan_g_up_nearest_upsamples_without_transposed_convs() -> None:
    G = ganzoo.get("archs", "dcgan").generator(NetConfig(image_size=32, channels=3, width=8, nz=16,
                                                         options={"g_up": "nearest"}))
    transposed = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(transposed) == 1 and transposed[0].stride == (1, 1)  # only z (1x1) -> 4x4
    assert sum(isinstance(m, nn.Upsample) for m in G.modules()) == 3
    assert G(torch.randn(2, 16)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("key,value,known", [("d_norm", "layer", "batch, spectral, none"),
                                             ("d_stem", "every", "none, first, all"),
                                             ("d_down", "avg", "conv, max"),
                                             ("g_up", "bilinear", "transposed, nearest")])
def test_dcgan_refuses_an_unknown_option_value(key: str, value: str, known: str) -> None:
    arch = ganzoo.get("archs", "dcgan")
    config = NetConfig(image_size=32, channels=3, options={key: value})
    with pytest.raises(ganzoo.api.GanzooError, match=f"--arch-opt {key}={value}: dcgan knows {known}"):
        (arch.generator if key == "g_up" else arch.discriminator)(config)


def _up(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.interpolate(x, scale_factor=2, mode="nearest")


def _paper_generator(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """resnet-sn's G in the reference code's order: upsample, then the 3x3 conv; shortcut 1x1 on the upsampled x."""
    h = G.linear(z).view(-1, G.ch, 4, 4)
    for b in G.blocks:
        r = b.conv2(nn.functional.relu(b.bn2(b.conv1(_up(nn.functional.relu(b.bn1(h)))))))
        h = r + b.shortcut(_up(h))
    return G.out(h)


def _paper_discriminator(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """resnet-sn's D in the reference code's order: shortcut 1x1 conv, then the average pooling."""
    h = D.blocks[0](x)
    for b in D.blocks[1:]:
        r = b.conv2(nn.functional.relu(b.conv1(nn.functional.relu(h))))
        s = h if b.shortcut is None else b.shortcut(h)
        h = (nn.functional.avg_pool2d(r, 2) + nn.functional.avg_pool2d(s, 2)) if b.down else r + s
    return D.linear(nn.functional.relu(h).sum(dim=(2, 3))).flatten()


@pytest.mark.parametrize("size,memory", [(32, torch.contiguous_format), (64, torch.channels_last)])
def test_resnet_sn_computes_the_papers_function_in_a_cheaper_order(size: int, memory: torch.memory_format) -> None:
    """In float64, so that the only differences left are the summation order's (float32: about 1e-6)."""
    torch.manual_seed(0)
    G, D = (net.to(torch.float64, memory_format=memory) for net in _build("resnet-sn", size, 3))
    D.eval()  # spectral norm's power iteration would move between the two calls otherwise
    z = torch.randn(2, 16, dtype=torch.float64)
    fake, reference = G(z), _paper_generator(G, z)
    torch.testing.assert_close(fake, reference, rtol=1e-10, atol=1e-10)
    grads = torch.autograd.grad(fake.square().sum(), list(G.parameters()))
    expected = torch.autograd.grad(reference.square().sum(), list(G.parameters()))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-8)
    x = (torch.rand(2, 3, size, size, dtype=torch.float64) * 2 - 1).contiguous(memory_format=memory)
    torch.testing.assert_close(D(x), _paper_discriminator(D, x), rtol=1e-10, atol=1e-10)


def test_resnet_sn_generator_flops_count_the_cheaper_order() -> None:
    """Per sample at width 8 (32 channels), 32 px: each up block's nearest x2 + 3x3 conv is one stride-2
    transposed conv with 4x4 taps per input pixel, the 1x1 shortcut runs before the upsampling. The paper's
    order would do 9 * 32 * 32 * (2h)^2 and 32 * 32 * (2h)^2 multiply-adds there: 27.0M per sample in all
    against 19.1M here."""
    from torch.utils.flop_counter import FlopCounterMode

    G, _ = _build("resnet-sn", 32, 3)
    with FlopCounterMode(display=False) as counter:
        G(torch.randn(2, 16))
    macs = 16 * 32 * 16  # linear to 4x4x32
    for h in (4, 8, 16):
        macs += 32 * 32 * 16 * h * h  # the transposed conv: 4x4 taps per input pixel
        macs += 32 * 32 * 9 * (2 * h) ** 2  # second 3x3 conv, at 2h
        macs += 32 * 32 * h * h  # shortcut
    macs += 3 * 32 * 9 * 32 * 32  # output conv
    counts = counter.get_flop_counts()["Global"]  # besides: building the 4x4 kernels, once per batch (aten.bmm)
    assert counts[torch.ops.aten.convolution] + counts[torch.ops.aten.addmm] == 2 * 2 * macs
