"""Recipes ganzoo's own benchmarks found best, with the result file each comes from.

``cpu-quick`` is what ``ganzoo train`` trains for unconditional generation when no
option says otherwise (read from the task, the one home of those settings), by
name: a ``ganzoo bench --recipes`` row, or ``--recipe cpu-quick`` to say so.
"""

from __future__ import annotations

from ganzoo.api import Recipe
from ganzoo.hookspecs import Register, hookimpl
from ganzoo_plugins.tasks.unconditional import Unconditional

RECIPES = {
    "cpu-quick": Recipe(
        {"task": "unconditional", "arch": Unconditional.default_arch, "loss": Unconditional.default_loss,
         "batch_size": 64, **Unconditional.config_defaults},
        "dcgan + hinge, EMA of G, width 32, Adam 1e-3 (0, 0.99): the fastest to recognisable samples on 2 CPU cores",
        "benchmarks/results/shapes_default.md (FID 54 vs the seed 001 recipe's at 1500 steps on shapes) and "
        "time_to_quality.md (MNIST)",
    ),
}


@hookimpl
def register_recipes(register: Register) -> None:
    for name, recipe in RECIPES.items():
        register(name, recipe)
