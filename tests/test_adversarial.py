"""The engine's one adversarial step: relativistic losses, the augmentation and regulariser hooks, no task state."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
import torch
from torch import Tensor

import ganzoo
from ganzoo.api import Augment, GanzooError, Regularizer, StepContext, Task
from ganzoo.engine.adversarial import AdversarialStep
from ganzoo.engine.trainer import Trainer, assemble, serving_hint

from conftest import tiny_run


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


tiny = tiny_run(arch="dcgan", batch_size=4, width=8, nz=8, steps=2, data_options={"n": 32}, device="cpu")


def test_ragan_known_values():
    ragan = ganzoo.get("losses", "ragan")()
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])  # mean real 2, mean fake 1
    # real - E[fake] = [0, 2], fake - E[real] = [-2, 0]
    d = (softplus(0) + softplus(-2)) / 2 + (softplus(-2) + softplus(0)) / 2
    g = (softplus(0) + softplus(2)) / 2 + (softplus(2) + softplus(0)) / 2
    assert ragan.d_loss(real, fake).item() == pytest.approx(d)
    assert ragan.g_loss(fake, real).item() == pytest.approx(g)
    patch_real, patch_fake = real.view(2, 1, 1, 1).expand(2, 1, 2, 2), fake.view(2, 1, 1, 1).expand(2, 1, 2, 2)
    assert ragan.d_loss(patch_real, patch_fake).item() == pytest.approx(d), "patch logits: per-position batch means"


def test_rpgan_known_values_and_pairing():
    rpgan = ganzoo.get("losses", "rpgan")()
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])  # fake - real = -1 for both pairs
    assert rpgan.d_loss(real, fake).item() == pytest.approx(softplus(-1))
    assert rpgan.g_loss(fake, real).item() == pytest.approx(softplus(1))
    with pytest.raises(GanzooError, match="loss 'rpgan' pairs each real image with one fake"):
        rpgan.d_loss(real, fake[:1])


def _step(tmp_path: Path, **overrides) -> tuple[AdversarialStep, StepContext, dict[str, Tensor]]:
    asm = assemble(tiny(tmp_path, **overrides))
    for net in asm.nets.values():
        net.eval()  # BN on running statistics: D gives the same logits for the same images
    ctx = StepContext(asm.nets, asm.nets, asm.loss, torch.device("cpu"), torch.Generator().manual_seed(0))
    step = AdversarialStep(asm.task, asm.loss, asm.nets, asm.nets, asm.nets, None, None, None, ctx.device, None)
    torch.manual_seed(0)
    batch = {"image": torch.rand(4, 3, 32, 32) * 2 - 1, "label": torch.zeros(4, dtype=torch.long)}
    return step, ctx, batch


@pytest.mark.parametrize("name", ["ragan", "rpgan"])
def test_relativistic_losses_see_the_real_logits_in_the_g_step(name, tmp_path):
    step, ctx, batch = _step(tmp_path, loss=name)
    out = step.task.generate(ctx, batch)
    g_loss, _ = step.generator_loss(ctx, batch, out)
    D = step.nets["D"]
    expected = step.loss.g_loss(D(out["fake"]), D(batch["image"]))
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-6)
    g_loss.backward()
    assert all(p.grad is not None for p in step.nets["G"].parameters())


class Negate(Augment):
    """Flips the sign of every image and remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[Tensor] = []
        self.observed: list[Tensor] = []

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        self.seen.append(x.detach().clone())
        return -x

    def observe(self, real_logits: Tensor) -> None:
        self.observed.append(real_logits)


def test_augmentation_applies_to_everything_d_sees(tmp_path):
    step, ctx, batch = _step(tmp_path, loss="wgan-gp")
    step.augment = Negate()
    inputs: list[Tensor] = []
    step.nets["D"].register_forward_pre_hook(lambda module, args: inputs.append(args[0].detach().clone()))
    loss, _, out = step.discriminator_loss(ctx, batch, keep_fakes=True, d_step=0)
    real, fake = step.augment.seen[0], step.augment.seen[1]
    torch.testing.assert_close(real, batch["image"])
    torch.testing.assert_close(fake, out["fake"].detach())
    torch.testing.assert_close(inputs[0], -batch["image"])
    torch.testing.assert_close(inputs[1], -out["fake"].detach())
    assert len(step.augment.seen) == 3, "real, fake, and the gradient penalty's interpolates"
    assert len(step.augment.observed) == 1
    step.generator_loss(ctx, batch, out)
    torch.testing.assert_close(inputs[-1], -out["fake"].detach()), "the G step's D sees augmented fakes too"


class R1(Regularizer):
    """R1 (Mescheder et al. 2018): gamma/2 * E||grad_x D(x)||^2 on reals, lazily."""

    def __init__(self, gamma: float, interval: int) -> None:
        self.gamma, self.interval = gamma, interval
        self.calls = 0

    def __call__(self, D, real, fake, real_logits, fake_logits):
        self.calls += 1
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        return self.gamma / 2 * grad.pow(2).flatten(1).sum(1).mean()


def test_regularisers_run_lazily_through_the_eager_d(tmp_path):
    step, ctx, batch = _step(tmp_path, loss="bce")
    base = [step.discriminator_loss(ctx, batch, True, d_step=n)[0].item() for n in (0, 1)]
    r1 = R1(gamma=1e5, interval=2)  # large: the term must stand out of the loss in float32
    step.regularizers = {"r1": r1}
    with_r1 = [step.discriminator_loss(ctx, batch, True, d_step=n)[0] for n in (0, 1)]
    assert r1.calls == 1, "interval 2: only on even D steps"
    assert with_r1[1].item() == pytest.approx(base[1], rel=1e-6)
    x = batch["image"].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(step.eager["D"](x).sum(), x)
    expected = 2 * 1e5 / 2 * grad.pow(2).flatten(1).sum(1).mean().item()  # scaled by its interval
    assert with_r1[0].item() - base[0] == pytest.approx(expected, rel=1e-3)
    with_r1[0].backward()  # double backward through the eager D
    assert all(p.grad is not None for p in step.eager["D"].parameters())


TASK_SOURCES = sorted((Path(__file__).parents[1] / "plugins" / "tasks").glob("*.py")) + sorted(
    (Path(__file__).parent / "plugins").glob("*/*.py"))


def _task_classes() -> dict[Path, list]:
    """Every class in those files that derives from ganzoo's Task (directly or through another task class)."""
    import ast

    classes = [(path, node) for path in TASK_SOURCES for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.ClassDef)]
    tasks = {"Task"}
    while True:
        found = {node.name for _, node in classes if {ast.unparse(b).split(".")[-1] for b in node.bases} & tasks}
        if found <= tasks:
            break
        tasks |= found
    return {path: [node for p, node in classes if p == path and node.name in tasks] for path in TASK_SOURCES}


@pytest.mark.parametrize("path", TASK_SOURCES, ids=lambda p: p.name)
def test_tasks_keep_no_state_between_steps(path):
    """Only __init__ and build may set task attributes: nothing passes from the D step to the G step that way,
    and no task calls a loss or its penalty itself (the engine's adversarial step does)."""
    import ast

    for cls in _task_classes()[path]:
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name not in ("__init__", "build")):
            for node in ast.walk(fn):
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                for target in targets:
                    assert not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id == "self"), f"{path.name}:{node.lineno} {cls.name}.{fn.name}"
            assert fn.name not in ("d_step", "g_step"), f"{path.name}: {cls.name}.{fn.name}"
            code = ast.unparse(fn)
            assert not any(call in code for call in (".penalty(", ".d_loss(", ".g_loss(")), f"{path.name}:{fn.name}"


@pytest.mark.parametrize("task,overrides", [
    ("unconditional", {}),
    ("conditional", {"dataset": "shapes"}),
    ("inpainting", {"arch": "unet", "image_size": 16, "channels": 1}),
])
def test_a_training_step_leaves_the_task_as_it_was(task, overrides, tmp_path):
    trainer = Trainer(tiny(tmp_path, task=task, loss="hinge", **overrides))
    before = dict(vars(trainer.task))
    trainer.train_step(trainer.batch_stream())
    assert vars(trainer.task).keys() == before.keys()
    assert all(vars(trainer.task)[k] is v for k, v in before.items())


class NeedsEverything(Task):
    description = "a task no architecture can serve"
    generator_input = ("noise", "image")
    discriminator_input = ("image", "label", "channels")


def test_a_task_no_architecture_serves_names_the_closest():
    hint = serving_hint(NeedsEverything)
    assert hint.startswith("No installed architecture has all it needs; closest: ")
    assert "dcgan (lacks G input 'image')" in hint and "mlp (lacks G input 'image', D input 'channels')" in hint


def test_a_tasks_judge_or_terms_that_break_the_step_are_one_line_naming_the_task(tmp_path, monkeypatch):
    step, ctx, batch = _step(tmp_path, loss="bce")
    task = type(step.task)
    judges = task.judges
    monkeypatch.setattr(task, "judges", lambda self, b, o: [dataclasses.replace(j, d="D2") for j in judges(self, b, o)])
    with pytest.raises(GanzooError, match=r"^task 'unconditional' has a Judge use net 'D2', which its build\(\) does "
                                          r"not make \(it makes G, D\); fix the task's judges\(\)$"):
        step.discriminator_loss(ctx, batch, keep_fakes=False, d_step=0)
    monkeypatch.setattr(task, "judges", judges)
    monkeypatch.setattr(task, "generator_terms", lambda self, c, b, o: (o["fake"].flatten(1).mean(1), {}))
    with pytest.raises(GanzooError, match=r"^task 'unconditional' generator_terms returned a loss of shape \(4,\); "
                                          r"return one number"):
        step.generator_loss(ctx, batch, None)
    monkeypatch.setattr(task, "generator_terms", lambda self, c, b, o: (0.0, {}))  # a term weighted off: a float
    assert torch.isfinite(step.generator_loss(ctx, batch, None)[0])


@pytest.mark.parametrize("builder, message", [
    ("gen", "Architecture generator: 'gen' is not callable; pass the nn.Module class or a function NetConfig"),
    (lambda: None, "Architecture generator: <lambda> cannot be called with one NetConfig; give it a parameter"),
])
def test_an_architecture_whose_builder_cannot_take_a_netconfig_is_refused_at_registration(builder, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        ganzoo.Architecture(builder, torch.nn.Identity, "a plugin's mistake")
    import functools

    def build(cfg, width):
        return torch.nn.Identity()

    @functools.wraps(build)
    def adapter(cfg):  # a wrapper that takes one NetConfig is fine, whatever it wraps
        return build(cfg, 8)

    ganzoo.Architecture(adapter, functools.partial(build, width=8), "builders that take one NetConfig")
