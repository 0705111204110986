"""The fast engine: fused kernels, torch.compile, mixed precision, channels_last.

CPU tests compile with the ``aot_eager`` backend (Dynamo + AOTAutograd: the
graphs, guards, recompiles and autograd that ``--compile`` relies on) because
Inductor's C++ build takes minutes on a small CPU; the Inductor run is the
``slow`` variant. The CUDA tests run only where a GPU is present.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch._dynamo.utils import counters

from ganzoo.api import GanzooError
from ganzoo.cli import cli
from ganzoo.engine.trainer import Trainer
from ganzoo.kernels import BiasAct, bias_act, resolve_kernels, use_kernels

from conftest import tiny_run

ROOT = Path(__file__).resolve().parent.parent
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
LR = 2e-4


tiny = tiny_run(batch_size=8, width=8, nz=16, steps=4, data_options={"n": 64}, device="cpu")


def run_steps(trainer: Trainer, steps: int, seed: int = 1) -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
    """Train ``steps`` steps; the losses each step and every weight, buffer and EMA tensor after."""
    batches = trainer.batch_stream()
    torch.manual_seed(seed)  # the global RNG: WGAN-GP's interpolation weights
    logs = [{k: v.item() for k, v in trainer.train_step(batches).items()} for _ in range(steps)]
    state = {k: v.detach().float().cpu().clone() for k, v in trainer.state_tensors()[0].items()
             if k.startswith(("G.", "D.", "ema."))}
    return logs, state


def assert_same_training(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    for step_a, step_b in zip(a[0], b[0], strict=True):
        assert step_a == pytest.approx(step_b, rel=rtol, abs=atol)
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        torch.testing.assert_close(a[1][key], b[1][key], rtol=rtol, atol=atol, msg=key)


# ---- kernels ---------------------------------------------------------------------------------------------------


def test_triton_kernels_pass_their_checks_in_the_interpreter():
    """opcheck, gradcheck, gradgradcheck (float64) against the reference, and a compiled step with the op."""
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:logging",
                             str(ROOT / "tests" / "interpreted_kernels.py")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b11 passed\b", result.stdout), result.stdout[-2000:]


def test_kernel_choice_is_explicit_and_never_falls_back(tmp_path, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert resolve_kernels("auto", torch.device("cpu")) == "ref"
    with pytest.raises(GanzooError, match="--kernels triton: .*CUDA"):
        resolve_kernels("triton", torch.device("cpu"))
    with pytest.raises(GanzooError, match="--kernels fast"):
        resolve_kernels("fast", torch.device("cpu"))
    result = CliRunner().invoke(cli, ["train", "--kernels", "triton", "--device", "cpu", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--kernels triton" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()
    trainer = Trainer(tiny(tmp_path, arch="resnet-sn", loss="hinge"))
    assert trainer.kernels == "ref"
    assert use_kernels(trainer.eager["D"], "ref") == 4  # the first conv of each of resnet-sn's 4 D blocks


def test_bias_act_reference_is_the_plain_layer_sequence():
    """The ref path computes what the architecture computed before it had a fused op."""
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(BiasAct(alpha=0.0).after(conv, x), torch.relu(conv(x)))
    torch.testing.assert_close(bias_act(conv(x), None, 0.2, 2.0), torch.nn.functional.leaky_relu(conv(x), 0.2) * 2)


# ---- torch.compile ---------------------------------------------------------------------------------------------


def compiled_matches_eager(tmp_path: Path, monkeypatch, backend: str, loss: str, n_critic: int, **extra) -> None:
    if backend != "inductor":
        monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=backend))
    common = dict(arch="dcgan", loss=loss, n_critic=n_critic, ema=True, ema_decay=0.5, **extra)
    eager = run_steps(Trainer(tiny(tmp_path, out=str(tmp_path / "eager"), **common)), 3)
    trainer = Trainer(tiny(tmp_path, out=str(tmp_path / "compiled"), compile=True, **common))
    batches = trainer.batch_stream()
    torch.manual_seed(1)
    logs = [{k: v.item() for k, v in trainer.train_step(batches).items()}]
    warm = counters["stats"]["unique_graphs"]
    assert warm >= 2, "G and D were compiled"
    trainer.save_samples(trainer.fixed_inputs())  # eval mode and back must not invalidate the graphs
    logs += [{k: v.item() for k, v in trainer.train_step(batches).items()} for _ in range(2)]
    assert counters["stats"]["unique_graphs"] == warm, "no recompilation after the first step"
    state = {k: v.detach().float().clone() for k, v in trainer.state_tensors()[0].items()
             if k.startswith(("G.", "D.", "ema."))}
    assert any(k.endswith("running_var") for k in state) and any(k.startswith("ema.G.") for k in state)
    assert_same_training(eager, (logs, state))


@pytest.mark.parametrize("loss,n_critic", [("bce", 1), ("wgan-gp", 2)])
def test_compiled_training_matches_eager_without_recompiles(loss, n_critic, tmp_path, monkeypatch):
    """BN statistics, EMA and WGAN-GP's double backward (through the eager D) as in eager; one warm-up step."""
    compiled_matches_eager(tmp_path, monkeypatch, "aot_eager", loss, n_critic)


def test_regularisers_and_augmentation_under_compile_match_eager(tmp_path, monkeypatch):
    """R1, R2, LeCam and bCR through the eager D, DiffAugment on everything D sees: compiled = eager."""
    compiled_matches_eager(tmp_path, monkeypatch, "aot_eager", "bce", 1, reg="r1,r2,lecam,bcr", augment="diffaugment")


@pytest.mark.slow
@pytest.mark.parametrize("loss,n_critic", [("bce", 1), ("wgan-gp", 2), ("hinge", 1), ("lsgan", 1), ("wgan", 2)])
def test_inductor_training_matches_eager_without_recompiles(loss, n_critic, tmp_path, monkeypatch):
    compiled_matches_eager(tmp_path, monkeypatch, "inductor", loss, n_critic)


@pytest.mark.slow
def test_inductor_trains_spectral_norm_nets(tmp_path):
    """resnet-sn: D runs twice before one backward; the in-place power iteration must not break it."""
    common = dict(arch="resnet-sn", loss="hinge", batch_size=4, width=4)
    eager = run_steps(Trainer(tiny(tmp_path, out=str(tmp_path / "e"), **common)), 2)
    compiled = run_steps(Trainer(tiny(tmp_path, out=str(tmp_path / "c"), compile=True, **common)), 2)
    assert_same_training((eager[0], {}), (compiled[0], {}), rtol=1e-3, atol=1e-4)


# ---- precision and memory format -------------------------------------------------------------------------------


@pytest.mark.parametrize("precision,dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_mixed_precision_steps_run_in_low_precision_and_stay_finite(precision, dtype, tmp_path):
    trainer = Trainer(tiny(tmp_path, arch="dcgan", loss="wgan-gp", n_critic=1, precision=precision))
    seen = []
    trainer.eager["D"].features[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = {k: p.detach().clone() for k, p in trainer.eager["G"].named_parameters()}
    logs, state = run_steps(trainer, 3)
    # D runs on real, fake, the penalty's interpolates, then in the G step; under fp16 the penalty
    # pass is fp32 on purpose (its input gradient is not loss-scaled).
    penalty = torch.float32 if precision == "fp16" else dtype
    assert seen == [dtype, dtype, penalty, dtype] * 3
    assert all(np.isfinite(v) for step in logs for v in step.values())
    assert all(torch.isfinite(v).all() for v in state.values())
    assert any(not torch.equal(before[k], p) for k, p in trainer.eager["G"].named_parameters())
    assert trainer.scaler.is_enabled() == (precision == "fp16")


@pytest.mark.filterwarnings("error:Detected call of:UserWarning")  # the skipped step is expected, not a misuse
def test_fp16_scaler_skips_a_step_with_inf_gradients_and_backs_off(tmp_path):
    trainer = Trainer(tiny(tmp_path, arch="dcgan", loss="bce", precision="fp16"))
    scale = trainer.scaler.get_scale()
    weight = trainer.eager["D"].head.weight
    before = weight.detach().clone()
    weight.register_hook(lambda g: torch.full_like(g, float("inf")))
    run_steps(trainer, 1)
    assert torch.equal(weight.detach(), before), "D step with inf gradients skipped"
    assert trainer.scaler.get_scale() < scale


def test_channels_last_trains_like_contiguous(tmp_path):
    contiguous = run_steps(Trainer(tiny(tmp_path, arch="dcgan", loss="hinge", out=str(tmp_path / "a"))), 2)
    trainer = Trainer(tiny(tmp_path, arch="dcgan", loss="hinge", channels_last=True, out=str(tmp_path / "b")))
    assert trainer.eager["D"].head.weight.is_contiguous(memory_format=torch.channels_last)
    assert trainer.eager["G"].main[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert_same_training(contiguous, run_steps(trainer, 2), rtol=1e-4, atol=1e-4)


# ---- CUDA (only where a GPU is present) ------------------------------------------------------------------------


@cuda
def test_cuda_triton_op_checks_against_the_reference():
    from torch.library import opcheck

    from ganzoo.kernels import bias_act_ref
    from ganzoo.kernels.bias_act_triton import bias_act as fused

    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(4, 8, 6, 5, device="cuda").contiguous(memory_format=layout).requires_grad_()
        b = torch.randn(8, device="cuda", requires_grad=True)
        opcheck(torch.ops.ganzoo.bias_act.default, (x, b, 0.2, 1.5))
        y = fused(x, b, 0.2, 1.5)
        opcheck(torch.ops.ganzoo.bias_act_grad.default, (torch.randn_like(y), y.detach(), 0.2, 1.5))
        xd, bd = x.detach().double().requires_grad_(), b.detach().double().requires_grad_()
        assert torch.autograd.gradgradcheck(lambda x, b: fused(x, b, 0.2, 1.5), (xd, bd))
        for dtype in (torch.float32, torch.bfloat16):
            xl = torch.randn(64, 128, 16, 16, device="cuda", dtype=dtype).contiguous(memory_format=layout)
            bl = torch.randn(128, device="cuda")
            ref = bias_act_ref(xl.float(), bl, 0.0)
            got = fused(xl, bl, 0.0, 1.0)
            assert got.dtype == dtype and got.is_contiguous(memory_format=layout)
            assert ((got.float() - ref).norm() / ref.norm()).item() < (1e-6 if dtype == torch.float32 else 1e-2)
        compiled = torch.compile(lambda x, b: fused(x, b, 0.2, 1.5))
        torch.testing.assert_close(compiled(x, b), y)


@cuda
@pytest.mark.parametrize("kernels", ["ref", "triton"])
def test_cuda_compiled_kernels_step_matches_eager(kernels, tmp_path):
    """Inductor on the GPU, resnet-sn + WGAN-GP (penalty through the fused op when triton), fp32 without TF32."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        common = dict(arch="resnet-sn", loss="wgan-gp", n_critic=1, device="cuda", width=16, batch_size=16)
        eager = run_steps(Trainer(tiny(tmp_path, out=str(tmp_path / "e"), **common)), 3)
        trainer = Trainer(tiny(tmp_path, out=str(tmp_path / "c"), compile=True, kernels=kernels, **common))
        assert trainer.kernels == kernels
        compiled = run_steps(trainer, 3)
    finally:
        torch.backends.cudnn.allow_tf32 = True
    # G's block conv biases feed a later BatchNorm: zero gradient up to rounding, Adam moves them by +-lr.
    drop = re.compile(r"G\.blocks\.\d+\.(conv1|conv2|shortcut)\.bias")
    eager_state, compiled_state = ({k: v for k, v in s.items() if not drop.fullmatch(k)} for s in (eager[1], compiled[1]))
    assert_same_training((eager[0], eager_state), (compiled[0], compiled_state), rtol=1e-3, atol=1e-4)


@cuda
@pytest.mark.parametrize("args", [
    ["--arch", "resnet-sn", "--loss", "wgan-gp", "--n-critic", "1", "--precision", "bf16", "--compile",
     "--kernels", "triton"],
    ["--arch", "dcgan", "--image-size", "64", "--precision", "fp16", "--compile", "--ema"],
    ["--arch", "resnet-sn", "--precision", "bf16", "--kernels", "auto", "--channels-last"],
])
def test_cuda_cli_trains_in_every_mode(args, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--device", "cuda", "--steps", "5", "--width", "16", "--no-progress",
                                      "--log-every", "1", "--data-opt", "n=256", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r[k]) for r in records for k in ("d_loss", "g_loss"))
