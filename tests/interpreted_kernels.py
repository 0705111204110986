"""The Triton kernels on the CPU, through the Triton interpreter.

Not collected on its own: ``TRITON_INTERPRET=1`` must be set before the kernels
are defined, so tests/test_fast.py runs this file in a fresh interpreter with
it set. Here the ops are opaque ``custom_op``s (see ganzoo/kernels/bias_act_triton.py);
on CUDA they are ``triton_op``s, checked by the CUDA tests in test_fast.py.
"""

from __future__ import annotations

import functools
import json
import os
import re

import pytest
import torch
from torch.library import opcheck

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("run through tests/test_fast.py (needs TRITON_INTERPRET=1 at import)", allow_module_level=True)
pytest.importorskip("triton")

from ganzoo.engine.config import RunConfig  # noqa: E402
from ganzoo.engine.trainer import Trainer  # noqa: E402
from ganzoo.kernels import bias_act_ref  # noqa: E402
from ganzoo.kernels.bias_act_triton import bias_act  # noqa: E402

CASES = [(0.2, 1.0, "nchw", True), (0.0, 1.0, "channels_last", True), (0.2, 2 ** 0.5, "nchw", False),
         (0.1, 0.5, "channels_last", False)]


def make(layout: str, bias: bool, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.randn(2, 3, 5, 4, dtype=dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    b = torch.randn(3, dtype=dtype if dtype == torch.float64 else torch.float32) if bias else None
    return x.requires_grad_(), (b.requires_grad_() if b is not None else None)


@pytest.mark.parametrize("alpha,gain,layout,bias", CASES[::3])
def test_opcheck(alpha, gain, layout, bias):
    x, b = make(layout, bias, torch.float32)
    opcheck(torch.ops.ganzoo.bias_act.default, (x, b, alpha, gain))
    y = bias_act(x, b, alpha, gain).detach()
    opcheck(torch.ops.ganzoo.bias_act_grad.default, (torch.randn_like(y), y, alpha, gain))


@pytest.mark.parametrize("alpha,gain,layout,bias", CASES)
def test_values_and_two_orders_of_gradients_match_the_reference(alpha, gain, layout, bias):
    """float64: output, first and second derivatives (the WGAN-GP path) equal PyTorch's own."""
    x, b = make(layout, bias)
    inputs = [x] if b is None else [x, b]
    results = []
    for fn in (bias_act, bias_act_ref):
        y = fn(x, b, alpha, gain)
        grads = torch.autograd.grad((y * y.detach().sin()).sum(), inputs, create_graph=True)
        second = torch.autograd.grad(sum((g * g).sum() for g in grads), inputs)
        results.append((y, *grads, *second))
    for fused, ref in zip(*results):
        torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    assert results[0][0].is_contiguous(memory_format=torch.channels_last) == (layout == "channels_last")


@pytest.mark.parametrize("alpha,gain,layout,bias", CASES[:2])
def test_gradcheck_and_gradgradcheck(alpha, gain, layout, bias):
    x, b = make(layout, bias)
    fn = functools.partial(lambda x, b: bias_act(x, b, alpha, gain))
    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_keeps_dtype_and_matches_float32(dtype):
    x, b = make("nchw", True, dtype)
    y = bias_act(x, b, 0.2, 1.0)
    assert y.dtype == dtype
    torch.testing.assert_close(y.float(), bias_act_ref(x.float(), b, 0.2), rtol=1e-2, atol=1e-2)


def test_compiled_step_with_the_fused_op_matches_eager_reference(tmp_path, monkeypatch):
    """resnet-sn + WGAN-GP: compiled G/D with the op (penalty through it eagerly) == eager PyTorch."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    logs, weights = [], []
    for kernels, compile in (("ref", False), ("triton", True)):
        cfg = RunConfig(arch="resnet-sn", loss="wgan-gp", n_critic=1, batch_size=4, width=4, nz=8, steps=2,
                        device="cpu", kernels=kernels, compile=compile, progress=False, data_options={"n": 16},
                        out=str(tmp_path / kernels))
        trainer = Trainer(cfg)
        assert trainer.kernels == kernels
        batches = trainer.batch_stream()
        torch.manual_seed(1)  # the penalty's interpolation weights
        logs.append([{k: v.item() for k, v in trainer.train_step(batches).items()} for _ in range(2)])
        weights.append({k: v.clone() for k, v in trainer.state_tensors()[0].items() if k.startswith(("G.", "D."))})
    print(json.dumps(logs))
    for a, b in zip(*logs):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    for key in weights[0]:
        # G's block conv biases only shift channels that a later BatchNorm re-centres: their gradient is
        # zero up to rounding, which Adam's first steps turn into +-lr moves. They can only be held to that.
        atol = 2 * 2e-4 * 2 if re.fullmatch(r"G\.blocks\.\d+\.(conv1|conv2|shortcut)\.bias", key) else 1e-5
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=1e-4, atol=atol, msg=key)
