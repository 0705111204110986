"""Fused bias + leaky-ReLU + gain, ``act(x + b) * gain``, as a Triton-backed ``torch.library`` op.

Why: in a conv -> bias -> (leaky) ReLU chain eager PyTorch launches the conv,
a bias add and the activation separately, forward and backward; the fused op
does the bias, activation and gain in one pass each way. The backward is its
own op (``ganzoo::bias_act_grad``) whose derivative is itself, so double
backward works and gradient penalties (WGAN-GP, R1) run through the fused
kernels too: the activation's slope is read off the sign of the saved output,
exactly as ``leaky_relu_backward`` reads it off the input when ``gain > 0`` and
``alpha >= 0``.

The ops are defined with :func:`torch.library.triton_op`, so ``torch.compile``
traces into them. They run wherever Triton does: CUDA, or the CPU under
``TRITON_INTERPRET=1`` (set before this module is imported; tests only).
:func:`ganzoo.kernels.bias_act_ref` is the pure-PyTorch reference they are tested against.
Importing this module needs Triton; :mod:`ganzoo.kernels` imports it only when
``--kernels triton`` is in use.
"""

from __future__ import annotations

import os
from typing import Callable

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch._library.custom_ops import CustomOpDef
from torch.library import custom_op, triton_op, wrap_triton

BLOCK = 1024
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def _bias_act_fwd_kernel(x_ptr, b_ptr, y_ptr, n, channels, inner, alpha, gain,
                         HAS_BIAS: tl.constexpr, FP64: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    x = x.to(tl.float64) if FP64 else x.to(tl.float32)
    if HAS_BIAS:
        b = tl.load(b_ptr + (offs // inner) % channels, mask=mask)
        x += b.to(tl.float64) if FP64 else b.to(tl.float32)
    y = tl.where(x > 0, x, x * alpha) * gain
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _bias_act_grad_kernel(dy_ptr, y_ptr, dx_ptr, n, alpha, gain, FP64: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    dy = tl.load(dy_ptr + offs, mask=mask)
    dy = dy.to(tl.float64) if FP64 else dy.to(tl.float32)
    y = tl.load(y_ptr + offs, mask=mask)
    dx = tl.where(y > 0, dy, dy * alpha) * gain
    tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)


def _layout(x: Tensor) -> tuple[Tensor, torch.memory_format, int]:
    """A dense copy-free view when possible: (tensor, its memory format, elements per channel run)."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return x, torch.channels_last, 1
    x = x.contiguous()
    inner = 1
    for size in x.shape[2:]:
        inner *= size
    return x, torch.contiguous_format, inner


def _grid(n: int) -> tuple[int]:
    return (triton.cdiv(n, BLOCK),)


def _define(name: str, fake: Callable[..., Tensor]) -> Callable[[Callable[..., Tensor]], CustomOpDef]:
    """``triton_op`` (Inductor sees and schedules the kernels); under the Triton interpreter an opaque
    ``custom_op`` with a shape-only fake instead, since interpreted kernels cannot run on fake tensors."""

    def define(fn: Callable[..., Tensor]) -> CustomOpDef:
        if not INTERPRETED:
            return triton_op(name, fn, mutates_args=())
        op = custom_op(name, fn, mutates_args=())
        op.register_fake(fake)
        return op

    return define


def _bias_act_fake(x: Tensor, b: Tensor | None, alpha: float, gain: float) -> Tensor:
    x, memory, _ = _layout(x)
    return torch.empty_like(x, memory_format=memory)


def _bias_act_grad_fake(dy: Tensor, y: Tensor, alpha: float, gain: float) -> Tensor:
    _, memory, _ = _layout(y)
    return torch.empty_like(dy, memory_format=memory)


@_define("ganzoo::bias_act", _bias_act_fake)
def bias_act(x: Tensor, b: Tensor | None, alpha: float, gain: float) -> Tensor:
    """Fused ``leaky_relu(x + b[channel], alpha) * gain``; x is (N, C, ...), b is (C,) or None."""
    x, memory, inner = _layout(x)
    y = torch.empty_like(x, memory_format=memory)
    n = x.numel()
    bias = b if b is not None else x  # any pointer; unused when HAS_BIAS is False
    wrap_triton(_bias_act_fwd_kernel)[_grid(n)](
        x, bias, y, n, x.shape[1] if x.dim() > 1 else 1, inner, alpha, gain,
        HAS_BIAS=b is not None, FP64=x.dtype == torch.float64, BLOCK=BLOCK,
    )
    return y


@_define("ganzoo::bias_act_grad", _bias_act_grad_fake)
def bias_act_grad(dy: Tensor, y: Tensor, alpha: float, gain: float) -> Tensor:
    """``dy * gain * (1 if y > 0 else alpha)``: the input gradient of :func:`bias_act` given its output y."""
    y, memory, _ = _layout(y)
    dy = dy.contiguous(memory_format=memory)
    dx = torch.empty_like(dy, memory_format=memory)
    n = dy.numel()
    wrap_triton(_bias_act_grad_kernel)[_grid(n)](dy, y, dx, n, alpha, gain, FP64=dy.dtype == torch.float64,
                                                 BLOCK=BLOCK)
    return dx


def _setup(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    x, b, alpha, gain = inputs
    ctx.save_for_backward(output)
    ctx.alpha, ctx.gain, ctx.has_bias, ctx.dim = alpha, gain, b is not None, x.dim()
    ctx.bias_dtype = b.dtype if b is not None else None


def _backward(ctx, dy: Tensor):  # type: ignore[no-untyped-def]
    (y,) = ctx.saved_tensors
    dx = bias_act_grad(dy, y, ctx.alpha, ctx.gain)
    db = None
    if ctx.has_bias and ctx.needs_input_grad[1]:
        dims = [0, *range(2, ctx.dim)]
        db = dx.sum(dim=dims, dtype=torch.promote_types(dx.dtype, torch.float32)).to(ctx.bias_dtype)
    return dx, db, None, None


def _setup_grad(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    _, y, alpha, gain = inputs
    ctx.save_for_backward(y)
    ctx.alpha, ctx.gain = alpha, gain


def _backward_grad(ctx, ddx: Tensor):  # type: ignore[no-untyped-def]
    # Linear in dy with a piecewise-constant slope: its derivative is itself; none w.r.t. y.
    (y,) = ctx.saved_tensors
    return bias_act_grad(ddx, y, ctx.alpha, ctx.gain), None, None, None


bias_act.register_autograd(_backward, setup_context=_setup)
bias_act_grad.register_autograd(_backward_grad, setup_context=_setup_grad)
