"""Recipes ganzoo's own benchmarks found best, with the result file each comes from.

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
}


@hookimpl
def register_recipes(register: Register) -> None:
    for name, recipe in RECIPES.items():
        register(name, recipe)
