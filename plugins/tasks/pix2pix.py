"""Task ``pix2pix``: paired image-to-image translation A -> B (Isola et al. 2017).

Networks: ``G`` (A -> B) and ``D``, a conditional PatchGAN that judges the
image together with its source, ``D(cat[B or G(A), A])``: it checks that the
output fits its input, not only that it looks like B. G's loss is the
adversarial term (any loss plugin, default ``bce``, the paper's vanilla GAN)
plus ``lambda_L1=100`` times L1(G(A), B) (``--task-opt``). The data are pairs:
a dataset of layout ``aligned`` (``aligned``, ``style-benchmark-aligned``).

Architectures: every one with an image-input G and a D that takes condition
channels. The default ``unet`` (skip connections at every level, no
normalisation, an SN-PatchGAN D) keeps the input's exposure and detail, which
a translation with ground truth needs. ``resnet-6blocks``/``resnet-9blocks``
serve it too, with the 70x70 PatchGAN (``--arch-opt d_norm=batch`` for the
paper's batch norm); their instance-norm G is blind to the input's exposure.

The recipe (``config_defaults``): batch 1 and the reference schedule (constant
LR, then linear decay to zero over the second half), with the engine's Adam
(2e-4, betas (0.5, 0.999)). As for cyclegan, the engine runs the D step before
the G step; the reference also halves D's loss, which Adam's scale invariance
makes immaterial. ::

    ganzoo train --task pix2pix --dataset aligned --data-root facades --image-size 256 --epochs 200
    ganzoo translate runs/<run> photos/ --out translated/
    ganzoo eval runs/<run>        # held-out PSNR/SSIM/L1 vs identity and match_histograms

``evaluate`` is the translation tasks' shared one (plugins/tasks/translation.py),
so pix2pix and cyclegan figures compare directly.
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


class Pix2Pix(Task):
    """G(A) ~ B from aligned pairs: L1 to the target plus a conditional PatchGAN that sees (image, A)."""

    description = "Paired image-to-image translation A -> B (pix2pix: L1 + conditional PatchGAN on (image, A))"
    layout = "aligned"
    generator_input = ("image",)
    discriminator_input = ("image", "channels")
    default_arch = "unet"
    default_loss = "bce"
    command = "translate"
    directions: ClassVar[dict[str, str]] = {"AtoB": "G"}  # the generator `translate` runs
    config_defaults = {"batch_size": 1, "lr_policy": "linear"}  # the reference recipe
    headline = "AtoB_ssim"
    eval_reads = frozenset({"num", "data_root", "out"})  # deterministic scores, no feature net
    sample_caption = "One row per fixed training pair: input A | G(A) | target B."
    lambda_L1 = 100.0  # --task-opt lambda_L1=...

    def __init__(self, arch: Architecture, config: Any, dataset: DatasetSpec, **options: Any) -> None:
        super().__init__(arch, config, dataset, **options)
        if self.lambda_L1 < 0:
            raise GanzooError(f"--task-opt lambda_L1={self.lambda_L1}: task 'pix2pix' needs it >= 0")

    def condition_channels(self) -> int:
        return self.config.channels  # D sees the source A stacked on the image it judges

    def generate(self, ctx: StepContext, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"fake": ctx.nets["G"](batch["A"])}

    def judges(self, batch: dict[str, Tensor], out: dict[str, Tensor]) -> list[Judge]:
        return [Judge("D", batch["B"], out["fake"], channels=batch["A"], fake_name="G(x)")]

    def generator_terms(self, ctx: StepContext, batch: dict[str, Tensor],
                        out: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        l1 = F.l1_loss(out["fake"], batch["B"])
        return self.lambda_L1 * l1, {"l1": l1.detach()}

    def fixed_inputs(self, ctx: StepContext, batch: dict[str, Tensor] | None, n: int) -> dict[str, Tensor]:
        if batch is None:
            raise GanzooError("a pix2pix checkpoint translates images; use `ganzoo translate CKPT IMAGES --out DIR`")
        rows = min(n, SAMPLE_ROWS, batch["A"].shape[0])
        return {"A": batch["A"][:rows], "B": batch["B"][:rows]}

    @torch.no_grad()
    def samples(self, nets: dict[str, nn.Module], fixed: dict[str, Tensor]) -> Tensor:
        columns = [fixed["A"], nets["G"](fixed["A"]).clamp(-1, 1), fixed["B"]]
        return torch.stack([c.float() for c in columns], dim=1).flatten(0, 1)

    def sample_nrow(self, n: int) -> int:
        return 3

    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """PSNR/SSIM/L1 of G(a) vs b on the held-out pairs, against the identity map and histogram matching
        (``translation.score_translations``). ``out``: a folder for ``pix2pix_eval.png``."""
        return score_translations(self, {"AtoB": nets["G"]}, device, **options)

    def figures(self, results: dict[str, Any]) -> dict[str, float]:
        """The model's PSNR/SSIM/L1 and the identity map's beside them."""
        return translation_figures(results)


@hookimpl
def register_tasks(register: Register) -> None:
    register("pix2pix", Pix2Pix)
