"""Recipes for the seed models as the seeds wrote them (seed 000, 001, 002) and Goodfellow et al.'s MLP GAN.

Where a seed leaves a setting out (seed 000 and 002 name no learning rate),
the recipe takes the DCGAN paper's Adam (2e-4, beta1 0.5) and says so. Every
recipe names its optimiser, width and EMA (none), so ganzoo's own defaults for
generation (ganzoo_plugins.tasks.unconditional) never leak into a seed's run.
"""

from __future__ import annotations

from ganzoo.api import Recipe
from ganzoo.hookspecs import Register, hookimpl

RECIPES = {
    "seed000": Recipe(
        {"arch": "dcgan-tf", "loss": "bce", "image_size": 32, "batch_size": 64, "width": 64, "lr": 2e-4, "beta1": 0.5,
         "beta2": 0.999, "ema": False},
        "Seed 000's TF DCGAN (dense to 4x4x512, conv stack with BN), sigmoid cross-entropy",
        "seed 000 as written (its learning rate is not given: Adam 2e-4, beta1 0.5 from the DCGAN paper)",
    ),
    "seed001": Recipe(
        {"arch": "dcgan", "loss": "bce", "image_size": 32, "channels": 3, "batch_size": 64, "nz": 100, "width": 64,
         "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": False},
        "Seed 001's PyTorch DCGAN loop: 32 px RGB, BCE, Adam 2e-4 (0.5, 0.999), batch 64",
        "seed 001 as written",
    ),
    "seed002": Recipe(
        {"arch": "dcgan-keras", "loss": "bce", "dataset": "mnist", "image_size": 28, "channels": 1, "nz": 100,
         "batch_size": 64, "width": 64, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": False},
        "Seed 002's Keras MNIST DCGAN (dense 128x7x7, upsample + conv, BN momentum 0.8)",
        "seed 002 as written (its optimiser is not given: Adam 2e-4, beta1 0.5 from the DCGAN paper)",
    ),
    "mlp-gan": Recipe(
        {"arch": "mlp", "loss": "bce", "dataset": "mnist", "image_size": 28, "channels": 1, "batch_size": 100,
         "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": False},
        "Goodfellow et al. 2014's MLP GAN on MNIST, non-saturating G loss, minibatch 100",
        "Goodfellow et al. 2014 (Adam in place of the paper's SGD with momentum)",
    ),
}


@hookimpl
def register_recipes(register: Register) -> None:
    for name, recipe in RECIPES.items():
        register(name, recipe)
