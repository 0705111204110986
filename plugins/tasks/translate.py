"""The ``ganzoo translate`` command: run a translation task's generator on image files or folders, at any size.

It serves every task whose ``command`` is ``"translate"`` (``cyclegan``,
``pix2pix``, or a third-party one): such a task declares ``directions``, which
generator (network name) each ``--direction`` runs, e.g. ``{"AtoB": "G_AB",
"BtoA": "G_BA"}`` for cyclegan and ``{"AtoB": "G"}`` for pix2pix.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import click
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ganzoo
from ganzoo.api import GanzooError, GanzooWarning
from ganzoo.hookspecs import hookimpl
from ganzoo.files import check_not_inputs
from ganzoo.images import IMAGE_EXTENSIONS, list_images, read_image, save_image, verify_image, warn_if_transparent

# the default limit: the generator's activations grow with the area (~1 KB per pixel at width 64),
# so 2048x2048 needs a few GB; an 8000x8000 photo would need tens (--max-pixels raises the limit).
MAX_PIXELS = 2048 * 2048

def translate_image(G: nn.Module, image: Tensor, multiple: int = 4, min_size: int = 8) -> Tensor:
    """G on one CxHxW image of any size: pad (reflect) to a multiple of 4, at least 8, and crop back."""
    height, width = image.shape[-2:]
    pad_h = max(min_size, -(-height // multiple) * multiple) - height
    pad_w = max(min_size, -(-width // multiple) * multiple) - width
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    padded = F.pad(image.unsqueeze(0), (0, pad_w, 0, pad_h), mode=mode)
    return G(padded)[0, :, :height, :width]


def _megapixels(pixels: int) -> str:
    """4.2 MP; below 0.1 MP, the pixel count (a small --max-pixels read as "0.0 MP")."""
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels:,} px"


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
                f"{source} is {width}x{height} px ({_megapixels(width * height)}), above --max-pixels {max_pixels} "
                f"({_megapixels(max_pixels)}): the generator's memory grows with the area; downscale the image "
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
    check_not_inputs([source for source, _ in plan], [target for _, target in plan], "--out")
    seen: dict[Path, Path] = {}
    for source, target in plan:
        if target in seen:
            raise GanzooError(f"{seen[target]} and {source} would both be written to {target}; translate them "
                              "into separate --out folders")
        seen[target] = source
    return plan


def generator_for(run: ganzoo.Run, direction: str) -> nn.Module:
    """The generator a translation run uses for ``direction``, or one line saying which directions it has."""
    directions = getattr(run.task, "directions", None)
    if not isinstance(directions, dict):
        raise GanzooError(f"task '{run.config.task}' has command 'translate' but declares no `directions` (which "
                          "generator runs AtoB, BtoA); its plugin must add them")
    if direction not in directions:
        raise GanzooError(f"--direction {direction}: a {run.config.task} run translates "
                          f"{' and '.join(directions)} only; pass --direction {next(iter(directions))}")
    return run.nets[directions[direction]]


@hookimpl
def register_commands(cli: click.Group) -> None:
    @ganzoo.run_command(cli, "translate")
    @click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True), metavar="INPUT...")
    @click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), default="AtoB", show_default=True,
                  help="AtoB: A to B (cyclegan's G_AB, pix2pix's G); BtoA: B to A (cyclegan's G_BA).")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the translated PNGs.")
    @click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
                  help="Refuse larger images (width x height): memory grows with the area.")
    def translate_cmd(run: ganzoo.Run, inputs: tuple[str, ...], direction: str, out: str, max_pixels: int) -> None:
        """Translate images (files or folders) with a CHECKPOINT of an image-translation task (cyclegan, pix2pix), at
        their own size.

        Folders are searched recursively and their layout is kept under --out;
        every result is written as PNG. Any image size up to --max-pixels works:
        images are padded to a multiple of 4 and cropped back.

        \b
        Example:
          ganzoo translate runs/cyclegan-run photos/ --direction AtoB --out styled/
        """
        run.require_command("translate")
        named_as_folder = out.endswith(("/", os.sep)) or Path(out).is_dir()  # `--out styled.jpg/` is a folder
        if Path(out).suffix.lower() in IMAGE_EXTENSIONS and not named_as_folder:
            raise GanzooError(f"--out {out}: translate writes a folder (one PNG per input, named after it); "
                              f"name a folder, e.g. --out {Path(out).with_suffix('')}/")
        G = generator_for(run, direction)
        plan = _plan(inputs, Path(out))
        _check_sizes(plan, max_pixels)
        channels = run.config.channels
        converted = [source for source, _ in plan if verify_image(source) != channels]
        if converted:
            given, model, how = (("grayscale", "RGB", "as gray RGB (its channel repeated)") if channels == 3 else
                                 ("RGB", "grayscale", "as gray (luma)"))
            warnings.warn(f"{len(converted)} of {len(plan)} input image(s) (e.g. {converted[0]}) are {given} but the "
                          f"model is {model}: each is translated {how}, and its output is {model}", GanzooWarning,
                          stacklevel=2)
        warn_if_transparent([source for source, _ in plan])
        with torch.no_grad():
            for source, target in plan:
                image = read_image(source, channels).to(run.device)
                save_image(translate_image(G, image).float().clamp(-1, 1), target)
        click.echo(f"translated {len(plan)} image(s) {direction} into {out}")
