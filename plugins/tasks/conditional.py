"""Task ``conditional``: class-conditional generation on a labelled dataset."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import ganzoo
from ganzoo.api import DataOptions, IncompatibleError, Judge, StepContext, Task
from ganzoo.hookspecs import hookimpl


class Conditional(Task):
    """G(z, y) and D(x, y) see the class label; sample grids put one class per column."""

    description = "Class-conditional generation: G(z, y), D(x, y) on a labelled dataset"
    generator_input = ("noise", "label")
    discriminator_input = ("image", "label")
    metric_plugins = True
    eval_reads = frozenset({"num", "data_root", "classifier", "seed"})
    headline = "fid"

    def __init__(self, arch: Any, config: Any, dataset: Any, **options: Any) -> None:
        super().__init__(arch, config, dataset, **options)
        dataset = dataset.with_classes(config.dataset, DataOptions(root=config.data_root,
                                                                   options=dict(config.data_options)))
        if dataset.num_classes <= 0:
            raise IncompatibleError(
                f"task 'conditional' needs a labelled dataset; '{config.dataset}' has no classes "
                "(try --dataset mnist or --dataset shapes)"
            )
        self.num_classes = dataset.num_classes

    def generate(self, ctx: StepContext, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        z = ctx.randn(batch["image"].shape[0], self.config.nz)
        return {"fake": ctx.nets["G"](z, batch["label"])}

    def judges(self, batch: dict[str, Tensor], out: dict[str, Tensor]) -> list[Judge]:
        return [Judge("D", batch["image"], out["fake"], label=batch["label"])]

    def fixed_inputs(self, ctx: StepContext, batch: dict[str, Tensor] | None, n: int) -> dict[str, Tensor]:
        """Classes in turn, in whole rows of one class per column: ``n`` rounded down to a multiple of the
        class count (64 with 10 classes: 60, 6 rows), so the grid has no ragged last row; below one row, ``n``."""
        if n >= self.num_classes:
            n -= n % self.num_classes
        labels = torch.arange(n, device=ctx.device) % self.num_classes
        return {"z": ctx.randn(n, self.config.nz), "label": labels}

    @torch.no_grad()
    def samples(self, nets: dict[str, nn.Module], fixed: dict[str, Tensor]) -> Tensor:
        return nets["G"](fixed["z"], fixed["label"]).float()

    def sample_nrow(self, n: int) -> int:
        return min(n, self.num_classes)

    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """Sample G (classes in turn) and score it like the unconditional task (fid, kid, is, pr, dc, modes, ...)."""
        return ganzoo.evaluate_generator(self, nets, device, **options)


@hookimpl
def register_tasks(register) -> None:
    register("conditional", Conditional)
