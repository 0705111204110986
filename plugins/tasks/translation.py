"""Scoring image-to-image translation against ground truth: one evaluation for the ``cyclegan`` and ``pix2pix`` tasks.

A building block shared by the translation tasks; it registers nothing.
:func:`score_translations` scores each direction's generator on held-out
aligned pairs (a, b) of the run's dataset (``style-benchmark``, whose test split
holds (a, f(a)), or any ``aligned`` dataset): PSNR, SSIM and L1 of G(a) against
b, in [0, 1] RGB after the 8-bit rounding a saved image has, as means over the
pairs, next to two baselines: the identity map (the input itself) and
``skimage.exposure.match_histograms`` of the input to the target domain, to
(one) the target image of train item i and (domain) the first 256 target train
images tiled together. Both tasks score with the same code, so their figures
compare directly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import ganzoo
from ganzoo.api import GanzooError, Task
from ganzoo.images import save_grid, to_uint8

DIRECTIONS = {"AtoB": ("A", "B"), "BtoA": ("B", "A")}  # direction -> (source domain, target domain)
HISTOGRAM_REFERENCES = 256
EVAL_GRID_ROWS = 8
BATCH = 32


@torch.no_grad()
def score_translations(task: Task, generators: dict[str, nn.Module], device: torch.device,
                       **options: Any) -> dict[str, Any]:
    """Held-out scores of each ``{direction: G}`` against the identity map and histogram matching.

    ``options`` are ``evaluate``'s: ``num`` pairs (default all), ``data_root``,
    ``out`` (a folder for ``<task>_eval.png``: per direction, columns input |
    truth | G(input) | match_histograms(input, domain)); ``metrics`` is refused.
    """
    from skimage.exposure import match_histograms  # scikit-image (and scipy) only when scoring

    name = task.config.task.rpartition(":")[2]  # the task's name, also when given as plugin:name
    if options.get("metrics"):
        raise GanzooError(f"--metrics: a {name} run is scored by PSNR/SSIM/L1 on aligned pairs against identity and "
                          "histogram matching, not by generation metrics; drop --metrics")
    config = dataclasses.replace(task.config, data_root=options.get("data_root") or task.config.data_root)
    test = ganzoo.load_split(config, "test")
    if task.dataset.layout != "aligned" and not getattr(test, "aligned_pairs", False):
        raise GanzooError(
            f"task '{name}' scores translations only where the test split holds aligned pairs with ground truth, "
            f"such as dataset 'style-benchmark' or an 'aligned' dataset; '{config.dataset}' has none. Look at "
            "results with `ganzoo translate` instead."
        )
    train = ganzoo.load_split(config, "train")
    pairs = [test[i] for i in range(min(int(options.get("num") or len(test)), len(test)))]
    refs = [train[i] for i in range(min(HISTOGRAM_REFERENCES, len(train)))]
    results: dict[str, Any] = {"pairs": len(pairs), "histogram_references": len(refs)}
    columns: list[list[np.ndarray]] = []
    for direction, G in generators.items():
        source, target = DIRECTIONS[direction]
        inputs = torch.stack([p[source] for p in pairs])
        outputs = torch.cat([G(chunk.to(device)).float().cpu() for chunk in inputs.split(BATCH)])
        sources = [_pixels(x) for x in inputs]
        domain = np.concatenate([_pixels(r[target]) for r in refs], axis=0)
        truth = [_unit(_pixels(p[target])) for p in pairs]
        candidates = {
            "model": [_unit(_pixels(y)) for y in outputs],
            "identity": [_unit(x) for x in sources],
            "match_histograms_one": [_unit(match_histograms(x, _pixels(refs[i % len(refs)][target]),
                                                            channel_axis=-1)) for i, x in enumerate(sources)],
            "match_histograms_domain": [_unit(match_histograms(x, domain, channel_axis=-1)) for x in sources],
        }
        results[direction] = {who: similarity(truth, ys) for who, ys in candidates.items()}
        columns += [candidates["identity"], truth, candidates["model"], candidates["match_histograms_domain"]]
    if options.get("out"):
        rows = [torch.from_numpy(np.stack(c[:EVAL_GRID_ROWS])).permute(0, 3, 1, 2).float() * 2 - 1 for c in columns]
        grid = torch.stack(rows, dim=1).flatten(0, 1)
        results["grid"] = str(save_grid(grid, Path(options["out"]) / f"{name}_eval.png", nrow=len(columns)))
    return results


def translation_figures(results: dict[str, Any]) -> dict[str, float]:
    """The model's figures per direction (``AtoB_psnr``) and the identity map's beside them (``AtoB_identity_psnr``)."""
    return {f"{direction}_{key}" if who == "model" else f"{direction}_{who}_{key}": value
            for direction in DIRECTIONS if direction in results for who in ("model", "identity")
            for key, value in results[direction][who].items()}


def _pixels(image: torch.Tensor) -> np.ndarray:
    """A CxHxW image in [-1, 1] as the HxWxC uint8 pixels a user would save (HxWx1 for gray)."""
    return np.atleast_3d(to_uint8(image))


def _unit(image: np.ndarray) -> np.ndarray:
    """8-bit pixels as floats in [0, 1]."""
    return image.astype(np.float64) / 255.0


def similarity(truth: list[np.ndarray], images: list[np.ndarray]) -> dict[str, float]:
    """Mean PSNR, SSIM and L1 (mean absolute difference) of ``images`` against ``truth`` (HxWxC in [0, 1])."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    pairs = list(zip(truth, images, strict=True))
    return {
        "psnr": float(np.mean([peak_signal_noise_ratio(t, y, data_range=1.0) for t, y in pairs])),
        "ssim": float(np.mean([structural_similarity(t, y, data_range=1.0, channel_axis=-1) for t, y in pairs])),
        "l1": float(np.mean([np.abs(t - y).mean() for t, y in pairs])),
    }
