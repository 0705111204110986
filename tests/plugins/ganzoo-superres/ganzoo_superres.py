"""A complete third-party ganzoo task: 2x super-resolution (SRGAN-style, conditional like pix2pix).

G sees the image shrunk 2x and blown up again (bilinear) and restores the
detail; D judges (high-res, blown-up) pairs, so it checks that G's detail fits
its input. It reuses any built-in image-to-image architecture (unet,
resnet-6blocks, resnet-9blocks) unchanged.
"""

from pathlib import Path

import click
import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import ganzoo


def blur(images):
    """What G gets: the image at half size, blown up again with bilinear interpolation."""
    small = F.avg_pool2d(images, 2)  # an odd side rounds down here, so size back to the image's own
    return F.interpolate(small, size=images.shape[-2:], mode="bilinear", align_corners=False)


class SuperResolution(ganzoo.Task):
    """Restore 2x detail: L1 to the truth plus the adversarial term of a D that sees the blurred input too."""

    description = "2x super-resolution: G(blurred) -> sharp; D judges (image, blurred input) pairs"
    generator_input = ("image",)
    discriminator_input = ("image", "channels")
    default_arch = "unet"
    default_loss = "hinge"
    command = "upscale"
    headline = "psnr"
    eval_reads = frozenset({"num", "data_root"})  # ganzoo eval refuses --classifier, --seed, --out
    sample_caption = "Rows: blurred input, G's restoration, truth."
    l1_weight = 100.0  # --task-opt l1_weight=...
    adv_weight = 1.0

    def condition_channels(self):
        return self.config.channels  # D sees the blurred input beside the image it judges

    def generate(self, ctx, batch):
        blurred = blur(batch["image"])
        return {"blurred": blurred, "fake": ctx.nets["G"](blurred)}

    def judges(self, batch, out):
        return [ganzoo.Judge("D", batch["image"], out["fake"], channels=out["blurred"], weight=self.adv_weight,
                             fake_name="G(x)")]

    def generator_terms(self, ctx, batch, out):
        l1 = F.l1_loss(out["fake"], batch["image"])
        return self.l1_weight * l1, {"l1": l1.detach()}

    def fixed_inputs(self, ctx, batch, n):
        if batch is None:
            raise ganzoo.GanzooError("a superres checkpoint restores images: use `ganzoo upscale CKPT IMAGE --out X`")
        return {"image": batch["image"][: min(n, 8)]}

    @torch.no_grad()
    def samples(self, nets, fixed):
        blurred = blur(fixed["image"])
        return torch.cat([blurred, nets["G"](blurred).clamp(-1, 1).float(), fixed["image"]])

    def sample_nrow(self, n):
        return n // 3

    def eval_option_defaults(self, given):
        return {"split": "test"}  # --eval-opt split=train: how well it fits the images it trained on

    @torch.no_grad()
    def evaluate(self, nets, device, **options):
        """PSNR/SSIM of G's restorations on the held-out split, beside bilinear upsampling alone."""
        if options.get("metrics"):
            raise ganzoo.GanzooError("--metrics: superres is scored by PSNR/SSIM against bilinear; drop --metrics")
        images, _ = ganzoo.read_split(self.config, options["split"], data_root=options.get("data_root"),
                                      limit=options.get("num") or 256)
        blurred = blur(images)
        restored = torch.cat([nets["G"](x.to(device)).clamp(-1, 1).float().cpu() for x in blurred.split(64)])

        def scores(candidates):
            pairs = [(to_unit(t), to_unit(c)) for t, c in zip(images, candidates)]
            return {"psnr": float(np.mean([peak_signal_noise_ratio(t, c, data_range=1.0) for t, c in pairs])),
                    "ssim": float(np.mean([structural_similarity(t, c, data_range=1.0, channel_axis=-1)
                                           for t, c in pairs]))}

        model, bilinear = scores(restored), scores(blurred)
        return {**model, "bilinear_psnr": bilinear["psnr"], "bilinear_ssim": bilinear["ssim"],
                "num": len(images)}


def to_unit(image):
    """CxHxW in [-1, 1] -> HxWxC in [0, 1]."""
    return ((image.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).double().numpy()


@ganzoo.hookimpl
def register_tasks(register):
    register("superres", SuperResolution)


@ganzoo.hookimpl
def register_commands(cli):
    @ganzoo.run_command(cli, "upscale")
    @click.argument("image", type=click.Path(exists=True, dir_okay=False))
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write, twice the size.")
    def upscale(run, image, out):
        """Upscale IMAGE 2x with a superres CHECKPOINT."""
        run.require_command("upscale")
        G = run.nets["G"]
        x = ganzoo.read_image(image, run.config.channels)[None].to(run.device)
        up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        with torch.no_grad():
            ganzoo.save_image(G(up)[0].clamp(-1, 1).float().cpu(), Path(out))
        click.echo(f"wrote {out}")
