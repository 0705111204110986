"""What the main job's FID plateau means: real shapes degraded on purpose, and which D can see a corner.

Part 1 scores real training shapes, degraded in one known way each (blur, lower contrast, no corners), against
the held-out shapes with the project's shapes classifier, as `ganzoo eval` scores a run. A generator that draws
no corner but is otherwise perfect scores what the `corners=false` row says.

Part 2 trains discriminator bodies as plain classifiers on one question, "is the largest shape a polygon
(rectangle, triangle) or round (circle, ellipse)?", with the main job's batch (64), optimiser (Adam 1e-3, betas
(0, 0.99)) and step count (1500): a D that cannot learn this with labels cannot push G towards corners either.
The reference is the classifier's own net (DigitNet).

Part 3 (`--g-fit STEPS`) asks whether G can draw corners at all: dcgan's G, with one learned latent per image,
fitted to 512 real shapes by L1 (no D), with a grid of the fits beside the real shapes.

    ganzoo features train --dataset shapes --image-size 32 --epochs 5 --out shapes-classifier.safetensors
    OMP_NUM_THREADS=1 python benchmarks/shapes_yardsticks.py --classifier shapes-classifier.safetensors
    OMP_NUM_THREADS=1 python benchmarks/shapes_yardsticks.py --g-fit 3000 --grid g_fit.png
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from skimage.filters import gaussian
from torch import Tensor, nn

import ganzoo
from ganzoo import parse_options
from ganzoo.api import NetConfig
from ganzoo.bench import machine
from ganzoo.data import read_split
from ganzoo.images import save_grid
from ganzoo.metrics import embed, feature_net, real_images, resolve_metrics, score
from ganzoo_plugins.datasets.shapes import KINDS

POLYGONS = tuple(KINDS.index(kind) for kind in ("rectangle", "triangle"))  # labels of the largest shape
D_BODIES = {  # name: dcgan --arch-opt values
    "dcgan D (the default)": {},
    "dcgan D, d_stem=first": {"d_stem": "first"},
    "dcgan D, d_stem=all": {"d_stem": "all"},
    "dcgan D, d_down=max": {"d_down": "max"},
}
REFERENCE = "the shapes classifier's net (DigitNet, reference)"


def shapes(split: str, limit: int, **options: object) -> tuple[Tensor, Tensor]:
    """Images and kind labels of the main job's data (32 px, seed 0), with these dataset options."""
    return read_split("shapes", split, image_size=32, channels=3, data_options=options, seed=0, limit=limit)


def blurred(images: Tensor, sigma: float) -> Tensor:
    """A Gaussian blur of each image (scikit-image), in [-1, 1] as the images are."""
    arrays = images.permute(0, 2, 3, 1).numpy()
    out = [gaussian(a, sigma=sigma, channel_axis=-1, mode="nearest", preserve_range=True) for a in arrays]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float()


def degradations(classifier: str, num: int) -> None:
    """Print a markdown row per degraded set: its FID/KID/confidence against the held-out shapes."""
    config = SimpleNamespace(dataset="shapes", data_root=None, image_size=32, channels=3, seed=0, data_options={})
    held_out = real_images(config, "test", None, num, classifier, torch.device("cpu"))
    net, metrics = feature_net(classifier), resolve_metrics("fid,kid")
    train = shapes("train", num)[0]
    cases = {
        "real training shapes (the floor)": train,
        **{f"blurred, sigma {s} px": blurred(train, s) for s in (0.5, 0.75, 1.0, 1.5)},
        "contrast x0.7": train * 0.7,
        "no corners: rectangles and triangles drawn as ellipses (`--data-opt corners=false`)": shapes(
            "train", num, corners=False)[0],
    }
    for name, images in cases.items():
        fake = embed(images.clamp(-1, 1), net, torch.device("cpu"))
        result = score(metrics, held_out, fake, None, 0)
        confidence = fake.logits.softmax(dim=1).max(dim=1).values.mean().item()
        print(f"| {name} | {result['fid']:.1f} | {result['kid_x1000']:.0f} | {confidence:.3f} |", flush=True)


class Reference(nn.Module):
    """The shapes classifier's net with one logit, as a D body would give."""

    def __init__(self) -> None:
        super().__init__()
        from ganzoo_plugins.metrics.classifier import DigitNet

        self.net = DigitNet(3, 1, 32)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)[1].flatten()


def fit(net: nn.Module, optimizer: torch.optim.Optimizer, loss_of: Callable[[Tensor], Tensor],
        measure: Callable[[], float], count: int, steps: int, every: int,
        generator: torch.Generator | None = None) -> list[float]:
    """Minimise ``loss_of(index)`` over random batches of 64 of ``count`` items; ``measure()`` in eval mode
    every ``every`` steps, the curve returned."""
    curve = []
    for step in range(1, steps + 1):
        loss = loss_of(torch.randint(count, (64,), generator=generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0:
            net.eval()
            with torch.no_grad():
                curve.append(measure())
            net.train()
    return curve


def probe(body: nn.Module, data: tuple[Tensor, Tensor, Tensor, Tensor], steps: int, seed: int) -> tuple[list, float]:
    """Train ``body`` on polygon-vs-round; held-out accuracy every 250 steps and the seconds it took."""
    x, y, x_test, y_test = data
    optimizer = torch.optim.Adam(body.parameters(), 1e-3, betas=(0.0, 0.99))
    start = time.perf_counter()
    curve = fit(body, optimizer, lambda i: F.binary_cross_entropy_with_logits(body(x[i]), y[i]),
                lambda: ((body(x_test) > 0).float() == y_test).float().mean().item(), len(x), steps, 250,
                torch.Generator().manual_seed(seed))
    return curve, time.perf_counter() - start


def d_probe(steps: int, seed: int, only: str | None = None) -> None:
    """Print a markdown row per D body (those whose name holds ``only``, if given): its held-out accuracy on
    polygon-vs-round every 250 steps."""
    x, labels = shapes("train", 8000)
    x_test, labels_test = shapes("test", 2000)
    data = (x, torch.isin(labels, torch.tensor(POLYGONS)).float(), x_test,
            torch.isin(labels_test, torch.tensor(POLYGONS)).float())
    arch = ganzoo.get("architectures", "dcgan")
    bodies = {name: lambda o=opts: arch.discriminator(NetConfig(image_size=32, channels=3, width=32, options=o))
              for name, opts in D_BODIES.items()}
    bodies[REFERENCE] = Reference
    for name, build in bodies.items():
        if only and only not in name:
            continue
        torch.manual_seed(seed)
        curve, seconds = probe(build(), data, steps, seed)
        print(f"| {name} | {' / '.join(f'{a:.3f}' for a in curve)} | {seconds:.0f} |", flush=True)


def g_fit(steps: int, seed: int, arch_options: dict[str, str], grid: str | None, count: int = 512) -> None:
    """Part 3: can dcgan's G draw corners at all? Fit it, with one learned latent per image (GLO, Bojanowski et
    al. 2018), to ``count`` real shapes by L1 at the main job's batch and width; print the L1 every 500 steps and
    write real shapes above their fits to ``grid``. No D is involved: this bounds what G can draw, not what the
    game asks of it."""
    x = shapes("train", count)[0]
    torch.manual_seed(seed)
    arch = ganzoo.get("architectures", "dcgan")
    G = arch.generator(NetConfig(image_size=32, channels=3, nz=100, width=32, options=arch_options))
    z = nn.Parameter(torch.randn(count, 100))
    optimizer = torch.optim.Adam([{"params": G.parameters()}, {"params": [z], "lr": 1e-2}], 1e-3, betas=(0.5, 0.99))
    curve = fit(G, optimizer, lambda i: F.l1_loss(G(z[i]), x[i]), lambda: F.l1_loss(G(z), x).item(), count, steps,
                500)
    options = " ".join(f"{k}={v}" for k, v in arch_options.items()) or "the default"
    print(f"| dcgan G, {options} | {' / '.join(f'{v:.4f}' for v in curve)} |", flush=True)
    if grid:
        G.eval()
        with torch.no_grad():
            save_grid(torch.cat([x[:32], G(z[:32])]), grid, nrow=8)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", help="a `ganzoo features train --dataset shapes` file (part 1)")
    parser.add_argument("--body", help="part 2 only, for the D bodies whose name holds this text, e.g. d_down=max")
    parser.add_argument("--num", type=int, default=1000, help="images per set in part 1, as the runs are scored")
    parser.add_argument("--steps", type=int, default=1500, help="training steps of each D body in part 2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--g-fit", type=int, metavar="STEPS", help="part 3 only: fit G to real shapes for STEPS")
    parser.add_argument("--arch-opt", action="append", default=[], help="part 3: a dcgan option for G, e.g. "
                        "g_up=nearest (repeatable)")
    parser.add_argument("--grid", help="part 3: write real shapes (top half) above G's fits (bottom half) here")
    args = parser.parse_args(argv)
    if args.body and not any(args.body in name for name in [*D_BODIES, REFERENCE]):
        parser.error(f"--body {args.body} matches no D body; the bodies are: {'; '.join([*D_BODIES, REFERENCE])}")
    torch.set_num_threads(1)
    print(f"machine: {machine()}; torch {torch.__version__}; {time.strftime('%Y-%m-%d', time.gmtime())}")
    if args.g_fit:
        steps = " / ".join(str(s) for s in range(500, args.g_fit + 1, 500))
        print(f"| G fitted to 512 real shapes (GLO) | L1 over all 512 at steps {steps} |\n|---|---|")
        g_fit(args.g_fit, args.seed, parse_options(tuple(args.arch_opt), "--arch-opt"), args.grid)
        return
    if not args.body:
        if not args.classifier:
            parser.error("--classifier is needed for part 1 (or give --body for part 2 only)")
        print("| real shapes, degraded | FID | KID x1000 | confidence |\n|---|---|---|---|")
        degradations(args.classifier, args.num)
    steps = " / ".join(str(s) for s in range(250, args.steps + 1, 250))
    print(f"\n| D body (polygon or round?) | held-out accuracy at steps {steps} | seconds |\n|---|---|---|")
    d_probe(args.steps, args.seed, args.body)


if __name__ == "__main__":
    main()
