"""ADA-style adaptive augmentation (Karras et al. 2020): augment with probability p, steered by D's overfitting.

Every image D sees gets each op of ``policy`` with probability ``p`` (its own
draw per image and op). Every ``interval`` D steps the overfitting heuristic
``r_t = E[sign(D(real))]`` over those steps moves p towards keeping r_t at
``target`` (0.6, the paper's): up by ``images / speed`` when r_t is above it
(D is too sure of the reals: overfitting), down otherwise, within [0, 1]. So p
can go from 0 to 1 in ``speed`` images (the paper: 500k; ours 100k, for
CPU-sized runs). p and the running sums are buffers: the checkpoint keeps
them, and resume is exact. The ops are DiffAugment's (colour, translation,
cutout) rather than the paper's 18-op pipeline; p is logged as ``ada_p``,
r_t as ``ada_rt``. Everything stays on the device (no host sync per step).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from ganzoo.api import Augment, GanzooError
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.augments.ops import OPS, parse_policy, uniform


class AdaptiveAugment(Augment):
    """Each op with probability p; p follows r_t = E[sign(D(real))] towards ``target``."""

    description: ClassVar[str] = "ADA-style: ops with probability p, p steered by E[sign(D(real))] towards 0.6"
    policy: str = "color,translation,cutout"
    target: float = 0.6
    interval: int = 4
    speed: float = 100_000.0
    p_init: float = 0.0

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.ops = parse_policy(self.policy, "ada")
        if not (0 <= self.p_init <= 1 and self.interval >= 1 and self.speed > 0):
            raise GanzooError("--augment-opt: ada needs 0 <= p_init <= 1, interval >= 1 and speed > 0")
        self.register_buffer("p", torch.tensor(float(self.p_init)))
        self.register_buffer("signs", torch.zeros(()))  # sum of sign(D(real)) since the last adjustment
        self.register_buffer("seen", torch.zeros(()))  # logits counted in it
        self.register_buffer("images", torch.zeros(()))  # real images counted in it
        self.register_buffer("observed", torch.zeros((), dtype=torch.long))
        self.register_buffer("rt", torch.zeros(()))

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        for name in self.ops:
            apply = uniform(x, generator) < self.p.to(x.dtype)
            x = torch.where(apply, OPS[name](x, generator), x)
        return x

    @torch.no_grad()
    def observe(self, real_logits: Tensor) -> None:
        self.signs += torch.sign(real_logits.float()).sum()
        self.seen += real_logits.numel()
        self.images += real_logits.shape[0]
        self.observed += 1
        due = self.observed % self.interval == 0
        rt = self.signs / self.seen.clamp(min=1)
        moved = (self.p + torch.sign(rt - self.target) * self.images / self.speed).clamp(0, 1)
        self.p.copy_(torch.where(due, moved, self.p))
        self.rt.copy_(torch.where(due, rt, self.rt))
        for total in (self.signs, self.seen, self.images):
            total.copy_(torch.where(due, torch.zeros_like(total), total))

    def logs(self) -> dict[str, Tensor]:
        return {"ada_p": self.p.detach().clone(), "ada_rt": self.rt.detach().clone()}


@hookimpl
def register_augments(register: Register) -> None:
    register("ada", AdaptiveAugment)
