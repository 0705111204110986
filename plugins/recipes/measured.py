"""Recipes ganzoo's own benchmarks found best, with the result file each comes from.

``inpainting-photos`` is the best inpainting setting found on photos it never saw.
``cpu-quick`` is what ``ganzoo train`` trains for unconditional generation when no
option says otherwise; as a recipe it keeps that name when the defaults move on,
and it makes a ``ganzoo bench --recipes`` row.
"""

from __future__ import annotations

from ganzoo.api import Recipe
from ganzoo.hookspecs import Register, hookimpl

RECIPES = {
    "cpu-quick": Recipe(
        {"task": "unconditional", "arch": "dcgan", "loss": "hinge", "batch_size": 64, "width": 32, "ema": True,
         "lr": 1e-3, "beta1": 0.0, "beta2": 0.99},
        "dcgan + hinge, EMA of G, width 32, Adam 1e-3 (0, 0.99): the fastest to recognisable samples on 2 CPU cores",
        "benchmarks/results/shapes_default.md (FID 54 vs the seed 001 recipe's at 1500 steps on shapes) and "
        "time_to_quality.md (MNIST)",
    ),
    "inpainting-photos": Recipe(
        {"task": "inpainting", "arch": "unet", "loss": "hinge", "dataset": "skimage-patches", "image_size": 32,
         "channels": 3, "width": 16, "lr": 5e-4, "steps": 2000,
         "data_options": {"test_sources": "chelsea,coffee,brick"},
         "task_options": {"mask": "mixture", "prefill": "biharmonic", "adv_weight": 0.01}},
        "Inpainting on photos: G corrects a biharmonic fill, adversarial weight 0.01, the mask mixture; score with "
        "--self-ensemble; the cat, coffee and brick photos held out for testing",
        "benchmarks/results/inpainting_masks_patches.md (ahead of biharmonic in every cell but thin 10-20% holes, a "
        "tie; 4000 steps overfit the 8 training photos)",
    ),
}


@hookimpl
def register_recipes(register: Register) -> None:
    for name, recipe in RECIPES.items():
        register(name, recipe)
