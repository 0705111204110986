"""The adversarial step, once for every task: n_critic D updates, then one G update.

A task says what G makes of a batch (:meth:`Task.generate`) and what each
discriminator judges (:meth:`Task.judges`: real and fake images with their
condition); this module runs every judge's D on real and fake, applies the
loss, its penalty and the regularisers through the eager D, trains D, then
scores the same fakes for G (reusing the D step's generator pass when D takes
one step per G step) and adds the task's own generator terms. It also owns
what wraps the step: autocast, the GradScaler, DDP's ``no_sync`` for D in
the G step, and the compiled/eager split (losses read the compiled nets;
penalties that need D's input gradient, and double backward, the eager ones),
and the captured step (``--capture``, below).

The captured step (``--capture step``) compiles each whole update, the D update
and the G update, as one ``torch.compile``'d function: forward, loss, backward
and the optimizer step. Torch itself breaks the graph at ``.backward()`` and
around ``Optimizer.step`` (torch/optim/optimizer.py breaks it on purpose), so
an update is a compiled forward+loss graph (its backward compiled with it by
AOTAutograd) and a compiled optimizer-step graph, with no Python between
them but Dynamo's. Noise cannot be drawn from a generator inside a graph, so
each update's noise is drawn just before it (the shapes are recorded in the
first, eager, step) from the run's noise generator, on the device, and the
task's ``ctx.randn`` hands it out in order (a task that draws from
``ctx.generator`` itself, e.g. inpainting's masks, breaks the graph there and
draws in another order than the eager step: deterministic, not the same). The D update stays eager (the
compiled nets, as ``--compile``) when the loss has a penalty, a regulariser
is on or an augmentation is on: those need double backward through the eager
D, the host generator, or state kept on the host; the G update is then still
captured (except with an augmentation, which G's judges also see).
``--capture graphs`` adds CUDA graphs (``mode="reduce-overhead"``): every
graph replays in one launch, from static buffers that the next replay
overwrites, so nothing returned by one step may be read after the next has
begun (see :meth:`AdversarialStep.__call__`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..api import Augment, Judge, Loss, Regularizer, StepContext, Task
from ..errors import GanzooError

Batch = dict[str, Tensor]
CAPTURE_MODES = {"step": "captured step", "graphs": "captured step + CUDA graphs"}


@dataclasses.dataclass
class DrawnContext(StepContext):
    """A step context whose ``randn`` records the shapes asked for (``shapes``) or hands out ``drawn`` noise.

    Inside a compiled update no generator may be read, so the noise is drawn before the update starts.
    """

    noise_generator: torch.Generator | None = None
    shapes: list[tuple[int, ...]] | None = None
    drawn: list[Tensor] = dataclasses.field(default_factory=list)

    def draw(self, shapes: Sequence[tuple[int, ...]]) -> None:
        """Noise of these shapes from the noise generator, on the device: a kernel launch, no host sync."""
        self.drawn = [torch.randn(*shape, generator=self.noise_generator, device=self.device) for shape in shapes]

    def randn(self, *shape: int) -> Tensor:
        if self.shapes is not None:
            self.shapes.append(shape)
            self.draw([shape])
        return self.drawn.pop(0)


def set_requires_grad(nets: Sequence[nn.Module], flag: bool) -> None:
    for net in nets:
        for param in net.parameters():
            param.requires_grad_(flag)


class AdversarialStep:
    """One training step of any task; :class:`~ganzoo.engine.trainer.Trainer` builds it and calls it.

    ``nets`` are what the losses run through (compiled, DDP-wrapped; the step reads them from its
    context, :attr:`StepContext.nets`, which the trainer builds from the same dict), ``eager``
    the plain modules (penalties, regularisers, ``after_d_step``), ``ddp`` the
    DDP wrappers whose gradient sync is skipped for D in the G step.
    ``augment`` is applied to every image a D sees, real and fake alike;
    ``regularizers`` (by their --reg names) act on the D step (see :class:`ganzoo.api.Regularizer`);
    with ``--pack m`` D judges groups of m samples stacked along channels (PacGAN); with ``--d-batch joint``
    D judges real and fake in one pass (:meth:`judge_both`).
    """

    def __init__(self, task: Task, loss: Loss, nets: dict[str, nn.Module], eager: dict[str, nn.Module],
                 ddp: dict[str, nn.Module], opt_d: torch.optim.Optimizer, opt_g: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, device: torch.device, dtype: torch.dtype | None,
                 augment: Augment | None = None, regularizers: dict[str, Regularizer] | None = None,
                 capture: str = "off",
                 noise_generator: torch.Generator | None = None) -> None:
        self.task, self.loss = task, loss
        self.nets, self.eager, self.ddp = nets, eager, ddp
        self.opt_d, self.opt_g, self.scaler = opt_d, opt_g, scaler
        self.device, self.dtype = device, dtype
        self.augment, self.regularizers = augment, dict(regularizers or {})
        self.pack, self.joint = task.config.pack, task.config.d_batch == "joint"
        self.capture, self.noise_generator = capture, noise_generator
        self.noise_shapes: dict[str, list[tuple[int, ...]]] | None = None  # per update, once recorded
        self.d_captured = capture != "off" and not self.eager_d_reasons()
        self.g_captured = capture != "off" and self.augment is None
        # reduce-overhead: CUDA graphs (cudagraph trees) over every graph of the update
        mode = "reduce-overhead" if capture == "graphs" else None
        self.d_update_fn = torch.compile(self.d_update, mode=mode) if self.d_captured else self.d_update
        self.g_update_fn = torch.compile(self.g_update, mode=mode) if self.g_captured else self.g_update

    def eager_d_reasons(self) -> list[str]:
        """Why the D update cannot be captured: what needs double backward, the host generator or host state."""
        reasons = []
        if type(self.loss).penalty is not Loss.penalty:
            reasons.append(f"the {self.task.config.loss} penalty")
        reasons += [f"the {name} regulariser" for name in self.regularizers]
        if self.augment is not None:
            reasons.append(f"the {self.task.config.augment} augmentation")
        return reasons

    def mode(self) -> str:
        """The step as the start line names it, e.g. ``captured step (D update eager: the wgan-gp penalty)``."""
        if self.capture == "off":
            return "eager step"
        eager = [name for name, captured in (("D", self.d_captured), ("G", self.g_captured)) if not captured]
        reasons = self.eager_d_reasons()
        return CAPTURE_MODES[self.capture] + (f" ({' and '.join(eager)} update eager: {', '.join(reasons)})"
                                              if eager else "")

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def judge(self, D: Callable[..., Tensor], judge: Judge, images: Tensor, ctx: StepContext) -> Tensor:
        """D's logits for ``images`` as ``judge`` shows them: augmented, with its condition."""
        if self.augment is not None:
            images = self.augment(images, ctx.generator)
        if judge.channels is not None:
            images = torch.cat([images, judge.channels.to(images.dtype)], dim=1)
        if self.pack > 1:  # PacGAN: D sees each group of `pack` consecutive samples as one image
            batch, channels, height, width = images.shape
            images = images.reshape(batch // self.pack, self.pack * channels, height, width)
        return D(images) if judge.label is None else D(images, judge.label)

    def judge_both(self, D: Callable[..., Tensor], judge: Judge, real: Tensor, fake: Tensor,
                   ctx: StepContext) -> tuple[Tensor, Tensor]:
        """D's logits for ``real`` and for ``fake``: two passes, or with ``--d-batch joint`` one pass of both, so
        that D's batch norm normalises them together and D can see how a fake batch differs from a real one as a
        whole (its brightness, its spread), which two separately normalised passes hide."""
        if not self.joint:
            return self.judge(D, judge, real, ctx), self.judge(D, judge, fake, ctx)
        both = dataclasses.replace(judge, label=None if judge.label is None else torch.cat([judge.label] * 2),
                                   channels=None if judge.channels is None else torch.cat([judge.channels] * 2))
        logits = self.judge(D, both, torch.cat([real, fake]), ctx)
        return logits[: len(real) // self.pack], logits[len(real) // self.pack :]

    def discriminator_loss(self, ctx: StepContext, batch: Batch, keep_fakes: bool,
                           d_step: int) -> tuple[Tensor, dict[str, Tensor], Batch | None]:
        """Every judge's D loss on real vs (detached) fake, with penalties; and G's outputs when ``keep_fakes``.

        ``keep_fakes``: G runs with its graph, so the G step can reuse this pass.
        ``d_step`` counts D updates over the run (lazy regularisers act on multiples of their interval).
        """
        with torch.set_grad_enabled(keep_fakes):
            out = self.task.generate(ctx, batch)
        if keep_fakes and self.capture != "off":
            # G's pass gets a graph of its own: in one graph with D's, D's backward would free what the G
            # update's backward through the same fakes needs (one autograd node, backward twice)
            torch._dynamo.graph_break()
        judges = self.task.judges(batch, out)
        for j in judges:  # shapes are known on the host: no sync, and a static guard under compile
            if j.d not in ctx.nets:
                raise GanzooError(f"task '{self.task.config.task}' has a Judge use net '{j.d}', which its build() "
                                  f"does not make (it makes {', '.join(ctx.nets)}); fix the task's judges()")
            if j.fake.shape[1:] != j.real.shape[1:]:
                c = self.task.config
                asked = (c.channels, c.image_size, c.image_size)
                side, maker = (("real", f"dataset '{c.dataset}'") if tuple(j.real.shape[1:]) != asked
                               else ("generated", f"architecture '{c.arch}'"))
                raise GanzooError(
                    f"{j.d} is shown real images of shape {tuple(j.real.shape[1:])} and generated ones of shape "
                    f"{tuple(j.fake.shape[1:])}: the {side} ones are not the {asked} that --channels "
                    f"{c.channels} --image-size {c.image_size} ask for; {maker} does not honour them")
        fakes = [self.task.fake_for_d(ctx, j, j.fake.detach()) for j in judges]
        total: Tensor | float = 0.0
        logs: dict[str, Tensor] = {}
        for j, fake in zip(judges, fakes, strict=True):
            real_logits, fake_logits = self.judge_both(ctx.nets[j.d], j, j.real, fake, ctx)
            if self.augment is not None:
                self.augment.observe(real_logits.detach())
            loss = self.loss.d_loss(real_logits, fake_logits)

            def eager_d(x: Tensor, j: Judge = j) -> Tensor:
                return self.judge(self.eager[j.d], j, x, ctx)

            penalty = self.loss.penalty(eager_d, j.real, fake)
            if penalty is not None:
                loss = loss + penalty
            for reg in self.regularizers.values():
                if d_step % reg.interval == 0:
                    term = reg(eager_d, j.real, fake, real_logits, fake_logits)
                    if term is not None:
                        loss = loss + reg.interval * term
            total = total + loss
            if len(judges) > 1:
                logs[j.d] = loss.detach()
            logs[f"{j.d}(x)"] = self.loss.score(real_logits)
            logs[f"{j.d}({j.fake_name})"] = self.loss.score(fake_logits)
        if self.augment is not None:
            logs.update(self.augment.logs())
        return total, logs, (out if keep_fakes else None)

    def generator_loss(self, ctx: StepContext, batch: Batch, out: Batch | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The weighted adversarial terms of every judge plus the task's own terms (``out``: the D step's pass)."""
        if out is None:
            out = self.task.generate(ctx, batch)
        judges = self.task.judges(batch, out)
        extra, logs = self.task.generator_terms(ctx, batch, out)
        if torch.is_tensor(extra) and extra.dim():
            raise GanzooError(f"task '{self.task.config.task}' generator_terms returned a loss of shape "
                              f"{tuple(extra.shape)}; return one number (e.g. its .mean())")
        total: Tensor | float = 0.0 if extra is None else extra
        for j in judges:
            if not j.weight:
                continue
            if self.joint:  # D sees the reals beside the fakes, as in its own step
                real_logits, fake_logits = self.judge_both(ctx.nets[j.d], j, j.real, j.fake, ctx)
            else:  # the reals only where the loss reads them
                fake_logits = self.judge(ctx.nets[j.d], j, j.fake, ctx)
                real_logits = self.judge(ctx.nets[j.d], j, j.real, ctx) if self.loss.relativistic else None
            adversarial = (self.loss.g_loss(fake_logits, real_logits) if self.loss.relativistic
                           else self.loss.g_loss(fake_logits))
            total = total + j.weight * adversarial
            if extra is not None or len(judges) > 1:
                logs["adv" if len(judges) == 1 else f"adv_{j.d}"] = adversarial.detach()
        return total, logs

    def optimise(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()

    def no_grad_sync(self, names: Sequence[str]) -> contextlib.AbstractContextManager:
        """D runs in the G step with its gradients off: keep DDP from waiting for gradients that never come."""
        stack = contextlib.ExitStack()
        for name in names:
            if isinstance(self.ddp[name], DistributedDataParallel):
                stack.enter_context(self.ddp[name].no_sync())
        return stack

    def d_update(self, ctx: StepContext, batch: Batch, keep_fakes: bool,
                 d_step: int) -> tuple[Tensor, dict[str, Tensor], Batch | None]:
        """One D update: the D loss (see :meth:`discriminator_loss`), backward and D's optimizer step."""
        with self.autocast():
            d_loss, logs, out = self.discriminator_loss(ctx, batch, keep_fakes, d_step)
        self.optimise(d_loss, self.opt_d)
        return d_loss.detach(), logs, out

    def g_update(self, ctx: StepContext, batch: Batch, out: Batch | None) -> tuple[Tensor, dict[str, Tensor]]:
        """One G update (D's weights frozen, its DDP sync off): G's loss, backward and G's optimizer step."""
        with self.no_grad_sync(self.task.d_nets):
            with self.autocast():
                g_loss, g_logs = self.generator_loss(ctx, batch, out)
            self.optimise(g_loss, self.opt_g)
        return g_loss.detach(), g_logs

    def captured_context(self, ctx: StepContext, update: str, captured: bool) -> StepContext:
        """``ctx`` for an update under ``--capture``: its noise drawn now (the first step, eager, records the
        shapes); a captured update runs the plain nets (``--compile``'s compiled ones serve an eager update:
        Dynamo cannot trace a compiled module inside a compiled function that reaches it another way too)."""
        if self.capture == "off":
            return ctx
        fields = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(StepContext)}
        if captured:
            fields["nets"] = self.ddp
        drawn = DrawnContext(**fields, noise_generator=self.noise_generator)
        if self.noise_shapes is None or update not in self.noise_shapes:
            drawn.shapes = []
            self.noise_shapes = {**(self.noise_shapes or {}), update: drawn.shapes}
        else:
            drawn.draw(self.noise_shapes[update])
        return drawn

    def __call__(self, ctx: StepContext, batches: Iterator[Batch]) -> dict[str, Tensor]:
        """n_critic D updates (each on a fresh batch), then one G update on the last batch.

        Captured, the first step runs eagerly: it records the noise shapes, and Adam creates its state
        there, in ordinary memory (created inside a CUDA graph, it would live in the graphs' pool). The
        second step compiles. Under ``--capture graphs`` each step starts with ``cudagraph_mark_step_begin``
        and a new generation of the cudagraph trees: the tensors a replay returns live in the graphs' pool,
        which the next step's replays reuse, and at a new generation the trees free every output of the
        last one that Python still holds (``dealloc_current_path_weakrefs``). The first attempt at CUDA
        graphs died there during warm-up, holding such outputs across steps: the trainer keeps a step's
        logs while the next step runs, and the gradients that backward left in ``.grad`` stay until the
        next update's ``zero_grad``. So here what a step returns is cloned and the gradients are dropped
        after each update: no output of one step is alive when the next begins.
        """
        d_nets = [self.eager[k] for k in self.task.d_nets]
        n_critic = self.loss.n_critic
        graphs = self.capture == "graphs" and self.noise_shapes is not None
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        first = self.noise_shapes is None
        for i in range(n_critic):
            batch = next(batches)
            d_ctx = self.captured_context(ctx, "D", self.d_captured)
            # d_step counts D updates for the regularisers' intervals; a captured D update has no regulariser,
            # and a changing int would make Dynamo compile the update again for it
            d_step = 0 if self.d_captured else ctx.step * n_critic + i
            update = self.d_update if first else self.d_update_fn
            d_loss, logs, out = update(d_ctx, batch, n_critic == 1, d_step)
            if graphs:
                self.opt_d.zero_grad(set_to_none=True)
            for net in d_nets:
                self.loss.after_d_step(net)
        # D's weights get no gradient in the G step. Under --compile this gives D a second graph
        # (compiled once, in the first step); the D-step graph is reused as is afterwards.
        set_requires_grad(d_nets, False)
        update = self.g_update if first else self.g_update_fn
        g_loss, g_logs = update(self.captured_context(ctx, "G", self.g_captured), batch, out)
        if graphs:
            self.opt_g.zero_grad(set_to_none=True)
        set_requires_grad(d_nets, True)
        logs = {"d_loss": d_loss, "g_loss": g_loss, **logs, **g_logs}
        return {k: v.clone() for k, v in logs.items()} if graphs else logs
