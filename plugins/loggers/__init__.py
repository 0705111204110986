"""Built-in ganzoo plugins; each module registers through the `ganzoo` entry-point group."""
