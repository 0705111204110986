"""The plugin contract: what a plugin registers and what the engine calls.

Every built-in plugin in ``plugins/`` and every third-party plugin registers
objects of these types through the hooks in :mod:`ganzoo.hookspecs`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from .errors import GanzooError, GanzooWarning, IncompatibleError  # noqa: F401 - re-exported: their public home


def check_options(flag: str, owner: str, declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` over ``declared`` (the defaults), each value read as its default's type.

    One place for every ``--*-opt`` flag: an undeclared key or a value of the
    wrong kind is a GanzooError naming the flag, the owner and what it takes.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        import difflib

        hints = [difflib.get_close_matches(k, list(declared), n=1) for k in unknown]
        named = ", ".join(k + (f" (did you mean {h[0]}?)" if h else "") for k, h in zip(unknown, hints))
        takes = ", ".join(f"{k}={_spelled(v)}" for k, v in declared.items()) or "none"
        raise GanzooError(f"{flag} {named}: {owner} has no such option (its options: {takes})")
    return {**declared, **{key: _as_type_of(flag, owner, key, declared[key], value) for key, value in given.items()}}


def declared_options(cls: type) -> dict[str, Any]:
    """A plugin class's options (losses, metrics): its public number, boolean or string class attributes
    with their defaults, except those annotated ``ClassVar`` (fixed properties such as ``description``)."""
    own = [klass for klass in cls.__mro__ if not klass.__module__.startswith("torch")]  # not nn.Module's flags
    fixed = {k for klass in own for k, hint in inspect.get_annotations(klass).items() if "ClassVar" in str(hint)}
    return {k: getattr(cls, k) for klass in reversed(own) for k, v in vars(klass).items()
            if not k.startswith("_") and k not in fixed and isinstance(v, (bool, int, float, str))}


def set_options(obj: Any, flag: str, kind: str, options: dict[str, Any]) -> None:
    """Check ``options`` against ``obj``'s declared ones (its class attributes) and set them on it: how every
    plugin class with options (losses, metrics, augmentations, regularisers) takes its ``flag`` values."""
    from .registry import registered_name  # here: the registry imports this module

    name = registered_name(type(obj))
    owner = f"{kind} '{name}'" if name else f"{kind} {type(obj).__name__}"
    for key, value in check_options(flag, owner, declared_options(type(obj)), options).items():
        setattr(obj, key, value)


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}


def _spelled(value: Any) -> Any:
    """A default as the flag takes it, in TOML: ``true`` and ``[0.1,0.2]``, not Python's ``True`` and ``(0.1, 0.2)``."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(_spelled(v)) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else value


def _as_list_of(flag: str, owner: str, key: str, default: list | tuple, value: Any) -> Any:
    """``value`` as a list of ``len(default)`` items, each as its default's type (a range such as ``[0.05,0.25]``)."""
    if isinstance(value, (list, tuple)) and len(value) == len(default):
        try:
            return type(default)(_as_type_of(flag, owner, key, d, v) for d, v in zip(default, value, strict=True))
        except GanzooError:
            pass
    kinds = {type(d) for d in default}
    what = f"{len(default)} {_PLURALS[kinds.pop()] if len(kinds) == 1 else 'items'}"
    raise GanzooError(f"{flag} {key}={_spelled(value)}: {owner} expects a list of {what} for {key}, such as the "
                      f"default {_spelled(default)}")


def _as_type_of(flag: str, owner: str, key: str, default: Any, value: Any) -> Any:
    """``value`` as ``type(default)``: TOML and the command line give ints for floats, strings for booleans."""
    kind = type(default)
    if isinstance(default, (list, tuple)) and default and all(type(d) in _KINDS for d in default):
        return _as_list_of(flag, owner, key, default, value)
    if default is None or kind not in _KINDS:
        return value  # no default type to hold it to (optional settings, empty lists): the owner checks it
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false", "1", "0"):
            return str(value).lower() in ("true", "1")
    elif kind is str:
        return str(value)
    elif not isinstance(value, (bool, str)) and isinstance(value, (int, float)):
        if kind is float or float(value).is_integer():
            return kind(value)
    raise GanzooError(f"{flag} {key}={_spelled(value)}: {owner} expects {_KINDS[kind]} for {key} "
                      f"(default {_spelled(default)})")


@dataclass
class NetConfig:
    """What a network builder needs to know; one for G and one for D.

    ``in_channels`` is ``None`` for a noise-input generator (it reads ``nz``) and
    for a discriminator that sees only the image. An image-to-image generator
    (inpainting, translation) or a discriminator that also sees a mask gets the
    channel count of its input here.
    """

    image_size: int
    channels: int
    nz: int = 100
    width: int = 64
    num_classes: int = 0
    in_channels: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


GENERATOR_INPUTS = {
    "noise": "G(z): a latent vector of NetConfig.nz",
    "label": "G(z, y) / D(x, y): class labels (NetConfig.num_classes)",
    "image": "G(x): an image of NetConfig.in_channels channels (image-to-image)",
}
DISCRIMINATOR_INPUTS = {
    "image": "D(x): the image alone",
    "label": "D(x, y): the image and its class label",
    "channels": "D(x): the image with condition channels stacked on it (NetConfig.in_channels in all)",
}
DISCRIMINATOR_OUTPUTS = {"logit": "one logit per image, shape (B,)", "patch": "a logit map, shape (B, 1, h, w)"}


@dataclass(frozen=True)
class Architecture:
    """A generator/discriminator pair and what it can do, declared as capabilities.

    ``generator_input`` says what G consumes (any of ``noise``, ``label``,
    ``image``: see :data:`GENERATOR_INPUTS`), ``discriminator_input`` what D
    judges (``image``, ``label``, ``channels``: :data:`DISCRIMINATOR_INPUTS`) and
    ``discriminator_output`` its logit shape (``logit``: ``(B,)``, ``patch``:
    ``(B, 1, h, w)``). A task declares what it needs in the same words, so a
    new task works with every architecture that has it, without naming either.
    Generators return images in [-1, 1]. ``options`` declares its ``--arch-opt``
    keys with their defaults (None: depends on the run); leaving it None means
    it takes none, and any ``--arch-opt`` is refused.
    """

    generator: Callable[[NetConfig], nn.Module]
    discriminator: Callable[[NetConfig], nn.Module]
    description: str
    generator_input: tuple[str, ...] = ("noise",)
    discriminator_input: tuple[str, ...] = ("image",)
    discriminator_output: str = "logit"
    image_sizes: tuple[int, ...] | None = None
    size_multiple: int = 1
    min_size: int = 1
    channels: tuple[int, ...] | None = None
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for field_name, given, known in (("generator_input", self.generator_input, GENERATOR_INPUTS),
                                         ("discriminator_input", self.discriminator_input, DISCRIMINATOR_INPUTS),
                                         ("discriminator_output", (self.discriminator_output,), DISCRIMINATOR_OUTPUTS)):
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise TypeError(f"Architecture {field_name}: unknown {', '.join(unknown)} (known: {', '.join(known)})")
        for role in ("generator", "discriminator"):  # a builder is called with one NetConfig
            builder = getattr(self, role)
            if not callable(builder):
                raise TypeError(f"Architecture {role}: {builder!r} is not callable; pass the nn.Module class or a "
                                "function NetConfig -> module")
            try:
                inspect.signature(builder, follow_wrapped=False).bind(None)
            except TypeError:
                raise TypeError(f"Architecture {role}: {getattr(builder, '__name__', builder)} cannot be called "
                                "with one NetConfig; give it a parameter for it, e.g. def build(cfg)") from None
            except ValueError:  # no signature to read (a builtin): the first build tells
                pass

    def lacks(self, task: type[Task]) -> list[str]:
        """What this architecture lacks for ``task`` (empty: it serves the task)."""
        missing = [f"G input '{i}'" for i in task.generator_input if i not in self.generator_input]
        missing += [f"D input '{i}'" for i in task.discriminator_input if i not in self.discriminator_input]
        if self.discriminator_output not in task.discriminator_output:
            missing.append(f"D output '{'/'.join(task.discriminator_output)}' (it gives '{self.discriminator_output}')")
        return missing

    def check(self, name: str, image_size: int, channels: int) -> None:
        """Refuse an image size or channel count this architecture cannot take, before any training starts."""
        problems = []
        if self.image_sizes is not None and image_size not in self.image_sizes:
            sizes = ", ".join(str(s) for s in self.image_sizes)
            problems.append(f"--image-size {image_size} (it supports: {sizes})")
        elif self.image_sizes is None and (image_size % self.size_multiple or image_size < self.min_size):
            multiple = f"a multiple of {self.size_multiple}, " if self.size_multiple > 1 else ""
            problems.append(f"--image-size {image_size} (it needs {multiple}at least {self.min_size})")
        if self.channels is not None and channels not in self.channels:
            problems.append(f"{channels} channels (it supports: {', '.join(map(str, self.channels))})")
        if problems:
            raise IncompatibleError(f"architecture '{name}' cannot do " + "; ".join(problems) + ".")


class Loss:
    """An adversarial loss: pure functions of discriminator logits.

    The engine calls ``d_loss(real, fake)`` in the D step and ``g_loss(fake)``
    in the G step; a loss with ``relativistic = True`` gets ``g_loss(fake, real)``,
    the logits of the same batch's real images through the same D, so
    relativistic losses are exact (the engine runs D on reals in the G step only
    for them). ``penalty`` gets an eager callable ``D(x) -> logits`` (never a
    compiled module: double backward does not go through ``torch.compile``).
    """

    description: ClassVar[str] = ""
    relativistic: ClassVar[bool] = False
    n_critic: int = 1
    # The paper's optimiser settings (lr, beta1, beta2), used where the user and the task set none.
    config_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        set_options(self, "--loss-opt", "loss", options)

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def penalty(self, D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor | None:
        return None

    def after_d_step(self, D: nn.Module) -> None:
        """Called after each optimiser step of D (weight clipping lives here)."""

    def score(self, logits: Tensor) -> Tensor:
        """The D(x) / D(G(z)) figure seed 001 prints: mean probability of 'real'.

        Returned as a tensor so the engine syncs with the device only when it logs.
        """
        return torch.sigmoid(logits.detach().float()).mean()


@dataclass
class Judge:
    """What one discriminator judges in one batch; a task returns these from :meth:`Task.judges`.

    ``real`` and ``fake`` are images (B, C, H, W); ``fake`` carries G's graph
    (the engine detaches it for the D step). The condition is given to D with
    both: ``label`` as ``D(x, label)``, ``channels`` stacked onto the image
    (``D(cat([x, channels], 1))``, e.g. an inpainting mask or pix2pix's source
    image). ``weight`` scales this judge's adversarial term in G's loss (0: D
    trains, G ignores it). ``fake_name`` labels the log (``D(G(z))``).
    """

    d: str
    real: Tensor
    fake: Tensor
    label: Tensor | None = None
    channels: Tensor | None = None
    weight: float = 1.0
    fake_name: str = "G(z)"


class Augment(nn.Module):
    """A differentiable augmentation the engine applies to everything a D sees, real and fake alike.

    ``forward(x, generator)`` gets an image batch (B, C, H, W) in [-1, 1] that D
    is about to judge (before condition channels are stacked on) and returns one
    of the same shape, differentiable in ``x``, drawing its randomness only from
    ``generator`` (the engine's CPU generator, so resume stays exact).
    ``observe(real_logits)`` lets an adaptive augmentation steer itself (ADA); keep
    such state in buffers: the checkpoint saves them. Options: public class
    attributes holding a number, boolean or string (``--augment-opt``), as for losses.
    """

    description: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        set_options(self, "--augment-opt", "augmentation", options)

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def observe(self, real_logits: Tensor) -> None:
        """Called with D's logits on (augmented) reals after each D forward pass of the D step."""

    def logs(self) -> dict[str, Tensor]:
        """Figures to log with the D step (ADA's p), as device tensors."""
        return {}


class Regularizer(nn.Module):
    """A D-step term beyond the loss (R1 on reals, R2 on fakes, LeCam, consistency).

    The engine calls it every ``interval`` D steps (lazy regularisation: the
    term is multiplied by ``interval`` so its average weight stays the same)
    with an eager ``D(x) -> logits`` (same condition and augmentation as the
    loss's pass, never compiled, so input gradients and double backward work
    under ``--compile``), the real and (detached) fake images, and the logits
    the loss saw. It returns a scalar to add to D's loss, or None. Options:
    public class attributes (``--reg-opt NAME.KEY=VALUE``); state (running
    means) in buffers, which the checkpoint saves.
    """

    description: ClassVar[str] = ""
    # True when the term compares D on new images with the loss's logits (bCR): --d-batch joint, whose logits come
    # from one batch-norm pass over real and fake together, refuses it (D's own pass sees one batch at a time)
    compares_logits: ClassVar[bool] = False
    interval: int = 1

    def __init__(self, **options: Any) -> None:
        super().__init__()
        set_options(self, "--reg-opt", "regulariser", options)
        if self.interval < 1:
            raise GanzooError(f"--reg-opt interval={self.interval}: {type(self).__name__} needs an interval >= 1")

    def forward(self, D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, real_logits: Tensor,
                fake_logits: Tensor) -> Tensor | None:
        raise NotImplementedError


@dataclass
class DataOptions:
    """Options common to every dataset; ``options`` holds dataset-specific ones."""

    root: str | None = None
    image_size: int = 32
    channels: int | None = None
    split: str = "train"
    seed: int = 0
    download: bool = False
    skip_bad_images: bool = False
    options: dict[str, Any] = field(default_factory=dict)


SPLITS = {"train": 0, "test": 1}


def item_count(dataset: str, options: DataOptions, key: str = "n", least: int = 1) -> int:
    """A dataset's size option (``--data-opt n=...``) as an int, refused in one line below ``least``."""
    count = int(options.options[key])
    if count < least:
        raise GanzooError(f"dataset '{dataset}': --data-opt {key} is how many items it draws, at least {least}; "
                          f"got {count}")
    return count


def split_id(dataset: str, split: str) -> int:
    """The number of a split, which keys per-item RNGs so train and test draw different streams."""
    if split not in SPLITS:
        raise GanzooError(f"dataset '{dataset}' has splits {', '.join(SPLITS)}, not '{split}'")
    return SPLITS[split]


def item_rng(seed: int, split: int, index: int, length: int) -> np.random.Generator:
    """The RNG item ``index`` is drawn from: the same on every call, which exact resume relies on."""
    if not 0 <= index < length:
        raise IndexError(index)
    return np.random.default_rng((seed, split, index))


LAYOUT_IMAGES = {"image": ("image",), "aligned": ("A", "B"), "unaligned": ("A", "B")}  # the images each layout holds


def _check_item(name: str, item: Any, options: DataOptions, layout: str, num_classes: int) -> None:
    """One dataset item as :class:`DatasetSpec` documents it: a dict whose layout images are float CxHxW tensors in
    [-1, 1] (other keys, e.g. a bool mask, are the plugin's own), with an int ``label`` below ``num_classes`` where
    the dataset declares classes."""
    if not isinstance(item, dict):
        raise GanzooError(f"dataset '{name}' yields a {type(item).__name__}, not a dict such as "
                          "{'image': float CxHxW tensor in [-1, 1], 'label': int}; fix the plugin's __getitem__")
    for key in LAYOUT_IMAGES.get(layout, ()):
        value = item.get(key)
        if not (isinstance(value, torch.Tensor) and value.dim() == 3):
            raise GanzooError(f"dataset '{name}' (layout '{layout}') yields no '{key}' image (a CxHxW tensor); "
                              f"its items have {', '.join(map(str, item)) or 'no keys'}; fix the plugin")
        if not value.is_floating_point() or value.numel() and (value.min() < -1.001 or value.max() > 1.001):
            low, high = (value.min().item(), value.max().item()) if value.numel() else (0, 0)
            raise GanzooError(f"dataset '{name}' yields '{key}' as {value.dtype} in [{low:g}, {high:g}]; images "
                              "must be float in [-1, 1] (e.g. x / 127.5 - 1 for 8-bit pixels); fix the plugin")
        wanted = (options.channels or value.shape[0], options.image_size, options.image_size)
        if key == "image" and tuple(value.shape) != wanted:
            raise GanzooError(f"dataset '{name}' yields 'image' of shape {tuple(value.shape)} where --channels "
                              f"{options.channels or 'any'} --image-size {options.image_size} asks for "
                              f"{wanted}; fix the plugin (it must honour both options)")
    if num_classes:
        label = item.get("label")
        if isinstance(label, torch.Tensor) and label.dim() == 0 and not label.is_floating_point():
            label = label.item()
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
            given = "no 'label'" if label is None else f"label {label!r}"
            raise GanzooError(f"dataset '{name}' declares num_classes={num_classes} but yields {given}; each item "
                              f"needs an int 'label' from 0 to {num_classes - 1}; fix the plugin")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset builder.

    ``build`` returns a ``torch.utils.data.Dataset`` whose items are dicts:
    layout ``image``: ``{"image": float CxHxW in [-1, 1], "label": int64}``
    (label -1 when there are none); layout ``unaligned``: ``{"A": ..., "B": ...}``.
    ``options`` declares the dataset's own ``--data-opt`` keys with their
    defaults; :meth:`load` refuses any other key, so a typo is not silently ignored.
    ``count_classes``, for a dataset whose classes depend on its files (``folder``:
    one per subfolder), counts them for given options (0: unlabelled) without
    building the dataset; ``num_classes`` is then what :meth:`with_classes` returns.
    ``default_root`` is where its files are when no ``--data-root`` is given, or a function that says so when a
    run starts (e.g. from an environment variable); a new run records it as an absolute path, so eval, probe and
    resume read the same files from any directory.
    """

    build: Callable[[DataOptions], torch.utils.data.Dataset]
    description: str
    channels: int | None = None
    num_classes: int = 0
    layout: str = "image"
    needs_root: bool = False
    default_root: str | Callable[[], str] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    count_classes: Callable[[DataOptions], int] | None = None

    def root(self) -> str | None:
        """:attr:`default_root`, read now."""
        return self.default_root() if callable(self.default_root) else self.default_root

    def with_classes(self, name: str, options: DataOptions) -> DatasetSpec:
        """This spec with ``num_classes`` counted from the data ``options`` point at, where it has ``count_classes``."""
        if self.count_classes is None:
            return self
        options = replace(options, options=self.check_options(name, options.options))
        return replace(self, num_classes=self.count_classes(options))

    def check_options(self, name: str, given: dict[str, Any]) -> dict[str, Any]:
        """``given`` over the declared defaults; a key the dataset does not declare is an error."""
        return check_options("--data-opt", f"dataset '{name}'", self.options, given)

    def load(self, name: str, options: DataOptions) -> torch.utils.data.Dataset:
        """Build dataset ``name`` with its declared defaults filled in under ``options.options``; its first item is
        checked against the layout, so a plugin's mistake is one line naming it, not a shape error mid-step."""
        dataset = self.build(replace(options, options=self.check_options(name, options.options)))
        try:
            size = len(dataset)
        except (TypeError, ValueError) as exc:
            raise GanzooError(f"dataset '{name}' cannot say how many items it has ({exc}); check its --data-opt "
                              "values or the plugin's __len__") from None
        if size:
            _check_item(name, dataset[0], options, self.layout, self.num_classes)
        return dataset


@dataclass(frozen=True)
class MaskSpec:
    """An inpainting mask generator and the hole area it promises.

    ``make(shape, rng, **options)`` returns a boolean array of ``shape`` (H, W),
    True where pixels are missing (the hole), drawn only from ``rng`` (a
    ``numpy.random.Generator``) so the same seed gives the same masks.
    ``options`` holds the defaults of its keyword options; with those, the hole
    covers a fraction of the image within ``area`` (inclusive), for sides of
    at least ``min_size`` pixels.
    """

    make: Callable[..., Any]
    description: str
    area: tuple[float, float] = (0.0, 1.0)
    options: dict[str, Any] = field(default_factory=dict)
    min_size: int = 16

    def __call__(self, shape: tuple[int, int], rng: Any, **options: Any) -> Any:
        return self.make(shape, rng, **check_options("mask option", "this mask", self.options, options))


@dataclass(frozen=True)
class FeatureSpec:
    """A feature net for the image metrics: what a ``--classifier`` value names (kind ``features``).

    ``load(arg)`` builds the net; the value ``NAME:ARG`` (or plain ``NAME``)
    of a registered feature extractor gives it ``ARG`` (or ``""``), and any
    other value is a file path for the ``classifier`` extractor. ``source(arg)``,
    when given, is the file the net is read from, so a rewritten file is
    reloaded rather than served from the cache.

    The net is an ``nn.Module`` with ``features_and_logits(x) -> (features
    (N, d), logits (N, k))`` on images in [-1, 1] of any size, an int
    ``num_features`` (d) and a dict ``meta`` whose ``"dataset"`` names the
    dataset it was trained on (None for a generic one); an optional
    ``batch_size`` caps the images per forward pass (default ``ganzoo.metrics.BATCH``).
    """

    load: Callable[[str], nn.Module]
    description: str
    source: Callable[[str], Path] | None = None


@dataclass(frozen=True)
class Recipe:
    """A named set of run settings with its source: ``ganzoo train --recipe NAME``.

    ``settings`` maps :class:`ganzoo.RunConfig` fields (``arch``, ``loss``,
    ``lr``, ``task_options``, ...) to values; any option the user gives (on the
    command line or in ``--config``) overrides the recipe's, and ``*_options``
    tables merge key by key. ``source`` says where the settings come from: a
    paper, a repository, or "seed 001 as written".
    """

    settings: dict[str, Any]
    description: str
    source: str


@dataclass
class StepContext:
    """What the engine hands a task on every step."""

    nets: dict[str, nn.Module]
    eager: dict[str, nn.Module]
    loss: Loss
    device: torch.device
    generator: torch.Generator
    step: int = 0
    rank: int = 0
    world: int = 1

    def randn(self, *shape: int) -> Tensor:
        """Noise from the engine's own generator, so resume is exact.

        Under DDP (``world`` processes) every rank draws the noise of the whole
        global batch and keeps its own slice, so N processes train exactly as
        one process with N times the batch. The copy to the device does not
        wait for the GPU (a blocking copy would stall every step).
        """
        if self.world == 1:
            noise = torch.randn(*shape, generator=self.generator, device="cpu")
        else:
            n = shape[0]
            noise = torch.randn(n * self.world, *shape[1:], generator=self.generator, device="cpu")
            noise = noise[self.rank * n : (self.rank + 1) * n]
        return noise.to(self.device, non_blocking=True)


class Task:
    """A training task: the networks it needs, what G makes of a batch, and what each D judges.

    The engine owns the adversarial step (``ganzoo/engine/adversarial.py``): it
    calls :meth:`generate` on a batch, runs each :class:`Judge` from
    :meth:`judges` through its D on real and fake with the loss, its penalty
    and the regularisers (D step), then the same judges' adversarial terms plus
    :meth:`generator_terms` (G step), reusing the D step's fakes when D takes one
    step per G step. No state passes from D step to G step through the task.
    The engine also owns devices, precision, optimisers, EMA, checkpoints and
    logging. ``d_nets`` are updated in the D step, ``g_nets`` in the G step,
    ``ema_nets`` get an exponential moving average when ``--ema`` is on.

    Capabilities: ``generator_input``, ``discriminator_input`` and
    ``discriminator_output`` say what the task needs of an architecture, in the
    words of :class:`Architecture`; every architecture that has them serves it.
    Options: public class attributes holding a number, boolean or string are the
    task's ``--task-opt`` keys with their defaults (as for losses); the engine
    checks them and sets them on the instance.
    """

    description: ClassVar[str] = ""
    layout: ClassVar[str] = "image"
    generator_input: ClassVar[tuple[str, ...]] = ("noise",)
    discriminator_input: ClassVar[tuple[str, ...]] = ("image",)
    discriminator_output: ClassVar[tuple[str, ...]] = ("logit", "patch")
    d_nets: ClassVar[tuple[str, ...]] = ("D",)
    g_nets: ClassVar[tuple[str, ...]] = ("G",)
    ema_nets: ClassVar[tuple[str, ...]] = ("G",)
    sample_caption: ClassVar[str] = "Samples from the fixed inputs, one grid per interval."
    default_loss: ClassVar[str] = "bce"
    default_arch: ClassVar[str] = "dcgan"
    command: ClassVar[str] = "sample"  # the CLI command that puts a trained checkpoint to use
    # The recipe's own engine settings (e.g. batch_size, lr_policy), used where the user sets none.
    config_defaults: ClassVar[dict[str, Any]] = {}
    # evaluate() scores with metric plugins chosen by --metrics (generation); else with its own fixed scores.
    metric_plugins: ClassVar[bool] = False
    # The ``ganzoo eval`` options evaluate() reads; eval and train --eval-every refuse a flag for any other, so no
    # flag is silently ignored. The default (all of them) refuses nothing.
    eval_reads: ClassVar[frozenset[str]] = frozenset({"num", "data_root", "classifier", "seed", "out"})
    headline: ClassVar[str] = ""  # the figure of figures() that `ganzoo bench` curves follow by default
    num_classes: ClassVar[int] = 0  # set by a task whose nets see labels (conditional)
    options: dict[str, Any]

    def __init__(self, arch: Architecture, config: Any, dataset: DatasetSpec, **options: Any) -> None:
        """``options`` are the checked ``--task-opt`` values (see :meth:`option_defaults`), set as attributes."""
        self.arch = arch
        self.config = config
        self.dataset = dataset
        self.options = options
        for key, value in options.items():
            setattr(self, key, value)

    @classmethod
    def option_defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The ``--task-opt`` keys this task takes, with defaults; ``given`` may decide some (a mask's options)."""
        return declared_options(cls)

    def net_config(self, in_channels: int | None = None) -> NetConfig:
        """The run's NetConfig; ``in_channels`` for an image-input G or a D with condition channels. Its
        ``options`` hold every option the architecture declares: the run's, else the default (a default of None,
        "the builder decides", is left out)."""
        c = self.config
        return NetConfig(c.image_size, c.channels, c.nz, c.width, self.num_classes, in_channels,
                         options={**{k: v for k, v in (self.arch.options or {}).items() if v is not None},
                                  **c.arch_options})

    def generator_in_channels(self) -> int | None:
        """Channels of G's input image (``generator_input`` ``image``); None for a noise-input G."""
        return self.config.channels if "image" in self.generator_input else None

    def condition_channels(self) -> int:
        """Channels stacked onto the image D judges (``discriminator_input`` ``channels``), e.g. 1 for a mask."""
        return 0

    def discriminator_in_channels(self) -> int | None:
        """Channels D reads: the image's plus :meth:`condition_channels`, times ``--pack`` (None: the image's)."""
        extra, pack = self.condition_channels(), self.config.pack
        return (self.config.channels + extra) * pack if extra or pack > 1 else None

    def build(self) -> dict[str, nn.Module]:
        """G and D from the architecture; a task with other networks (two Gs, a history pool) overrides this."""
        return {"G": self.arch.generator(self.net_config(self.generator_in_channels())),
                "D": self.arch.discriminator(self.net_config(self.discriminator_in_channels()))}

    def generate(self, ctx: StepContext, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Run the generator(s) on a batch: what :meth:`judges` and :meth:`generator_terms` read."""
        raise NotImplementedError

    def judges(self, batch: dict[str, Tensor], out: dict[str, Tensor]) -> list[Judge]:
        """What each discriminator judges: real and generated images and their condition."""
        raise NotImplementedError

    def fake_for_d(self, ctx: StepContext, judge: Judge, fake: Tensor) -> Tensor:
        """The (detached) fakes D trains on; a history pool (CycleGAN) swaps some for older ones."""
        return fake

    def generator_terms(self, ctx: StepContext, batch: dict[str, Tensor],
                        out: dict[str, Tensor]) -> tuple[Tensor | None, dict[str, Tensor]]:
        """The task's own generator losses beyond the adversarial ones (L1, cycle, identity) and their logs."""
        return None, {}

    def fixed_inputs(self, ctx: StepContext, batch: dict[str, Tensor] | None, n: int) -> dict[str, Tensor]:
        """Inputs held fixed over the run so sample grids are comparable (``batch``: None when sampling)."""
        raise NotImplementedError

    @torch.no_grad()
    def samples(self, nets: dict[str, nn.Module], fixed: dict[str, Tensor]) -> Tensor:
        """Images in [-1, 1] for the sample grid (B, C, H, W)."""
        raise NotImplementedError

    def evaluate(self, nets: dict[str, nn.Module], device: torch.device, **options: Any) -> dict[str, Any]:
        """Task-specific quality figures for ``ganzoo eval`` and ``ganzoo bench`` (a JSON-able dict).

        ``options`` come from the eval command (``metrics``, ``num``, ``data_root``,
        ``classifier``, ``seed``, ``out``); a task ignores the ones it has no use
        for. Top-level numbers are the figures ``ganzoo bench`` puts in its table
        and curves; nested dicts are tables (``ganzoo eval`` prints them).
        """
        raise GanzooError(f"task '{self.config.task}' has no evaluation (its plugin defines no evaluate); "
                          "look at its samples instead")

    def eval_option_defaults(self, given: dict[str, Any]) -> dict[str, Any]:
        """The options :meth:`evaluate` takes beyond ``ganzoo eval``'s own flags, with defaults: the keys of
        ``ganzoo eval --eval-opt``, checked like ``--task-opt``; ``given`` may decide some (a mask's options)."""
        return {}

    def figures(self, results: dict[str, Any]) -> dict[str, float]:
        """The flat numbers of an :meth:`evaluate` result that ``ganzoo bench`` tabulates (default: its top level)."""
        return {k: v for k, v in results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def sample_nrow(self, n: int) -> int:
        """Images per row in the sample grid."""
        return max(1, int(round(n**0.5)))


class Logger:
    """Where a training run's figures and sample grids go (kind ``loggers``, chosen with ``--logger NAME``).

    The engine makes one of each chosen logger per training run, on the process
    that writes (rank 0), before the first step: ``cls(run_dir, config, step)``
    with the run directory, the resolved :class:`ganzoo.RunConfig` and the step
    training starts from (the checkpoint's on ``--resume``). Records an earlier
    attempt wrote after that step are stale (all of them when it is 0: a new
    run). Then, in training order:

    * ``log(step, scalars)``: a record of named figures. Every ``--log-every``
      steps the training figures (``d_loss``, ``g_loss``, ``D(x)``, ``D(G(z))``,
      the task's own terms, ``lr``, ``img_per_s``); with ``--eval-every``, the
      task's evaluation figures, named ``eval/<figure>``. Numbers are what a
      tracker plots; skip any other value (None marks a figure that was not finite);
    * ``image(step, name, grid, path)``: a sample grid as an HxWxC (HxW for
      gray) uint8 array, and the PNG the engine wrote it to;
    * ``close()``: training ended.

    Write each record through (flush it): a run stopped by an error keeps what
    was logged. ``requires`` maps each module the logger imports beyond
    ganzoo's own dependencies to the pip requirement that installs it; the
    engine refuses a logger whose module is missing before training, naming it.
    """

    description: ClassVar[str] = ""
    requires: ClassVar[dict[str, str]] = {}

    def __init__(self, run_dir: Path, config: Any, step: int) -> None:
        self.run_dir, self.config = Path(run_dir), config

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        raise NotImplementedError

    def image(self, step: int, name: str, grid: np.ndarray, path: Path) -> None:
        """A sample grid; a logger that keeps no pictures ignores it."""

    def close(self) -> None:
        """Training ended: flush and release files or connections."""


class Metric:
    """A quality metric; see plugins/metrics for the concrete protocol of each."""

    description: ClassVar[str] = ""
