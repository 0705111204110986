"""The hooks a ganzoo plugin may implement (entry-point group ``ganzoo``).

Each ``register_*`` hook receives a ``register(name, obj, *, replace=False)``
callback, in the style of simonw/llm, so one plugin can add several entries.

- ``name`` is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter
  or digit: no ':' (``plugin:name`` qualifies it) and no '/' (names become
  paths). ``obj`` has the type each hook names. An entry that breaks either
  rule is skipped with one line (an error under ``GANZOO_STRICT_PLUGINS=1``).
- ``replace=True`` displaces the other plugins' entries of that name; with
  several replacements, the one pluggy calls last wins
  (``@hookimpl(trylast=True)`` runs last, ``tryfirst`` first).
- Hooks run while the registry is being built, so ``ganzoo.get`` and
  ``ganzoo.list`` are an error inside them (and at import): look entries up
  when they are used. ``register_commands`` runs after, so they work there.
- A hook that raises (or calls ``sys.exit``) skips its plugin with one line.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")

Register = Callable[..., None]


@hookspec
def register_architectures(register: Register) -> None:
    """Register :class:`ganzoo.api.Architecture` objects."""


@hookspec
def register_losses(register: Register) -> None:
    """Register :class:`ganzoo.api.Loss` subclasses."""


@hookspec
def register_tasks(register: Register) -> None:
    """Register :class:`ganzoo.api.Task` subclasses."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register :class:`ganzoo.api.DatasetSpec` objects."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register :class:`ganzoo.api.Metric` subclasses."""


@hookspec
def register_masks(register: Register) -> None:
    """Register :class:`ganzoo.api.MaskSpec` objects (inpainting mask generators).

    ``spec.make(shape, rng, **options)`` gets ``shape = (H, W)`` and a
    ``numpy.random.Generator`` and returns a boolean ``(H, W)`` array, True =
    hole (pixels to fill). It must draw only from ``rng``: training draws it
    from the engine's generator, so exact resume keeps working. ``spec.area``
    declares the range of hole fractions its default ``spec.options`` produce.
    """


@hookspec
def register_features(register: Register) -> None:
    """Register :class:`ganzoo.api.FeatureSpec` objects: the feature nets a ``--classifier`` value names."""


@hookspec
def register_augments(register: Register) -> None:
    """Register :class:`ganzoo.api.Augment` subclasses: differentiable augmentations of what D sees (``--augment``)."""


@hookspec
def register_recipes(register: Register) -> None:
    """Register :class:`ganzoo.api.Recipe` objects: named run settings (``ganzoo train --recipe``)."""


@hookspec
def register_regularizers(register: Register) -> None:
    """Register :class:`ganzoo.api.Regularizer` subclasses: D-step terms such as R1 (``--reg``)."""


@hookspec
def register_loggers(register: Register) -> None:
    """Register :class:`ganzoo.api.Logger` subclasses: where ``--logger NAME`` sends a run's figures and grids."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``ganzoo`` CLI group (``ganzoo plugins --json`` lists them under ``provides``).

    A command may not take the name of one of ganzoo's own (``train``, ``list``, ...). ``ganzoo --help`` lists
    plugin commands from a cache of their help (ganzoo/plugincache.py), refreshed whenever an installed
    distribution or a plugin's source changes.
    """
