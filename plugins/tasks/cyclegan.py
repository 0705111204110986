"""Task ``cyclegan``: unpaired image-to-image translation (Zhu et al. 2017).

Networks: ``G_AB`` (A -> B), ``G_BA`` (B -> A), ``D_A`` (real A vs G_BA(B)),
``D_B`` (real B vs G_AB(A)); one Adam for both Gs, one for both Ds (engine
defaults lr 2e-4, betas (0.5, 0.999)). Losses, all settable with ``--task-opt``:

* adversarial, from any loss plugin (default ``lsgan``), weight ``lambda_gan=1``;
* cycle L1, ``lambda_A=10`` (A -> B -> A) and ``lambda_B=10`` (B -> A -> B);
* identity L1, ``lambda_identity=0.5`` times the cycle weight of the domain
  (G_AB(b) ~ b, G_BA(a) ~ a), off at 0;
* D trains on a history ``pool_size=50`` of generated images per domain.

Two departures from junyanz/pytorch-CycleGAN, both deliberate:
the engine runs the D step before the G step (both on the same fakes), where
the reference updates G first; and the ``lsgan`` plugin's generator loss is
½·MSE (Mao et al.) where the reference uses MSE, so its adversarial term has
half the reference's weight: ``--task-opt lambda_gan=2`` restores the balance.

The reference schedule (constant LR, then linear decay to zero over the second
half; ``decay_start`` in a TOML config moves the start) and batch 1 are this
task's ``config_defaults``, used unless ``--lr-policy``/``--batch-size`` say otherwise::

    ganzoo train --task cyclegan --arch resnet-9blocks --dataset unaligned --data-root horse2zebra \\
        --image-size 256 --epochs 200
    ganzoo translate runs/<run> photos/ --direction AtoB --out zebras/

The history pools are parameter-free modules in the network dict (``pool_A``,
``pool_B``), so they are saved in the checkpoint and a resumed run is exact.
``ganzoo translate`` (plugins/tasks/translate.py) runs G_AB or G_BA; ``evaluate``
is the translation tasks' shared one (plugins/tasks/translation.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.api import Architecture, DatasetSpec, GanzooError, Judge, StepContext, Task
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.tasks.translation import score_translations, translation_figures

SAMPLE_ROWS = 8


class ImagePool(nn.Module):
    """A history of generated images for D (Shrivastava et al. 2017), as in CycleGAN.

    Until the pool is full each new image is stored and passed on; after that
    each image is, with probability 1/2, swapped for a random stored one (which
    D then sees) and otherwise passed on. Draws come from the caller's
    generator; the images and the fill count are saved with the checkpoint.
    """

    def __init__(self, size: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.size = size
        self.filled = 0
        self.register_buffer("images", torch.zeros(size, *shape))

    def get_extra_state(self) -> Tensor:
        return torch.tensor(self.filled)

    def set_extra_state(self, state: Tensor) -> None:
        self.filled = int(state)

    @torch.no_grad()
    def query(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """The images D should see in place of ``images`` (B, C, H, W)."""
        if self.size == 0:
            return images
        swap = (torch.rand(images.shape[0], generator=generator) < 0.5).tolist()
        slots = torch.randint(self.size, (images.shape[0],), generator=generator).tolist()
        out = images.clone()
        for j in range(images.shape[0]):
            if self.filled < self.size:
                self.images[self.filled] = images[j]
                self.filled += 1
            elif swap[j]:
                out[j] = self.images[slots[j]]
                self.images[slots[j]] = images[j]
        return out


class CycleGAN(Task):
    """Unpaired translation between domains A and B: two generators, two PatchGAN discriminators.

    Its recipe (``config_defaults``) trains with batch 1 and the reference linear LR decay.
    """

    description = "Unpaired image-to-image translation A <-> B (CycleGAN: cycle + identity + adversarial losses)"
    layout = "unaligned"
    d_nets = ("D_A", "D_B")
    g_nets = ("G_AB", "G_BA")
    ema_nets = ("G_AB", "G_BA")
    default_loss = "lsgan"
    default_arch = "resnet-9blocks"
    command = "translate"
    eval_reads = frozenset({"num", "data_root", "out"})  # deterministic scores, no feature net
    directions: ClassVar[dict[str, str]] = {"AtoB": "G_AB", "BtoA": "G_BA"}  # the generator `translate` runs
    config_defaults = {"batch_size": 1, "lr_policy": "linear"}  # the reference recipe
    sample_caption = (
        "One row per fixed training pair: real A | fake B = G_AB(A) | reconstructed A = G_BA(G_AB(A)) | "
        "real B | fake A = G_BA(B) | reconstructed B = G_AB(G_BA(B))."
    )

    generator_input = ("image",)
    discriminator_input = ("image",)
    headline = "AtoB_ssim"
    # Options (--task-opt): loss weights and the history pool size.
    lambda_A = 10.0
    lambda_B = 10.0
    lambda_identity = 0.5
    lambda_gan = 1.0
    pool_size = 50

    def __init__(self, arch: Architecture, config: Any, dataset: DatasetSpec, **options: Any) -> None:
        super().__init__(arch, config, dataset, **options)
        negative = [key for key, value in self.options.items() if value < 0]
        if negative:
            raise GanzooError(f"--task-opt {negative[0]}={self.options[negative[0]]}: task 'cyclegan' needs it >= 0")

    def build(self) -> dict[str, nn.Module]:
        c = self.config
        g_cfg, d_cfg = self.net_config(self.generator_in_channels()), self.net_config(self.discriminator_in_channels())
        shape = (c.channels, c.image_size, c.image_size)
        return {
            "G_AB": self.arch.generator(g_cfg), "G_BA": self.arch.generator(g_cfg),
            "D_A": self.arch.discriminator(d_cfg), "D_B": self.arch.discriminator(d_cfg),
            "pool_A": ImagePool(self.pool_size, shape), "pool_B": ImagePool(self.pool_size, shape),
        }

    def generate(self, ctx: StepContext, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"fake_B": ctx.nets["G_AB"](batch["A"]), "fake_A": ctx.nets["G_BA"](batch["B"])}

    def judges(self, batch: dict[str, Tensor], out: dict[str, Tensor]) -> list[Judge]:
        """D_A: real A vs G_BA(B); D_B: real B vs G_AB(A)."""
        return [Judge("D_A", batch["A"], out["fake_A"], weight=self.lambda_gan, fake_name="G(x)"),
                Judge("D_B", batch["B"], out["fake_B"], weight=self.lambda_gan, fake_name="G(x)")]

    def fake_for_d(self, ctx: StepContext, judge: Judge, fake: Tensor) -> Tensor:
        """D trains on the history pool of its domain (the pool draws from the engine's generator)."""
        pool = ctx.eager["pool_A" if judge.d == "D_A" else "pool_B"]
        return pool.query(fake, ctx.generator)

    def generator_terms(self, ctx: StepContext, batch: dict[str, Tensor],
                        out: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Cycle L1 both ways and, when lambda_identity > 0, identity L1 for both generators."""
        G_AB, G_BA = ctx.nets["G_AB"], ctx.nets["G_BA"]
        real_A, real_B = batch["A"], batch["B"]
        cycle_A = F.l1_loss(G_BA(out["fake_B"]), real_A)
        cycle_B = F.l1_loss(G_AB(out["fake_A"]), real_B)
        total = self.lambda_A * cycle_A + self.lambda_B * cycle_B
        logs = {"cycle_A": cycle_A.detach(), "cycle_B": cycle_B.detach()}
        if self.lambda_identity > 0:
            idt_AB = F.l1_loss(G_AB(real_B), real_B)
            idt_BA = F.l1_loss(G_BA(real_A), real_A)
            total = total + self.lambda_identity * (self.lambda_B * idt_AB + self.lambda_A * idt_BA)
            logs.update(idt_AB=idt_AB.detach(), idt_BA=idt_BA.detach())
        return total, logs

    def fixed_inputs(self, ctx: StepContext, batch: dict[str, Tensor] | None, n: int) -> dict[str, Tensor]:
        if batch is None:
            raise GanzooError("a cyclegan checkpoint translates images; use `ganzoo translate CKPT IMAGES --out DIR`")
        rows = min(n, SAMPLE_ROWS, batch["A"].shape[0])
        return {"A": batch["A"][:rows], "B": batch["B"][:rows]}

    @torch.no_grad()
    def samples(self, nets: dict[str, nn.Module], fixed: dict[str, Tensor]) -> Tensor:
        G_AB, G_BA = nets["G_AB"], nets["G_BA"]
        fake_B, fake_A = G_AB(fixed["A"]), G_BA(fixed["B"])
        columns = [fixed["A"], fake_B, G_BA(fake_B), fixed["B"], fake_A, G_AB(fake_A)]
        return torch.stack([c.float() for c in columns], dim=1).flatten(0, 1)

    def sample_nrow(self, n: int) -> int:
        return 6

    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """PSNR/SSIM/L1 of G_AB(a) vs f(a) and G_BA(f(a)) vs a on held-out aligned pairs, against the identity
        map and histogram matching (see ``translation.score_translations``); needs a dataset whose test split
        holds aligned pairs (``style-benchmark``). ``out``: a folder for ``cyclegan_eval.png``."""
        return score_translations(self, {d: nets[g] for d, g in self.directions.items()}, device, **options)

    def figures(self, results: dict[str, Any]) -> dict[str, float]:
        """The model's PSNR/SSIM/L1 each way, and the identity map's beside them."""
        return translation_figures(results)


@hookimpl
def register_tasks(register: Register) -> None:
    register("cyclegan", CycleGAN)
