"""A third-party recipe that needs the tiny-conv architecture of another distribution (ganzoo-example)."""

import ganzoo


@ganzoo.hookimpl
def register_recipes(register):
    register("tiny-smooth", ganzoo.Recipe({"arch": "tiny-conv", "loss": "bce-smooth", "width": 8},
                                          "tiny-conv + label smoothing", "the ganzoo-example plugin"))
