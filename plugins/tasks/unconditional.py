"""Task ``unconditional``: generate images from noise (G: z -> image, D: image -> real/fake)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import ganzoo
from ganzoo.api import Judge, StepContext, Task
from ganzoo.hookspecs import hookimpl


class Unconditional(Task):
    """Generate images from noise; seed 001's loop, made fast (the engine reuses the D step's fakes for G)."""

    description = "Generate images from noise (G: z -> image, D: image -> real/fake logit)"
    metric_plugins = True
    eval_reads = frozenset({"num", "data_root", "classifier", "seed"})  # no image folder: look at `ganzoo sample`
    headline = "fid"
    # What trains when the user names nothing: the fastest to recognisable samples on a 2-core CPU among the
    # settings measured in benchmarks/results/shapes_default.md. The seeds' and papers' settings are recipes
    # (--recipe seed001, dcgan, sngan, ...); an explicit option overrides any of these.
    default_loss = "hinge"
    config_defaults = {"width": 32, "ema": True, "lr": 1e-3, "beta1": 0.0, "beta2": 0.99}

    def generate(self, ctx: StepContext, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        z = ctx.randn(batch["image"].shape[0], self.config.nz)
        return {"fake": ctx.nets["G"](z)}

    def judges(self, batch: dict[str, Tensor], out: dict[str, Tensor]) -> list[Judge]:
        return [Judge("D", batch["image"], out["fake"])]

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
        return ganzoo.evaluate_generator(self, nets, device, **options)


@hookimpl
def register_tasks(register) -> None:
    register("unconditional", Unconditional)
