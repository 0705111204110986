"""The adversarial step, once for every task: n_critic D updates, then one G update.

A task says what G makes of a batch (:meth:`Task.generate`) and what each
discriminator judges (:meth:`Task.judges`: real and fake images with their
condition); this module runs every judge's D on real and fake, applies the
loss, its penalty and the regularisers through the eager D, trains D, then
scores the same fakes for G (reusing the D step's generator pass when D takes
one step per G step) and adds the task's own generator terms. It also owns
what wraps the step: autocast, the GradScaler, DDP's ``no_sync`` for D in
the G step, and the compiled/eager split (losses read the compiled nets;
penalties that need D's input gradient, and double backward, the eager ones).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..api import Augment, Judge, Loss, Regularizer, StepContext, Task

Batch = dict[str, Tensor]


def set_requires_grad(nets: Sequence[nn.Module], flag: bool) -> None:
    for net in nets:
        for param in net.parameters():
            param.requires_grad_(flag)


class AdversarialStep:
    """One training step of any task; :class:`~ganzoo.engine.trainer.Trainer` builds it and calls it.

    ``nets`` are what the losses run through (compiled, DDP-wrapped), ``eager``
    the plain modules (penalties, regularisers, ``after_d_step``), ``ddp`` the
    DDP wrappers whose gradient sync is skipped for D in the G step.
    ``augment`` is applied to every image a D sees, real and fake alike;
    ``regularizers`` act on the D step (see :class:`ganzoo.api.Regularizer`);
    with ``--pack m`` D judges groups of m samples stacked along channels (PacGAN).
    """

    def __init__(self, task: Task, loss: Loss, nets: dict[str, nn.Module], eager: dict[str, nn.Module],
                 ddp: dict[str, nn.Module], opt_d: torch.optim.Optimizer, opt_g: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, device: torch.device, dtype: torch.dtype | None,
                 augment: Augment | None = None, regularizers: Sequence[Regularizer] = ()) -> None:
        self.task, self.loss = task, loss
        self.nets, self.eager, self.ddp = nets, eager, ddp
        self.opt_d, self.opt_g, self.scaler = opt_d, opt_g, scaler
        self.device, self.dtype = device, dtype
        self.augment, self.regularizers = augment, list(regularizers)
        self.pack = task.config.pack

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

    def discriminator_loss(self, ctx: StepContext, batch: Batch, keep_fakes: bool,
                           d_step: int) -> tuple[Tensor, dict[str, Tensor], Batch | None]:
        """Every judge's D loss on real vs (detached) fake, with penalties; and G's outputs when ``keep_fakes``.

        ``keep_fakes``: G runs with its graph, so the G step can reuse this pass.
        ``d_step`` counts D updates over the run (lazy regularisers act on multiples of their interval).
        """
        with torch.set_grad_enabled(keep_fakes):
            out = self.task.generate(ctx, batch)
        judges = self.task.judges(batch, out)
        fakes = [self.task.fake_for_d(ctx, j, j.fake.detach()) for j in judges]
        total: Tensor | float = 0.0
        logs: dict[str, Tensor] = {}
        for j, fake in zip(judges, fakes, strict=True):
            real_logits = self.judge(self.nets[j.d], j, j.real, ctx)
            fake_logits = self.judge(self.nets[j.d], j, fake, ctx)
            if self.augment is not None:
                self.augment.observe(real_logits.detach())
            loss = self.loss.d_loss(real_logits, fake_logits)

            def eager_d(x: Tensor, j: Judge = j) -> Tensor:
                return self.judge(self.eager[j.d], j, x, ctx)

            penalty = self.loss.penalty(eager_d, j.real, fake)
            if penalty is not None:
                loss = loss + penalty
            for reg in self.regularizers:
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
        total: Tensor | float = 0.0 if extra is None else extra
        for j in judges:
            if not j.weight:
                continue
            fake_logits = self.judge(self.nets[j.d], j, j.fake, ctx)
            if self.loss.relativistic:
                adversarial = self.loss.g_loss(fake_logits, self.judge(self.nets[j.d], j, j.real, ctx))
            else:
                adversarial = self.loss.g_loss(fake_logits)
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

    def __call__(self, ctx: StepContext, batches: Iterator[Batch]) -> dict[str, Tensor]:
        """n_critic D updates (each on a fresh batch), then one G update on the last batch."""
        d_nets = [self.eager[k] for k in self.task.d_nets]
        n_critic = self.loss.n_critic
        for i in range(n_critic):
            batch = next(batches)
            with self.autocast():
                d_loss, logs, out = self.discriminator_loss(ctx, batch, n_critic == 1, ctx.step * n_critic + i)
            self.optimise(d_loss, self.opt_d)
            for net in d_nets:
                self.loss.after_d_step(net)
        # D's weights get no gradient in the G step. Under --compile this gives D a second graph
        # (compiled once, in the first step); the D-step graph is reused as is afterwards.
        set_requires_grad(d_nets, False)
        with self.no_grad_sync(self.task.d_nets):
            with self.autocast():
                g_loss, g_logs = self.generator_loss(ctx, batch, out)
            self.optimise(g_loss, self.opt_g)
        set_requires_grad(d_nets, True)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **logs, **g_logs}
