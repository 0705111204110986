"""``--capture``: each D and G update compiled whole (forward, backward, optimizer step), noise drawn before it.

As in test_fast.py, the CPU tests compile with the ``aot_eager`` backend (Dynamo + AOTAutograd: the graphs,
guards, recompiles and autograd the captured step relies on; Inductor's C++ build takes minutes here). The
CUDA-graph test runs only where a GPU is present.
"""

from __future__ import annotations

import functools
import json

import pytest
import torch
from torch._dynamo.utils import counters

from ganzoo.api import GanzooError
from ganzoo.engine.checkpoint import load_checkpoint
from ganzoo.engine.trainer import Trainer

from conftest import tiny_run

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# lr 2e-4 is the rate assert_same's tolerance was measured at (generation's default 1e-3 lets Adam amplify the
# compiled graphs' reordered sums past it on some CPUs)
tiny = tiny_run(arch="dcgan", batch_size=8, width=8, nz=16, lr=2e-4, steps=4, data_options={"n": 64}, device="cpu",
                ema=True, ema_decay=0.5)


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))


def train(trainer: Trainer, steps: int) -> tuple[list[dict[str, float]], dict[str, torch.Tensor], list[int]]:
    """Losses per step, every weight, buffer and EMA tensor after, and Dynamo's graph count after each step."""
    batches = trainer.batch_stream()
    torch.manual_seed(1)  # the global RNG: WGAN-GP's interpolation weights
    logs, graphs = [], []
    for _ in range(steps):
        logs.append({k: v.item() for k, v in trainer.train_step(batches).items()})
        graphs.append(counters["stats"]["unique_graphs"])
    state = {k: v.detach().float().cpu().clone() for k, v in trainer.state_tensors()[0].items()
             if k.startswith(("G.", "D.", "ema."))}
    return logs, state, graphs


def assert_same(eager, captured, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Same losses each step and same weights after. Compiled graphs reorder float sums, so not bitwise:
    after 4 Adam steps at lr 2e-4 the runs differ by ~1e-6 (measured), far below one step's change (~2e-4)."""
    for step_e, step_c in zip(eager[0], captured[0], strict=True):
        assert step_e.keys() == step_c.keys()
        assert step_c == pytest.approx(step_e, rel=rtol, abs=atol)
    assert eager[1].keys() == captured[1].keys()
    for key in eager[1]:
        torch.testing.assert_close(captured[1][key], eager[1][key], rtol=rtol, atol=atol, msg=key)


@pytest.mark.parametrize("loss,n_critic,d_batch", [("bce", 1, "split"), ("hinge", 2, "split"), ("bce", 1, "joint")])
def test_captured_step_equals_eager_without_recompiles(loss, n_critic, d_batch, tmp_path, aot_eager):
    """Losses and weights (BN statistics and EMA included) after 4 steps; graphs compiled in step 2 only."""
    common = dict(loss=loss, n_critic=n_critic, d_batch=d_batch)
    eager = train(Trainer(tiny(tmp_path, out=str(tmp_path / "e"), **common)), 4)
    trainer = Trainer(tiny(tmp_path, out=str(tmp_path / "c"), capture="step", **common))
    assert trainer.adversarial.mode() == "captured step"
    before = counters["stats"]["unique_graphs"]
    captured = train(trainer, 4)
    graphs = captured[2]
    assert graphs[0] == before, "the first step runs eagerly (it records the noise shapes)"
    assert graphs[1] > graphs[0], "the second step compiles the D and G updates"
    assert graphs[1] == graphs[2] == graphs[3], "no recompilation after the warm-up"
    assert_same(eager, captured)
    assert any(k.endswith("running_var") for k in captured[1]) and any(k.startswith("ema.G.") for k in captured[1])


@pytest.mark.slow  # Inductor's C++ build: minutes on a small CPU
def test_inductor_captured_step_equals_eager(tmp_path):
    """With Inductor, which compiles the optimizer step too (Adam's update as generated C++)."""
    eager = train(Trainer(tiny(tmp_path, out=str(tmp_path / "e"))), 4)
    captured = train(Trainer(tiny(tmp_path, out=str(tmp_path / "c"), capture="step")), 4)
    assert captured[2][1] == captured[2][2] == captured[2][3]
    assert_same(eager, captured)


@pytest.mark.parametrize("extra,mode", [
    # with --compile: the eager D update runs the compiled nets, the captured G update the plain ones
    (dict(loss="wgan-gp", n_critic=2, compile=True), "captured step (D update eager: the wgan-gp penalty)"),
    (dict(loss="bce", reg="r1"), "captured step (D update eager: the r1 regulariser)"),
])
def test_penalties_keep_the_eager_d_update_and_match_eager(extra, mode, tmp_path, aot_eager):
    """Double backward through the eager D as before; the G update is still captured; values as in eager."""
    eager = train(Trainer(tiny(tmp_path, out=str(tmp_path / "e"), **extra)), 3)
    trainer = Trainer(tiny(tmp_path, out=str(tmp_path / "c"), capture="step", **extra))
    assert trainer.adversarial.mode() == mode
    assert not trainer.adversarial.d_captured and trainer.adversarial.g_captured
    captured = train(trainer, 3)
    assert_same(eager, captured)


@pytest.mark.slow  # three runs that each compile: ~20 s here
def test_captured_resume_is_exact(tmp_path, aot_eager):
    """4 steps straight == 2 steps, stop, resume for 2 more (the resumed run records its noise shapes again)."""
    common = dict(capture="step", steps=4)
    straight = Trainer(tiny(tmp_path, out=str(tmp_path / "a"), **common)).fit()
    Trainer(tiny(tmp_path, out=str(tmp_path / "b"), **{**common, "steps": 2})).fit()
    resumed = Trainer(tiny(tmp_path, out=None, **common), resume=tmp_path / "b").fit()
    log_a = [json.loads(x) for x in (straight / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (resumed / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log_b] == [1, 2, 3, 4]
    for a, b in zip(log_a, log_b, strict=True):
        for key in ("d_loss", "g_loss", "D(x)", "D(G(z))"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    weights_a, _ = load_checkpoint(straight)
    weights_b, _ = load_checkpoint(resumed)
    for key in [k for k in weights_a if k.startswith(("G.", "D.", "ema."))]:
        torch.testing.assert_close(weights_b[key], weights_a[key], rtol=1e-4, atol=1e-6, msg=key)


@pytest.mark.parametrize("overrides,message", [
    (dict(capture="graphs"), "--capture graphs: CUDA graphs need a CUDA device, not cpu; use --capture step"),
    (dict(capture="step", precision="fp16"), "--capture with --precision fp16: the GradScaler reads the device"),
])
def test_capture_refuses_what_would_wait_on_the_device(overrides, message, tmp_path):
    with pytest.raises(GanzooError, match=message.replace("-", r"\-")):
        Trainer(tiny(tmp_path, **overrides))


@cuda
def test_cuda_graphs_step_trains_like_the_captured_step(tmp_path):
    """Inductor + CUDA graphs (reduce-overhead) over the captured step: the trainer keeps each step's logs
    while the next step replays (what killed the first attempt in ``dealloc_current_path_weakrefs``), with
    EMA and BN; same losses and weights as the captured step without graphs (same device noise)."""
    common = dict(device="cuda", steps=6, ema=True)
    step = train(Trainer(tiny(tmp_path, out=str(tmp_path / "s"), capture="step", **common)), 6)
    trainer = Trainer(tiny(tmp_path, out=str(tmp_path / "g"), capture="graphs", **common))
    assert trainer.adversarial.mode() == "captured step + CUDA graphs"
    graphs = train(trainer, 6)
    assert_same(step, graphs, rtol=1e-3, atol=1e-4)
    run = Trainer(tiny(tmp_path, out=str(tmp_path / "fit"), capture="graphs", **common)).fit()  # the real loop
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r["d_loss"] is not None and r["g_loss"] is not None for r in records)


def test_start_line_names_the_step_and_the_cli_takes_capture(tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli, start_line

    line = start_line(Trainer(tiny(tmp_path, loss="wgan-gp", capture="step")))
    assert "(fp32, captured step (D update eager: the wgan-gp penalty), " in line
    assert "captured" not in start_line(Trainer(tiny(tmp_path, out=str(tmp_path / "e"))))
    result = CliRunner().invoke(cli, ["train", "--capture", "graphs", "--device", "cpu", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "Error: --capture graphs: CUDA graphs need a CUDA device" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()


def test_ema_update_waits_for_nothing_and_equals_averaged_models_own():
    """The trainer's EMA update (its count copied to the device without waiting) = AveragedModel's update,
    bit for bit, integer buffers (BN's batch count) included, with the warm-up decay by hand."""
    from torch.optim.swa_utils import AveragedModel

    from ganzoo.engine.trainer import update_ema, warmup_ema

    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    ours = AveragedModel(net, multi_avg_fn=warmup_ema(0.9), use_buffers=True)
    torchs = AveragedModel(net, multi_avg_fn=warmup_ema(0.9), use_buffers=True)
    expected = None
    for n in range(12):
        with torch.no_grad():
            net[0].weight.fill_(float(n))
        net(torch.randn(4, 2))  # BN: running statistics and num_batches_tracked change
        update_ema(ours, net)
        torchs.update_parameters(net)
        decay = min(0.9, (1 + n) / (10 + n))
        expected = 0.0 if expected is None else decay * expected + (1 - decay) * n
        assert ours.module[0].weight[0, 0].item() == pytest.approx(expected, rel=1e-5), n
        for a, b in zip(ours.state_dict().values(), torchs.state_dict().values(), strict=True):
            assert torch.equal(a, b), n
    assert int(ours.n_averaged) == 12 and int(ours.module[1].num_batches_tracked) == 12
