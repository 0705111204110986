"""Task ``unconditional``: generate images from noise (G: z -> image, D: image -> real/fake)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.api import NetConfig, StepContext, Task, check_options
from ganzoo.hookspecs import hookimpl


class Unconditional(Task):
    """Generate images from noise; seed 001's loop, made fast.

    When D takes one step per G step, the G step reuses the fake batch of the
    D step (as pytorch/examples' DCGAN does) instead of running G twice.
    """

    description = "Generate images from noise (G: z -> image, D: image -> real/fake logit)"
    num_classes = 0

    def __init__(self, arch: Any, config: Any, dataset: Any, **options: Any) -> None:
        super().__init__(arch, config, dataset, **check_options("--task-opt", f"task '{config.task}'", {}, options))

    def net_config(self) -> NetConfig:
        c = self.config
        return NetConfig(c.image_size, c.channels, c.nz, c.width, self.num_classes, options=dict(c.arch_options))

    def build(self) -> dict[str, nn.Module]:
        return {"G": self.arch.generator(self.net_config()), "D": self.arch.discriminator(self.net_config())}

    def condition(self, batch: dict[str, Tensor]) -> tuple[Tensor, ...]:
        """Extra network inputs: none here, the class labels for the conditional task."""
        return ()

    def d_step(self, ctx: StepContext, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        G, D, loss = ctx.nets["G"], ctx.nets["D"], ctx.loss
        real, cond = batch["image"], self.condition(batch)
        reuse = loss.n_critic == 1
        with torch.set_grad_enabled(reuse):
            fake = G(ctx.randn(real.shape[0], self.config.nz), *cond)
        real_logits, fake_logits = D(real, *cond), D(fake.detach(), *cond)
        d_loss = loss.d_loss(real_logits, fake_logits)
        penalty = loss.penalty(lambda x: ctx.eager["D"](x, *cond), real, fake.detach())
        if penalty is not None:
            d_loss = d_loss + penalty
        self._fake = fake if reuse else None
        return d_loss, {"D(x)": loss.score(real_logits), "D(G(z))": loss.score(fake_logits)}

    def g_step(self, ctx: StepContext, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        cond = self.condition(batch)
        fake, self._fake = getattr(self, "_fake", None), None
        if fake is None:
            fake = ctx.nets["G"](ctx.randn(batch["image"].shape[0], self.config.nz), *cond)
        return ctx.loss.g_loss(ctx.nets["D"](fake, *cond)), {}

    def fixed_inputs(self, ctx: StepContext, batch: dict[str, Tensor] | None, n: int) -> dict[str, Tensor]:
        return {"z": ctx.randn(n, self.config.nz)}

    @torch.no_grad()
    def samples(self, nets: dict[str, nn.Module], fixed: dict[str, Tensor]) -> Tensor:
        return nets["G"](fixed["z"]).float()

    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """Sample G and score it against the held-out split (fid, kid, is, pr, dc, modes, memorization, ...).

        Options: ``metrics`` (names or None for the defaults), ``num``, ``data_root``,
        ``classifier`` (a ``ganzoo features train`` file), ``seed``, ``metric_options``.
        """
        from ganzoo_plugins.metrics.evaluation import evaluate_generator

        return evaluate_generator(self, nets, device, **options)


@hookimpl
def register_tasks(register) -> None:
    register("unconditional", Unconditional)
