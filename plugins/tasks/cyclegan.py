"""Task ``cyclegan``: unpaired image-to-image translation (Zhu et al. 2017) and the ``ganzoo translate`` command.

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
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
import torch.nn.functional as F
from skimage.exposure import match_histograms
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import Tensor, nn

import ganzoo
from ganzoo.api import Architecture, DatasetSpec, GanzooError, Judge, StepContext, Task
from ganzoo.hookspecs import hookimpl
from ganzoo.images import list_images, read_image, save_grid, save_image, to_uint8

SAMPLE_ROWS = 8
EVAL_GRID_ROWS = 8
HISTOGRAM_REFERENCES = 256
# translate's default limit: the generator's activations grow with the area (~1 KB per pixel at width 64),
# so 2048x2048 needs a few GB; an 8000x8000 photo would need tens (--max-pixels raises the limit).
MAX_PIXELS = 2048 * 2048


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
        g_cfg, d_cfg = self.net_config(self.generator_in_channels()), self.net_config()
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

    @torch.no_grad()
    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """PSNR/SSIM on held-out aligned pairs (a, f(a)) against the identity map and histogram matching.

        Needs a dataset whose test split holds aligned pairs (``style-benchmark``).
        Scores G_AB(a) against f(a) and G_BA(f(a)) against a, in [0, 1] RGB, as means
        over ``num`` pairs (default all). Baselines: the input itself (identity),
        and ``skimage.exposure.match_histograms`` of the input to (one) the B image
        of train item i, and (domain) all of the first 256 train images of the
        target domain tiled together. ``out``: a folder for ``cyclegan_eval.png``.
        ``metrics`` is refused: these are the scores.
        """
        if options.get("metrics"):
            raise GanzooError("--metrics: a cyclegan run is scored by PSNR/SSIM on aligned pairs against identity and "
                              "histogram matching, not by generation metrics; drop --metrics")

        config = dataclasses.replace(self.config, data_root=options.get("data_root") or self.config.data_root)
        test = ganzoo.load_split(config, "test")
        if not getattr(test, "aligned_pairs", False):
            raise GanzooError(
                f"task 'cyclegan' scores translations only where the test split holds aligned pairs with ground "
                f"truth, such as dataset 'style-benchmark'; '{config.dataset}' has none. Look at results with "
                "`ganzoo translate` instead."
            )
        train = ganzoo.load_split(config, "train")
        pairs = [test[i] for i in range(min(int(options.get("num") or len(test)), len(test)))]
        refs = [train[i] for i in range(min(HISTOGRAM_REFERENCES, len(train)))]
        results: dict[str, Any] = {"pairs": len(pairs), "histogram_references": len(refs)}
        columns: list[list[np.ndarray]] = []
        for direction, source, target, G in (("AtoB", "A", "B", nets["G_AB"]), ("BtoA", "B", "A", nets["G_BA"])):
            inputs = torch.stack([p[source] for p in pairs])
            outputs = torch.cat([G(chunk.to(device)).float().cpu() for chunk in inputs.split(32)])
            sources = [to_uint8(x) for x in inputs]
            domain = np.concatenate([to_uint8(r[target]) for r in refs], axis=0)
            truth = [_unit(to_uint8(p[target])) for p in pairs]
            candidates = {
                "model": [_unit(to_uint8(y)) for y in outputs],
                "identity": [_unit(x) for x in sources],
                "match_histograms_one": [_unit(match_histograms(x, to_uint8(refs[i % len(refs)][target]),
                                                                channel_axis=-1)) for i, x in enumerate(sources)],
                "match_histograms_domain": [_unit(match_histograms(x, domain, channel_axis=-1)) for x in sources],
            }
            results[direction] = {name: _similarity(truth, ys) for name, ys in candidates.items()}
            columns += [candidates["identity"], truth, candidates["model"], candidates["match_histograms_domain"]]
        if options.get("out"):
            rows = [torch.from_numpy(np.stack(c[:EVAL_GRID_ROWS])).permute(0, 3, 1, 2).float() * 2 - 1 for c in columns]
            grid = torch.stack(rows, dim=1).flatten(0, 1)
            results["grid"] = str(save_grid(grid, Path(options["out"]) / "cyclegan_eval.png", nrow=len(columns)))
        return results


    def figures(self, results: dict[str, Any]) -> dict[str, float]:
        """The model's PSNR/SSIM each way, and the identity map's beside them."""
        return {f"{direction}_{key}" if who == "model" else f"{direction}_{who}_{key}": value
                for direction in ("AtoB", "BtoA") for who in ("model", "identity")
                for key, value in results[direction][who].items()}


def _unit(image: np.ndarray) -> np.ndarray:
    """An 8-bit image (as a user would save it) as floats in [0, 1]."""
    return image.astype(np.float64) / 255.0


def _similarity(truth: list[np.ndarray], images: list[np.ndarray]) -> dict[str, float]:
    """Mean PSNR and SSIM of ``images`` against ``truth`` (HxWxC in [0, 1])."""
    return {
        "psnr": float(np.mean([peak_signal_noise_ratio(t, y, data_range=1.0) for t, y in zip(truth, images)])),
        "ssim": float(np.mean([structural_similarity(t, y, data_range=1.0, channel_axis=-1)
                               for t, y in zip(truth, images)])),
    }


def translate_image(G: nn.Module, image: Tensor, multiple: int = 4, min_size: int = 8) -> Tensor:
    """G on one CxHxW image of any size: pad (reflect) to a multiple of 4, at least 8, and crop back."""
    height, width = image.shape[-2:]
    pad_h = max(min_size, -(-height // multiple) * multiple) - height
    pad_w = max(min_size, -(-width // multiple) * multiple) - width
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    padded = F.pad(image.unsqueeze(0), (0, pad_w, 0, pad_h), mode=mode)
    return G(padded)[0, :, :height, :width]


def _check_sizes(plan: list[tuple[Path, Path]], max_pixels: int) -> None:
    """Refuse, before translating anything, an image too large to translate in memory (header only, no decode)."""
    from PIL import Image

    for source, _ in plan:
        try:
            with Image.open(source) as image:
                width, height = image.size
        except Exception:  # unreadable: read_image says why, in its turn
            continue
        if width * height > max_pixels:
            raise GanzooError(
                f"{source} is {width}x{height} px ({width * height / 1e6:.1f} MP), above --max-pixels {max_pixels} "
                f"({max_pixels / 1e6:.1f} MP): the generator's memory grows with the area; downscale the image "
                "first, or raise --max-pixels if this machine has the memory"
            )


def _plan(inputs: tuple[str, ...], out: Path) -> list[tuple[Path, Path]]:
    """(source, destination) for every image: folders keep their relative layout, outputs are PNG."""
    plan: list[tuple[Path, Path]] = []
    for given in map(Path, inputs):
        if given.is_dir():
            files = list_images(given)
            if not files:
                raise GanzooError(f"no images found under {given}; check the INPUT folder")
            plan += [(f, out / f.relative_to(given).with_suffix(".png")) for f in files]
        else:
            plan.append((given, out / given.with_suffix(".png").name))
    seen: dict[Path, Path] = {}
    for source, target in plan:
        if target in seen:
            raise GanzooError(f"{seen[target]} and {source} would both be written to {target}; translate them "
                              "into separate --out folders")
        seen[target] = source
    return plan


@hookimpl
def register_tasks(register) -> None:
    register("cyclegan", CycleGAN)


@hookimpl
def register_commands(cli: click.Group) -> None:
    @ganzoo.run_command(cli, "translate")
    @click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True), metavar="INPUT...")
    @click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), default="AtoB", show_default=True,
                  help="AtoB runs G_AB, BtoA runs G_BA.")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the translated PNGs.")
    @click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
                  help="Refuse larger images (width x height): memory grows with the area.")
    def translate_cmd(run: ganzoo.Run, inputs: tuple[str, ...], direction: str, out: str, max_pixels: int) -> None:
        """Translate images (files or folders) with a cyclegan CHECKPOINT, at their own size.

        Folders are searched recursively and their layout is kept under --out;
        every result is written as PNG. Any image size up to --max-pixels works:
        images are padded to a multiple of 4 and cropped back.

        \b
        Example:
          ganzoo translate runs/cyclegan-run photos/ --direction AtoB --out styled/
        """
        run.require_command("translate")
        G = run.nets["G_AB" if direction == "AtoB" else "G_BA"]
        plan = _plan(inputs, Path(out))
        _check_sizes(plan, max_pixels)
        with torch.no_grad():
            for source, target in plan:
                image = read_image(source, run.config.channels).to(run.device)
                save_image(translate_image(G, image).float(), target)
        click.echo(f"translated {len(plan)} image(s) {direction} into {out}")
