"""ganzoo: a plugin-based GAN zoo.

The public API, which is all a plugin may import (the built-in ones in
``plugins/`` included; tests/test_public_api.py checks it), is the names in
``ganzoo.__all__`` and the modules in :data:`PUBLIC_MODULES`:

* ``ganzoo.api``: the plugin contract, the types plugins register
  (Architecture, Loss, Task, DatasetSpec, MaskSpec, FeatureSpec, Metric,
  Logger, NetConfig, StepContext, DataOptions), what a task hands the adversarial step
  (Judge) and its hooks (Augment, Regularizer), and their option checks;
* ``ganzoo.hookspecs``: the hooks (``hookimpl``, ``Register``);
* ``ganzoo.images``: image read/write in ganzoo's convention (CxHxW in [-1, 1]);
* ``ganzoo.data``: a split of any dataset, image folders, inpainting masks;
* ``ganzoo.metrics``: the metric protocol, feature nets and the evaluation pipeline;
* ``ganzoo.runs``: a trained run loaded for inference, the helper for plugin commands;
* ``ganzoo.kernels``: fused ops for architectures (``BiasAct``);
* ``ganzoo.files``: writing files whole or not at all, a failure one line naming the path.

Everything else (``ganzoo.engine``, ``ganzoo.registry``, ``ganzoo.cli``,
``ganzoo.bench``, ...) is private and may change. Names that need torch (or
more) are imported on first use, so ``import ganzoo`` stays fast and torch-free.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import GanzooError, GanzooWarning, IncompatibleError
from .hookspecs import Register, hookimpl

try:
    __version__ = version("ganzoo")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

PUBLIC_MODULES = ("ganzoo", "ganzoo.api", "ganzoo.hookspecs", "ganzoo.images", "ganzoo.data", "ganzoo.metrics",
                  "ganzoo.runs", "ganzoo.kernels", "ganzoo.files")

# Public names defined in modules that import torch (and more: click, scikit-image, safetensors): loaded on use,
# so that `import ganzoo` (and `ganzoo --help`) need no torch.
_LAZY = {
    **dict.fromkeys(["Architecture", "Augment", "DataOptions", "DatasetSpec", "FeatureSpec", "Judge", "Logger", "Loss",
                     "MaskSpec", "Metric", "NetConfig", "Recipe", "Regularizer", "StepContext", "Task",
                     "check_options", "item_count", "item_rng", "split_id"], "ganzoo.api"),
    "get": "ganzoo.registry",
    "list": "ganzoo.registry",  # ganzoo.list(kind, pattern) is registry.list_entries
    "RunConfig": "ganzoo.engine.config",
    "parse_options": "ganzoo.engine.config",
    "resolve_device": "ganzoo.engine.trainer",
    "load_checkpoint": "ganzoo.engine.checkpoint",
    "save_checkpoint": "ganzoo.engine.checkpoint",
    "CONTEXT": "ganzoo.runs",
    "Run": "ganzoo.runs",
    "load_run": "ganzoo.runs",
    "run_command": "ganzoo.runs",
    "ImageDirectory": "ganzoo.data",
    "draw_masks": "ganzoo.data",
    "held_out_options": "ganzoo.data",
    "hole_fraction": "ganzoo.data",
    "load_split": "ganzoo.data",
    "read_split": "ganzoo.data",
    "read_image": "ganzoo.images",
    "save_grid": "ganzoo.images",
    "save_image": "ganzoo.images",
    "ImageMetric": "ganzoo.metrics",
    "ImageSet": "ganzoo.metrics",
    "Precomputed": "ganzoo.metrics",
    "evaluate_generator": "ganzoo.metrics",
    "feature_net": "ganzoo.metrics",
    "BiasAct": "ganzoo.kernels",
}


def __getattr__(name: str) -> Any:
    """Import a lazily exported public name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'ganzoo' has no attribute '{name}'")
    value = getattr(import_module(_LAZY[name]), "list_entries" if name == "list" else name)
    globals()[name] = value
    return value


__all__ = [
    "Architecture", "Augment", "DataOptions", "DatasetSpec", "FeatureSpec", "GanzooError", "GanzooWarning",
    "IncompatibleError", "Judge", "Logger", "Loss", "MaskSpec", "Metric", "NetConfig", "PUBLIC_MODULES", "Recipe",
    "Register", "Regularizer", "StepContext", "Task", "check_options", "get", "hookimpl", "item_count", "item_rng",
    "list",
    "split_id", "__version__", *_LAZY,
]
