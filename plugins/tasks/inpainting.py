"""Task ``inpainting``: fill holes in images (the DeepFill v2 recipe), its evaluation, and ``ganzoo inpaint``.

G sees the masked image (hole pixels set to 0, mid-gray in [-1, 1]) with the
mask as an extra channel (1 = hole) and predicts a whole image. With
``prefill=smooth`` the hole is first filled smoothly from its border
(:func:`smooth_fill`), with ``prefill=biharmonic`` by scikit-image's
biharmonic inpainting (the classical baseline itself, about 2 ms per 32 px
image on the CPU), and G predicts a correction to that fill: it starts
from a classical fill's colours instead of gray, which matters on photos it
has never seen. The result is
always the composite ``pred * mask + input * (1 - mask)``, computed with
``torch.where`` so pixels outside the hole are the input's, bit for bit.
``pred`` is clipped to [-1, 1] in the composite (what D and users see), while
the L1 loss uses the unclipped prediction, so no pixel ever loses its gradient.
D (SN-PatchGAN by default) sees real images and composites, each with the mask.

G's loss is an L1 term weighted in the hole and on the known pixels (the
partial-convolution weights of Liu et al. 2018: 6 and 1, summed over pixels
and divided by their count) plus ``adv_weight`` times any registered
adversarial loss (hinge by default). ``adv_weight=0`` is the L1-only ablation.
Masks are drawn from the engine's generator, so exact resume still holds.

Task options (``--task-opt``): ``mask`` (a name from ``ganzoo list masks``,
default ``box``), ``mask_<option>`` for that mask's options (e.g.
``mask_area=0.25``), ``l1_hole`` (6), ``l1_valid`` (1), ``adv_weight`` (0.1),
``prefill`` (``zero``, ``smooth`` or ``biharmonic``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ganzoo
from ganzoo.api import GanzooError, IncompatibleError, Judge, StepContext, Task
from ganzoo.files import check_not_inputs
from ganzoo.hookspecs import hookimpl
from ganzoo.images import IMAGE_EXTENSIONS, list_images, read_image, save_grid, save_image, warn_if_transparent
from ganzoo.runs import SEED

DEFAULT_MASK = "box"
MASK_PREFIX = "mask_"
COLUMNS = 8
AREA_BIN = 0.1
PSNR_CAP = 100.0  # dB; a hole filled exactly (e.g. blank background) would otherwise be infinite
METHODS = ("ganzoo", "biharmonic", "smooth-fill", "mean-fill")
PREFILLS = ("zero", "smooth", "biharmonic")
SMOOTHING_ITERATIONS = 32


def split_mask_options(options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``mask=kind`` and its ``mask_<opt>=v`` options out of task or eval options: (kind, mask options)."""
    kind = str(options.get("mask") or DEFAULT_MASK)
    return kind, {k[len(MASK_PREFIX) :]: v for k, v in options.items() if k.startswith(MASK_PREFIX)}


def mask_plugin(kind: str, flag: str) -> Any:
    """The registered mask ``kind``; an unknown name is a one-line error that also names the flag it came from."""
    try:
        return ganzoo.get("masks", kind)
    except GanzooError as error:
        raise GanzooError(f"{flag} mask={kind}: {error}") from None


def numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from a torch generator (the engine's), so masks follow its state."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))


def masked_input(image: Tensor, mask: Tensor) -> Tensor:
    """What G sees: the image with the hole set to 0, and the mask as one more channel."""
    return torch.cat([image * (1 - mask), mask], dim=1)


def smooth_fill(image: Tensor, mask: Tensor, iterations: int = SMOOTHING_ITERATIONS) -> Tensor:
    """Fill each hole of (B, C, H, W) images from its border; known pixels stay the image's, exactly.

    A pull-push pyramid (the known pixels averaged down to 1x1, then each
    level's holes filled from the coarser level on the way back up), then a
    few Jacobi steps of the Laplace equation to smooth the block edges: close
    to a harmonic fill, in a few dozen pooling ops per batch, so it can run at
    every training step where skimage's per-image biharmonic solve cannot.
    """
    known = 1 - mask
    levels = []
    value, weight = image * known, known.expand_as(image)
    while min(value.shape[-2:]) > 1:
        levels.append((value, weight))
        value, weight = F.avg_pool2d(value, 2, ceil_mode=True), F.avg_pool2d(weight, 2, ceil_mode=True)
    fill = value / weight.clamp_min(1e-6)  # an image with no known pixel at all is filled with 0
    for value, weight in reversed(levels):
        up = F.interpolate(fill, size=value.shape[-2:], mode="bilinear", align_corners=False)
        fill = value + (1 - weight) * up  # a coarse cell's known average, its unknown share from above
    hole = mask.bool().expand_as(image)
    fill = torch.where(hole, fill, image)
    for _ in range(iterations):
        fill = torch.where(hole, F.avg_pool2d(F.pad(fill, (1, 1, 1, 1), mode="replicate"), 3, stride=1), image)
    return fill


def composite(pred: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """``pred * mask + image * (1 - mask)`` with ``pred`` clipped to [-1, 1]; known pixels are the input's, exactly."""
    return torch.where(mask.bool(), pred.to(image.dtype).clamp(-1, 1), image)


def complete(G: nn.Module, image: Tensor, mask: Tensor, prefill: str = "zero") -> tuple[Tensor, Tensor]:
    """G's raw prediction and the composite for images (B, C, H, W) and masks (B, 1, H, W).

    With ``prefill="smooth"`` or ``"biharmonic"`` G sees that fill and its
    output is added to it (a residual): a G that outputs zero returns the fill,
    so G only has to learn a correction.
    """
    if prefill != "zero":
        filled = smooth_fill(image, mask) if prefill == "smooth" else biharmonic_prefill(image, mask)
        pred = filled + G(torch.cat([filled, mask], dim=1))
    else:
        pred = G(masked_input(image, mask))
    return pred, composite(pred, image, mask)


def self_ensemble(G: nn.Module, image: Tensor, mask: Tensor, prefill: str = "zero") -> tuple[Tensor, Tensor]:
    """:func:`complete`, averaged over the 8 flips and quarter turns of image and mask (inference only).

    EDSR's geometric self-ensemble (Lim et al. 2017): each view is completed
    and turned back, and the mean of the 8 predictions is composited. It costs
    8 passes of G and averages out part of G's error, which matters where a
    classical fill is already close (thin holes on photos, under
    ``prefill=biharmonic``). Only for images with no up or left: a turned
    digit is another digit, and on MNIST the mean is worse than one pass.
    """
    preds = []
    for turns in range(4):
        for flip in (False, True):
            view = [torch.rot90(t, turns, (2, 3)) for t in (image, mask)]
            view = [t.flip(3) for t in view] if flip else view
            pred = complete(G, *view, prefill)[0]
            preds.append(torch.rot90(pred.flip(3) if flip else pred, -turns, (2, 3)))
    pred = torch.stack(preds).mean(0)
    return pred, composite(pred, image, mask)


class Inpainting(Task):
    """Complete masked images: G(masked image, mask) -> image, composited into the known pixels."""

    description = "Inpainting: G(masked image + mask) fills the hole; L1 + adversarial; SN-PatchGAN D sees the mask"
    default_loss = "hinge"
    default_arch = "unet"
    command = "inpaint"
    sample_caption = (
        "Each block of three rows: masked input (hole in gray), ganzoo's completion, ground truth; "
        "same images and masks at every step."
    )

    generator_input = ("image",)
    discriminator_input = ("image", "channels")
    headline = "hole_psnr"
    # Options (--task-opt), besides mask=KIND and that mask's own options as mask_<option>:
    mask = DEFAULT_MASK
    l1_hole = 6.0
    l1_valid = 1.0
    adv_weight = 0.1
    prefill = "zero"

    @classmethod
    def option_defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The declared options plus the chosen mask's, each prefixed ``mask_`` (e.g. ``mask_area``)."""
        kind, _ = split_mask_options(given)
        return {**super().option_defaults(given),
                **{MASK_PREFIX + key: value for key, value in mask_plugin(kind, "--task-opt").options.items()}}

    def __init__(self, arch: Any, config: Any, dataset: Any, **options: Any) -> None:
        super().__init__(arch, config, dataset, **options)
        self.mask_kind, self.mask_options = split_mask_options(options)
        if self.prefill not in PREFILLS:
            raise GanzooError(f"--task-opt prefill={self.prefill}: task 'inpainting' knows {', '.join(PREFILLS)} "
                              "(zero: the hole in gray; smooth or biharmonic: G corrects that fill from the hole's "
                              "border)")
        size = config.image_size
        ganzoo.draw_masks(self.mask_kind, 1, (size, size), np.random.default_rng(0), **self.mask_options)  # fail early

    def generator_in_channels(self) -> int:
        return self.config.channels + 1  # the masked image and the mask

    def condition_channels(self) -> int:
        return 1  # D sees the mask too

    def masks(self, generator: torch.Generator, count: int, shape: tuple[int, int], device: torch.device) -> Tensor:
        """``count`` masks of the task's kind as a float (count, 1, H, W) tensor, drawn from ``generator``."""
        drawn = ganzoo.draw_masks(self.mask_kind, count, tuple(shape), numpy_rng(generator), **self.mask_options)
        return torch.from_numpy(drawn[:, None].astype(np.float32)).to(device)

    def complete(self, G: nn.Module, image: Tensor, mask: Tensor, ensemble: bool = False) -> tuple[Tensor, Tensor]:
        """:func:`complete` with this run's ``prefill``: training, samples, eval and `ganzoo inpaint` all fill alike.

        ``ensemble`` (eval and `ganzoo inpaint` only) averages over flips and turns: :func:`self_ensemble`.
        """
        return (self_ensemble if ensemble else complete)(G, image, mask, self.prefill)

    def generate(self, ctx: StepContext, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Fresh masks from the engine's generator, G's prediction and the composite D judges."""
        real = batch["image"]
        mask = self.masks(ctx.generator, real.shape[0], real.shape[-2:], real.device)
        pred, fake = self.complete(ctx.nets["G"], real, mask)
        return {"mask": mask, "pred": pred, "fake": fake}

    def judges(self, batch: dict[str, Tensor], out: dict[str, Tensor]) -> list[Judge]:
        return [Judge("D", batch["image"], out["fake"], channels=out["mask"], weight=self.adv_weight,
                      fake_name="G(x)")]

    def generator_terms(self, ctx: StepContext, batch: dict[str, Tensor],
                        out: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """L1 on the unclipped prediction, weighted in the hole and on the known pixels."""
        mask = out["mask"]
        error = (out["pred"].float() - batch["image"]).abs()
        l1 = (self.l1_hole * (error * mask).sum() + self.l1_valid * (error * (1 - mask)).sum()) / error.numel()
        return l1, {"l1": l1.detach()}

    def fixed_inputs(self, ctx: StepContext, batch: dict[str, Tensor] | None, n: int) -> dict[str, Tensor]:
        if batch is None:
            raise GanzooError(
                "task 'inpainting' completes given images rather than sampling from noise; use "
                "`ganzoo inpaint CKPT IMAGE --mask-kind box --out out.png` or `ganzoo eval CKPT`"
            )
        count = min(n, len(batch["image"]))
        count = count if count <= COLUMNS else count - count % COLUMNS
        images = batch["image"][:count]
        return {"image": images, "mask": self.masks(ctx.generator, count, images.shape[-2:], images.device)}

    @torch.no_grad()
    def samples(self, nets: dict[str, nn.Module], fixed: dict[str, Tensor]) -> Tensor:
        image, mask = fixed["image"], fixed["mask"]
        _, filled = self.complete(nets["G"], image, mask)
        rows = (image * (1 - mask), filled.float(), image)
        cols = min(COLUMNS, len(image))
        return torch.cat([row[i : i + cols] for i in range(0, len(image), cols) for row in rows])

    def sample_nrow(self, n: int) -> int:
        return max(1, min(COLUMNS, n // 3))

    def eval_option_defaults(self, given: dict[str, Any]) -> dict[str, Any]:
        """``mask`` (the training masks by default) and its ``mask_<opt>`` options, ``self_ensemble`` (average the
        fills of the 8 flips and turns) and ``split``; :meth:`evaluate` fills in what its caller leaves out from
        here, so the training kind keeps the options it was trained with."""
        mask = mask_plugin(str(given.get("mask") or self.mask_kind), "--eval-opt")
        trained = self.mask_options if mask is ganzoo.get("masks", self.mask_kind) else {}  # 'thin' or 'dist:thin'
        return {"mask": self.mask_kind, "self_ensemble": False, "split": "test",
                **{MASK_PREFIX + k: trained.get(k, v) for k, v in mask.options.items()}}

    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """Hole and composite PSNR/SSIM/L1 for ganzoo, biharmonic, smooth and mean fill, per mask-area bin.

        Options: ``num`` (1000) held-out images of split ``split`` ("test"),
        ``data_root``, ``seed`` (0) for the masks, ``mask``/``mask_<opt>``
        (default: the training masks), ``classifier`` (a ``ganzoo features
        train`` file: accuracy on the completed images), ``out`` (a folder
        that gets ``inpainting_eval.png``: rows masked | biharmonic | ganzoo |
        truth for the first 10 images). ``metrics`` is refused: these are the scores.
        """
        if options.get("metrics"):
            raise GanzooError("--metrics: an inpainting run is scored by hole PSNR/SSIM/L1 against classical fills, "
                              "not by generation metrics; drop --metrics (--classifier adds accuracy on the fills)")

        cfg = self.config
        chosen = {**self.eval_option_defaults(options), **options}
        kind, mask_options = split_mask_options(chosen)
        num, seed, split = int(options.get("num") or 1000), int(options.get("seed") or 0), chosen["split"]
        images, labels = ganzoo.read_split(cfg, split, data_root=options.get("data_root"), limit=num)
        masks = ganzoo.draw_masks(kind, len(images), tuple(images.shape[-2:]), np.random.default_rng(seed), **mask_options)
        mask_t = torch.from_numpy(masks[:, None].astype(np.float32))
        ensemble = bool(chosen["self_ensemble"])
        with torch.no_grad():
            ours = torch.cat([
                self.complete(nets["G"], x.to(device), m.to(device), ensemble)[1].float().cpu()
                for x, m in zip(images.split(100), mask_t.split(100))
            ])
        truth = to_unit(images)
        filled = {"ganzoo": to_unit(ours), "biharmonic": biharmonic_fill(truth, masks),
                  "smooth-fill": to_unit(smooth_fill(images, mask_t)), "mean-fill": mean_fill(truth, masks)}
        per_image = {m: [fill_metrics(truth[i], filled[m][i], masks[i]) for i in range(len(truth))] for m in METHODS}
        per_image["truth"] = [{"hf_energy": hole_hf_energy(truth[i], masks[i])} for i in range(len(truth))]
        if options.get("classifier"):
            self._add_accuracy(per_image, filled, truth, labels, options["classifier"])
        areas = ganzoo.hole_fraction(masks)
        result: dict[str, Any] = {
            "task": "inpainting", "dataset": cfg.dataset, "split": split, "num": len(images), "seed": seed,
            "mask": {"kind": kind, "options": {**ganzoo.get("masks", kind).options, **mask_options}},
            "hole_area": {"mean": float(areas.mean()), "min": float(areas.min()), "max": float(areas.max())},
            "methods": summarise(per_image, np.ones(len(areas), dtype=bool)),
            "bins": {},
        }
        edges = np.round(np.arange(0, 1 + AREA_BIN, AREA_BIN), 6)
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = (areas >= lo) & ((areas < hi) | (hi >= 1))
            if inside.any():
                label = f"{lo:.0%}-{hi:.0%}"
                result["bins"][label] = {"count": int(inside.sum()), "methods": summarise(per_image, inside)}
        if options.get("out"):
            cols = min(10, len(images))
            rows = [images * (1 - mask_t), from_unit(filled["biharmonic"]), ours, images]
            path = Path(options["out"]) / "inpainting_eval.png"
            result["grid"] = str(save_grid(torch.cat([r[:cols] for r in rows]), path, nrow=cols))
            result["grid_rows"] = ["masked", "biharmonic", "ganzoo", "truth"]
        return result

    def figures(self, results: dict[str, Any]) -> dict[str, float]:
        """ganzoo's scores over all holes, then each baseline's hole PSNR beside them."""
        methods = results["methods"]
        return {**methods["ganzoo"], **{f"{m}_hole_psnr": methods[m]["hole_psnr"] for m in METHODS[1:]}}

    @staticmethod
    def _add_accuracy(per_image: dict[str, list[dict[str, float]]], filled: dict[str, np.ndarray],
                      truth: np.ndarray, labels: Tensor, path: str) -> None:
        """Per-image 0/1 correctness of the project's classifier on each completion (and the truth)."""
        from ganzoo.metrics import embed

        if (labels < 0).any():
            raise GanzooError("classifier accuracy needs a labelled dataset; this one has no labels")
        net = ganzoo.feature_net(path)
        for method, images in [*filled.items(), ("truth", truth)]:
            with torch.no_grad():
                predicted = embed(from_unit(images), net, torch.device("cpu")).labels
            for record, ok in zip(per_image[method], (predicted == labels).tolist()):
                record["accuracy"] = float(ok)


def to_unit(images: Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) float64 in [0, 1], the skimage convention."""
    return ((images.detach().double().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()


def from_unit(images: np.ndarray) -> Tensor:
    """The inverse of :func:`to_unit`, as float32."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() * 2 - 1


def biharmonic_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``skimage.restoration.inpaint_biharmonic`` on each (H, W, C) image in [0, 1]; an image whose mask covers
    it all has nothing to extend, so it is mid-gray, as :func:`mean_fill` gives it."""
    from skimage.restoration import inpaint_biharmonic  # scikit-image (and scipy) only when scoring

    return np.stack([
        np.full_like(img, 0.5) if m.all() else
        np.where(m[..., None], np.clip(inpaint_biharmonic(img, m, channel_axis=-1), 0, 1), img)
        for img, m in zip(images, masks, strict=True)
    ])


def biharmonic_prefill(image: Tensor, mask: Tensor) -> Tensor:
    """:func:`biharmonic_fill` on (B, C, H, W) images in [-1, 1] and (B, 1, H, W) masks, as a tensor like ``image``."""
    filled = biharmonic_fill(to_unit(image), mask[:, 0].detach().cpu().numpy() > 0.5)
    return from_unit(filled).to(device=image.device, dtype=image.dtype)


def mean_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Fill each hole with the mean of the image's known pixels, per channel."""
    out = images.copy()
    for img, m in zip(out, masks):
        known = img[~m]
        img[m] = known.mean(axis=0) if len(known) else 0.5
    return out


def hole_hf_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared Laplacian inside the hole, away from its edge: how much fine detail a fill has.

    The hole is eroded by one pixel so the 3x3 Laplacian sees only filled
    pixels (a seam at the hole's edge would otherwise count as detail).
    NaN when the hole has no interior (strokes one pixel wide).
    """
    from skimage.filters import laplace
    from skimage.morphology import erosion

    interior = erosion(mask, np.ones((3, 3), dtype=bool))
    if not interior.any():
        return math.nan
    energy = [np.square(laplace(image[..., c], ksize=3))[interior].mean() for c in range(image.shape[-1])]
    return float(np.mean(energy))


def fill_metrics(truth: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR/SSIM/L1 inside the hole and on the whole composite, for (H, W, C) images in [0, 1]."""
    if not mask.any():
        raise GanzooError("an evaluation mask has no hole; pick a mask kind with a non-empty hole")
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    with np.errstate(divide="ignore"):
        hole_psnr = peak_signal_noise_ratio(truth[mask], filled[mask], data_range=1.0)
        psnr = peak_signal_noise_ratio(truth, filled, data_range=1.0)
    ssim, ssim_map = structural_similarity(truth, filled, data_range=1.0, channel_axis=-1, full=True)
    error = np.abs(filled - truth)
    return {
        "hole_psnr": min(float(hole_psnr), PSNR_CAP), "hole_ssim": float(ssim_map[mask].mean()),
        "hole_l1": float(error[mask].mean()), "psnr": min(float(psnr), PSNR_CAP), "ssim": float(ssim),
        "l1": float(error.mean()), "hf_energy": hole_hf_energy(filled, mask),
    }


def summarise(per_image: dict[str, list[dict[str, float]]], keep: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean of every per-image figure over the images in ``keep`` (NaNs, e.g. no hole interior, skipped)."""
    out = {}
    for method, records in per_image.items():
        chosen = [r for r, k in zip(records, keep) if k]
        out[method] = {key: round(float(np.nanmean([r[key] for r in chosen])), 5) for key in chosen[0]}
    return out


def read_mask(path: Path, shape: tuple[int, int], image_path: Path) -> Tensor:
    """A binary mask file (white = hole) as a (1, 1, H, W) float tensor; clear errors for anything else."""
    data = read_image(path)
    if data.shape[0] == 3:
        if not (torch.equal(data[0], data[1]) and torch.equal(data[1], data[2])):
            raise GanzooError(f"mask {path} is a colour image; save it as a 1-channel (grayscale) PNG, white = hole")
        data = data[:1]
    values = torch.unique(data)
    if not bool(((values == -1) | (values == 1)).all()):
        shown = ", ".join(str(int(round((v + 1) * 127.5))) for v in values[:5].tolist())
        shown += ", ..." if len(values) > 5 else ""
        raise GanzooError(
            f"mask {path} is not binary: it has {len(values)} gray levels ({shown}); "
            "save it with black (0) for known pixels and white (255) for the hole only (no antialiasing, no JPEG)"
        )
    if tuple(data.shape[-2:]) != tuple(shape):
        raise GanzooError(
            f"mask {path} is {data.shape[-1]}x{data.shape[-2]} (WxH) but image {image_path} is "
            f"{shape[1]}x{shape[0]}; give a mask of the image's size"
        )
    return (data > 0).float()[None]


def _check_image(image: Tensor, path: Path, run: ganzoo.Run) -> None:
    channels = run.config.channels
    if image.shape[0] != channels:
        want = "grayscale" if channels == 1 else "RGB"
        raise GanzooError(
            f"image {path} has {image.shape[0]} channel(s) but the checkpoint was trained on {channels}-channel "
            f"images; convert it to {want} first"
        )
    for side in image.shape[-2:]:
        try:
            run.task.arch.check(run.config.arch, side, channels)
        except IncompatibleError as exc:
            raise GanzooError(f"image {path} is {image.shape[-1]}x{image.shape[-2]} px: {exc}") from None


@hookimpl
def register_commands(cli: Any) -> None:
    @ganzoo.run_command(cli, "inpaint")
    @click.argument("source", metavar="IMAGE", type=click.Path(exists=True))
    @click.option("--mask", "mask_path", type=click.Path(exists=True),
                  help="Mask image, white = hole, black = keep, the image's size. For a folder: one mask for all, "
                       "or a folder of masks with the images' relative names.")
    @click.option("--mask-kind", help="Draw masks of this kind instead (ganzoo list masks), e.g. box, strokes, thick.")
    @click.option("--mask-opt", "mask_opts", multiple=True, metavar="K=V", help="Option of --mask-kind, e.g. area=0.3.")
    @click.option("--out", required=True, type=click.Path(),
                  help="Output PNG for one image; a folder for a folder of images (or for one image).")
    @click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for --mask-kind masks.")
    @click.option("--save-masks", is_flag=True, help="Also write each mask used, as <output>.mask.png.")
    @click.option("--self-ensemble", is_flag=True,
                  help="Average G over the 8 flips and quarter turns of each image: 8x the time; for images with no "
                       "up or left (photo crops: up to +0.3 dB hole PSNR), not for digits or faces (MNIST: -0.1 to "
                       "-1.5 dB).")
    def inpaint_cmd(run: ganzoo.Run, source: str, mask_path: str | None, mask_kind: str | None,
                    mask_opts: tuple[str, ...], out: str, seed: int, save_masks: bool, self_ensemble: bool) -> None:
        """Fill the holes of IMAGE (a file or a folder of images) with an inpainting CHECKPOINT.

        Images are completed at their own size (the U-Net is fully
        convolutional; it pads internally and crops back), so they must have
        the checkpoint's channel count. Pixels outside the hole are written
        unchanged. The hole area of every mask is printed.

        \b
        Examples:
          ganzoo inpaint runs/unet-hinge-mnist/ digit.png --mask hole.png --out filled.png
          ganzoo inpaint runs/unet-hinge-mnist/ digit.png --mask-kind strokes --seed 3 --out filled.png
          ganzoo inpaint runs/unet-hinge-mnist/ photos/ --mask-kind box --mask-opt area=0.1 --out filled/
        """
        if (mask_path is None) == (mask_kind is None):
            raise GanzooError("give exactly one of --mask MASK.png or --mask-kind KIND (see `ganzoo list masks`)")
        options = ganzoo.parse_options(mask_opts, "--mask-opt")
        if mask_path is not None and options:
            raise GanzooError("--mask-opt only applies to --mask-kind")
        src, dst = Path(source), Path(out)
        if src.is_dir():
            if dst.suffix.lower() in IMAGE_EXTENSIONS:
                raise GanzooError(f"--out {out}: IMAGE is a folder, so --out must be a folder, not an image file")
            jobs = [(p, dst / p.relative_to(src).with_suffix(".png"), p.relative_to(src)) for p in list_images(src)]
            if not jobs:
                raise GanzooError(f"no images found in folder {src}")
        else:
            target = dst if dst.suffix.lower() in IMAGE_EXTENSIONS else dst / f"{src.stem}.png"
            jobs = [(src, target, Path(src.name))]
        inputs = [image_path for image_path, _, _ in jobs]
        if mask_path is not None:
            inputs += list_images(mask_path) if Path(mask_path).is_dir() else [Path(mask_path)]
        outputs = [target for _, target, _ in jobs]
        check_not_inputs(inputs, outputs + [t.with_suffix(".mask.png") for t in outputs if save_masks], "--out")
        mask_dir = Path(mask_path) if mask_path is not None and Path(mask_path).is_dir() else None
        run.require_command("inpaint")

        def given_mask(image_path: Path, rel: Path, shape: tuple[int, ...]) -> Tensor:
            if mask_dir is None:
                return read_mask(Path(mask_path), shape, image_path)
            candidates = list(dict.fromkeys([mask_dir / rel, mask_dir / rel.with_suffix(".png")]))
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise GanzooError(f"no mask for {image_path}: looked for {' and '.join(map(str, candidates))}")
            return read_mask(found, shape, image_path)

        warn_if_transparent([image_path for image_path, _, _ in jobs])
        for image_path, _, rel in jobs:  # every image and mask checked before the first file is written
            image = read_image(image_path)
            _check_image(image, image_path, run)
            if mask_path is not None:
                given_mask(image_path, rel, tuple(image.shape[-2:]))
        rng = np.random.default_rng(seed)
        for image_path, target, rel in jobs:
            image = read_image(image_path)
            shape = tuple(image.shape[-2:])
            if mask_kind is not None:
                mask = torch.from_numpy(ganzoo.draw_masks(mask_kind, 1, shape, rng, **options)[:, None].astype(np.float32))
            else:
                mask = given_mask(image_path, rel, shape)
            with torch.no_grad():
                _, filled = run.task.complete(run.nets["G"], image[None].to(run.device), mask.to(run.device),
                                              self_ensemble)
            save_image(filled[0].cpu(), target)
            if save_masks:
                save_image(mask[0] * 2 - 1, target.with_suffix(".mask.png"))
            click.echo(f"{image_path} -> {target}  (hole {float(mask.mean()):.1%} of the image)")


@hookimpl
def register_tasks(register) -> None:
    register("inpainting", Inpainting)
