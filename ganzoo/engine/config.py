"""The run configuration: every setting defined once, with its help, default, range and resume rule.

Each :class:`RunConfig` field carries a :class:`Setting`. ``ganzoo train``'s and
``ganzoo bench``'s options are generated from them (ganzoo/cli.py), TOML files
and checkpoints are read into the same dataclass, one validator
(``RunConfig.__post_init__``) checks every source, and :func:`resume_config`
decides from them what ``--resume`` may change.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from ..errors import GanzooError, GanzooWarning
from ..files import write_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Setting:
    """What users see of one run setting, what it must satisfy, and whether ``--resume`` may change it.

    ``shown`` is the default as ``-h`` states it where the field's own default does not say it (``None``:
    the task, loss or dataset decides); ``recipe`` is the engine's value for settings a task's or loss's
    ``config_defaults`` may choose. Numbers must be finite and lie within ``low``..``high`` (``open_*``: the
    bound itself is excluded); ``why`` says where a bound comes from.
    """

    help: str
    group: str
    shown: str = ""
    recipe: Any = None
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    why: str = ""
    choices: tuple[str, ...] = ()
    names: str = ""  # registry kind whose names the option completes in the shell
    flag: str = ""  # the command-line flag where the field's name does not give it (``loggers``: ``--logger``)
    resume: bool = False  # may differ from the saved run on --resume
    directory: bool = False
    repeatable: bool = False  # a comma-separated string whose option may also repeat (``--reg r1 --reg r2``)

    def allowed(self) -> str:
        """The range as ``0 < x <= 1`` (empty for settings without one)."""
        if self.low is None and self.high is None:
            return ""
        left = f"{_number(self.low)} {'<' if self.open_low else '<='} " if self.low is not None else ""
        right = f" {'<' if self.open_high else '<='} {_number(self.high)}" if self.high is not None else ""
        return f"{left}x{right}"

    def violation(self, value: float) -> str:
        """What ``value`` breaks, e.g. ``must be positive``; empty when it lies in range."""
        if not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            if self.open_low:
                return "must be positive" if self.low == 0 else f"must be above {_number(self.low)}"
            return f"must be at least {_number(self.low)}"
        if self.high is not None and (value >= self.high if self.open_high else value > self.high):
            return f"must be {'below' if self.open_high else 'at most'} {_number(self.high)}"
        return ""


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


SETTING = "ganzoo"  # the key of a Setting in a field's metadata
MAX_COUNT = 10**9  # steps and intervals: far beyond any run, and a typo'd 20-digit number is caught
SEED_MAX = 2**63 - 1  # see the seed's Setting.why


def setting(default: Any = None, **meta: Any) -> Any:
    """A :class:`RunConfig` field with its :class:`Setting`; ``default=dict`` (``list``) gives an empty table (list)."""
    if default in (dict, list):
        return field(default_factory=default, metadata={SETTING: Setting(**meta)})
    return field(default=default, metadata={SETTING: Setting(**meta)})


MODEL, TRAINING, SPEED, OUTPUT = "Model and data", "Training", "Speed", "Output"
_COUNT = dict(low=1, high=MAX_COUNT)
_SIZE = dict(low=1, why="a guard against typos that would allocate without bound")
_ADAM_LR = dict(low=0, open_low=True, high=1, why="Adam moves each weight by about lr per step: more diverges")
_ADAM_BETA = dict(low=0, high=1, open_high=True, why="Adam's moment decay")


@dataclass
class RunConfig:
    """Everything that defines a training run; saved as ``config.toml``/JSON in the run dir.

    ``None`` means "not set": arch and loss come from the task, the
    :data:`ENGINE_DEFAULTS` keys from the loss's recipe (WGAN-GP's Adam), the task's, or else the engine.
    Each field is the ``ganzoo train`` option of the same name (dashes for
    underscores; ``ganzoo train -h`` gives its help and default). In a
    loaded run (``ganzoo.load_run(...).config``) every setting is resolved.

    * what: ``arch``, ``loss``, ``task``, ``dataset``, with their own options
      in ``arch_options``, ``loss_options``, ``task_options``, ``data_options``;
    * data: ``data_root`` (absolute once trained), ``image_size``, ``channels``,
      ``download``, ``skip_bad_images``, ``workers``;
    * budget and optimiser: ``steps`` (G updates) or ``epochs``, ``batch_size``
      (per process), ``lr``, ``lr_d``, ``beta1``, ``beta2``, ``lr_policy``
      (constant or linear) from ``decay_start`` (a fraction of ``steps``),
      ``n_critic`` (D steps per G step);
    * networks: ``nz`` (noise size), ``width`` (base channel count), ``ema``
      and ``ema_decay`` (an averaged copy of the task's EMA nets);
    * speed: ``device``, ``precision`` (fp32, bf16, fp16), ``channels_last``,
      ``compile``, ``capture`` (the captured step), ``kernels``, ``threads`` (CPU); ``seed`` fixes everything random;
    * output: ``out`` (the run directory), ``log_every``, ``sample_every``,
      ``ckpt_every`` (in steps), ``n_samples`` (per grid), ``progress``,
      ``loggers`` (logger plugins besides ``jsonl``); ``eval_every`` scores the
      run every N steps with the task's evaluation (``metrics``, ``eval_num``,
      ``classifier`` as ``ganzoo eval``'s) and logs the figures.
    """

    recipe: str | None = setting(help="Named settings from a paper or a seed (ganzoo list recipes); any option "
                                      "given overrides the recipe's, and another --task, --arch, --loss, "
                                      "--dataset, --augment or --reg drops the recipe's options for its own.",
                                 group=MODEL, shown="none", names="recipes")
    arch: str | None = setting(help="Architecture (ganzoo list archs).", group=MODEL,
                               shown="the task's default: dcgan for generation", names="archs")
    loss: str | None = setting(help="Adversarial loss (ganzoo list losses).", group=MODEL, shown="task default",
                               names="losses")
    task: str = setting("unconditional", help="Task (ganzoo list tasks).", group=MODEL, names="tasks")
    dataset: str = setting("shapes", help="Dataset (ganzoo list datasets).", group=MODEL, names="datasets")
    data_root: str | None = setting(help="Directory with the dataset files (e.g. ../shared/data/mnist).", group=MODEL,
                                    resume=True)
    image_size: int | None = setting(help="Image side in pixels.", group=MODEL, shown="first size the arch supports",
                                     high=8192, **_SIZE)
    channels: int | None = setting(help="Image channels.", group=MODEL, shown="the dataset's own", high=1024, **_SIZE)
    batch_size: int | None = setting(help="Batch size per process.", group=TRAINING,
                                     shown="64; 1 for cyclegan and pix2pix", recipe=64, high=2**16, **_SIZE)
    steps: int = setting(1500, help="Generator updates to train for.", group=TRAINING, resume=True, **_COUNT)
    epochs: float | None = setting(help="Train for this many passes over the data instead of --steps.",
                                   group=TRAINING, resume=True, low=0, open_low=True, high=10**6)
    lr: float | None = setting(help="Adam learning rate.", group=TRAINING,
                               shown="1e-3 for unconditional generation, else 2e-4; wgan-gp: 1e-4", recipe=2e-4,
                               **_ADAM_LR)
    lr_d: float | None = setting(help="Discriminator learning rate.", group=TRAINING, shown="--lr", **_ADAM_LR)
    beta1: float | None = setting(help="Adam beta1.", group=TRAINING,
                                  shown="0 for unconditional generation, else 0.5 (DCGAN); wgan-gp: 0", recipe=0.5,
                                  **_ADAM_BETA)
    beta2: float | None = setting(help="Adam beta2.", group=TRAINING,
                                  shown="0.99 for unconditional generation, else 0.999; wgan-gp: 0.9", recipe=0.999,
                                  **_ADAM_BETA)
    lr_policy: str | None = setting(help="LR schedule; linear: constant until --decay-start, then linear decay to 0.",
                                    group=TRAINING, shown="constant; linear for cyclegan and pix2pix",
                                    recipe="constant",
                                    choices=("constant", "linear"))
    decay_start: float = setting(0.5, help="Fraction of the steps after which --lr-policy linear decays.",
                                 group=TRAINING, low=0, high=1)
    nz: int = setting(100, help="Latent size.", group=MODEL, high=2**16, **_SIZE)
    width: int | None = setting(help="Base feature width (ngf/ndf).", group=MODEL,
                                shown="64; 32 for unconditional generation", recipe=64, high=8192, **_SIZE)
    n_critic: int | None = setting(help="D steps per G step.", group=TRAINING, shown="the loss's default", low=1,
                                   high=1000)
    augment: str | None = setting(help="Augmentation of everything D sees, real and fake (ganzoo list augments), "
                                       "e.g. diffaugment or ada.", group=TRAINING, shown="none", names="augments")
    augment_options: dict[str, Any] = setting(dict, help="Augmentation option, e.g. policy=color,translation.",
                                              group=TRAINING)
    reg: str | None = setting(help="D regularisers, comma-separated (ganzoo list regularizers), e.g. r1 or "
                                   "lecam,bcr (or repeated: --reg lecam --reg bcr).", group=TRAINING, shown="none",
                          names="regularizers", repeatable=True)
    reg_options: dict[str, Any] = setting(dict, help="Regulariser option as NAME.KEY=VALUE, e.g. r1.gamma=1.",
                                          group=TRAINING)
    pack: int = setting(1, help="PacGAN packing: D judges this many samples stacked along channels.", group=TRAINING,
                        low=1, high=64)
    d_batch: str = setting("split", help="How D sees real and fake in a step: split (two passes, so D's batch norm "
                                         "normalises each alone: a fake batch's overall brightness or spread is "
                                         "invisible to it) or joint (one pass of both, so batch norm compares them).",
                           group=TRAINING, choices=("split", "joint"))
    ema: bool | None = setting(help="Keep an EMA of G for sampling.", group=TRAINING,
                               shown="off; on for unconditional generation", recipe=False)
    ema_decay: float = setting(0.999, help="Decay of G's EMA, at most (1 + n) / (10 + n) after n steps: 0.999 "
                               "takes effect from step ~9000, 0.9995 from ~18000.", group=TRAINING,
                               low=0, high=1)
    device: str = setting("auto", help="cpu, cuda, cuda:1, mps or auto.", group=SPEED, resume=True)
    precision: str = setting("fp32", help="Autocast precision.", group=SPEED, choices=("fp32", "bf16", "fp16"))
    channels_last: bool = setting(False, help="channels_last memory format.", group=SPEED, resume=True)
    compile: bool = setting(False, help="torch.compile G and D separately.", group=SPEED, resume=True)
    capture: str = setting("off", help="step: compile each whole D and G update (forward, backward, optimizer "
                                       "step) and draw noise on the device, no host sync in a step; the D update "
                                       "stays eager with a penalty, regulariser or augmentation; graphs: also "
                                       "CUDA graphs (CUDA only). Not with fp16 or DDP.", group=SPEED,
                           choices=("off", "step", "graphs"), resume=True)
    kernels: str = setting("auto", help="Fused-kernel implementation: ref (PyTorch), triton (CUDA), auto (= ref).",
                           group=SPEED, choices=("auto", "ref", "triton"), resume=True)
    threads: int | None = setting(help="Threads for torch's CPU ops; 1 is faster when other jobs share the cores "
                                       "(README: speed on a shared CPU).", group=SPEED,
                                  shown="the CPUs this process may use", low=1, high=4096, resume=True)
    seed: int = setting(0, help="Random seed.", group=TRAINING, low=0, high=SEED_MAX,
                        why="torch seeds are 64-bit and the engine adds offsets to derive more")
    workers: int = setting(0, help="DataLoader worker processes.", group=SPEED, low=0, high=1024, resume=True)
    download: bool = setting(False, help="Allow torchvision datasets to download (needs internet).", group=MODEL,
                             resume=True)
    skip_bad_images: bool = setting(False, help="Skip unreadable image files with a warning.", group=MODEL)
    out: str | None = setting(help="Run directory.", group=OUTPUT, shown="runs/<arch>-<loss>-<dataset>-<time>",
                              resume=True, directory=True)
    log_every: int = setting(50, help="Log every N steps.", group=OUTPUT, resume=True, **_COUNT)
    sample_every: int = setting(200, help="Write a sample grid every N steps.", group=OUTPUT, resume=True, **_COUNT)
    ckpt_every: int = setting(500, help="Write the checkpoint every N steps.", group=OUTPUT, resume=True, **_COUNT)
    n_samples: int = setting(64, help="Images in each sample grid (from a fixed latent).", group=OUTPUT, high=4096,
                             **_SIZE)
    progress: bool = setting(True, help="Show a progress bar.", group=OUTPUT, resume=True)
    loggers: list[str] = setting(list, help="Also log to this logger plugin, e.g. csv, tensorboard (repeatable; "
                                 "ganzoo list loggers); log.jsonl is always written.", group=OUTPUT, flag="--logger",
                                 names="loggers", resume=True)
    eval_every: int | None = setting(help="Score the run every N steps (the task's evaluation, as ganzoo eval) and "
                                     "log the figures.", group=OUTPUT, shown="off", resume=True, **_COUNT)
    metrics: list[str] = setting(list, help="Metrics for --eval-every, comma-separated (tasks scored by metric "
                                 "plugins; ganzoo list metrics).", group=OUTPUT, shown="the task's defaults",
                                 names="metrics", resume=True)
    eval_num: int | None = setting(help="Generated samples per --eval-every evaluation (as ganzoo eval -n).",
                                   group=OUTPUT, shown="the evaluation's default", resume=True, low=2, high=10**7)
    classifier: str | None = setting(help="Feature net for --metrics: a `ganzoo features train` file, or "
                                     "inception[:PATH].", group=OUTPUT, resume=True)
    arch_options: dict[str, Any] = setting(dict, help="Architecture option (repeatable).", group=MODEL)
    loss_options: dict[str, Any] = setting(dict, help="Loss option, e.g. gp_weight=5.", group=MODEL)
    task_options: dict[str, Any] = setting(dict, help="Task option (repeatable).", group=MODEL)
    data_options: dict[str, Any] = setting(
        dict, help="Dataset option, e.g. n=2000 (each dataset's options: ganzoo list datasets --json).", group=MODEL)

    def __post_init__(self) -> None:
        """The one validator, whatever the source (CLI, TOML, checkpoint, code): refuse a setting of the wrong
        kind, out of range or not finite here, not as a crash or NaNs in the first step."""
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                setattr(self, spec.name, _checked(spec, value))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config",
                  origins: dict[str, str] | None = None) -> "RunConfig":
        """Build from a mapping; unknown keys are an error naming the source and the key. A bad value whose key
        is in ``origins`` (key -> where it was written, e.g. a config file) names that place too."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise GanzooError(f"{source}: unknown setting {unknown_settings(unknown)}")
        for key, origin in (origins or {}).items():
            if data.get(key) is not None:
                try:
                    _checked(fields[key], data[key])
                except GanzooError as exc:
                    raise GanzooError(f"{origin}: {exc}") from None
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        return cls.from_dict(json.loads(text), "checkpoint config")


SETTINGS: dict[str, Setting] = {f.name: f.metadata[SETTING] for f in dataclasses.fields(RunConfig)}


def unknown_settings(keys: list[str]) -> str:
    """Names that are no run setting, each with its did-you-mean: ``'batch' (did you mean 'batch_size'?)``."""
    import difflib

    by_flag = {**COMMON_NAMES, **{option_flag(name)[2:].replace("-", "_"): name for name in SETTINGS}}
    hints = [[by_flag[k]] if k in by_flag else difflib.get_close_matches(k, SETTINGS, n=1) for k in keys]
    return ", ".join(f"'{k}'" + (f" (did you mean '{h[0]}'?)" if h else "") for k, h in zip(keys, hints, strict=True))


# What other tools call a setting, for the did-you-mean of an unknown one (flag spellings such as data_opt are added)
COMMON_NAMES = {"learning_rate": "lr", "lr_g": "lr", "batch": "batch_size", "iterations": "steps", "iters": "steps",
                "num_steps": "steps", "z_dim": "nz", "latent_dim": "nz", "img_size": "image_size"}
# Settings a recipe may choose (Loss.config_defaults, then Task.config_defaults); these apply where none does.
ENGINE_DEFAULTS: dict[str, Any] = {name: s.recipe for name, s in SETTINGS.items() if s.recipe is not None}

_KINDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "int": (int, "an integer"), "float": ((int, float), "a number"), "str": (str, "a string"),
    "bool": (bool, "true or false"), "dict[str, Any]": (dict, "a table of KEY = VALUE"),
    "list[str]": (list, "a list of names"),
}


def setting_kind(spec: dataclasses.Field) -> str:
    """``int``, ``float``, ``str``, ``bool``, ``dict[str, Any]`` or ``list[str]``: the type without ``| None``."""
    return str(spec.type).split(" | ")[0]


def option_flag(name: str) -> str:
    """The command-line flag of a setting: ``batch_size`` -> ``--batch-size``, ``loss_options`` -> ``--loss-opt``."""
    if name in SETTINGS and SETTINGS[name].flag:
        return SETTINGS[name].flag
    if name.endswith("_options"):
        name = name.removesuffix("ions")
    return "--" + name.replace("_", "-")


def setting_help(name: str) -> str:
    """The help line of a setting's option: its text, ``[default]`` and ``(range)``."""
    spec = next(f for f in dataclasses.fields(RunConfig) if f.name == name)
    s = spec.metadata[SETTING]
    shown = s.shown
    if not shown and spec.default is not None and spec.default is not dataclasses.MISSING:
        shown = ("on" if spec.default else "off") if isinstance(spec.default, bool) else str(spec.default)
    return s.help + (f" [{shown}]" if shown else "") + (f" ({s.allowed()})" if s.allowed() else "")


def _checked(spec: dataclasses.Field, value: Any) -> Any:
    """``value`` if it suits the setting (an int given for a float becomes a float), else one GanzooError line."""
    s: Setting = spec.metadata[SETTING]
    kind, expects = _KINDS[setting_kind(spec)]
    flag = f"{spec.name} = {value!r} ({option_flag(spec.name)})"
    # Names take either form in a file, as on the command line: reg = ["r1", "lecam"] or "r1,lecam"
    if s.repeatable and isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ",".join(value)
    elif kind is list and isinstance(value, str):
        value = parse_names((value,))
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise GanzooError(f"{flag}: expects {expects}")
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise GanzooError(f"{flag}: {key} = {item!r} must be a finite number")
        return value
    if isinstance(value, list):
        if not all(isinstance(item, str) and item for item in value):
            raise GanzooError(f"{flag}: expects {expects}, e.g. [\"csv\", \"tensorboard\"]")
        return value
    if s.choices and value not in s.choices:
        raise GanzooError(f"{flag}: choose one of {', '.join(s.choices)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        broken = s.violation(value)
        if broken:
            reason = "; ".join(part for part in (s.allowed(), s.why) if part)
            raise GanzooError(f"{flag}: {broken} (allowed: {reason})")
        if setting_kind(spec) == "float":
            value = float(value)
    return value


def resume_config(saved: RunConfig, given: RunConfig, explicit: Collection[str] | None,
                  resume: str | Path) -> RunConfig:
    """The saved run, with the settings marked ``resume`` that the user gave.

    ``explicit`` names the settings the user gave (command line, TOML file), so an option equal to its default
    still counts; ``None`` (a RunConfig built in code) takes those that differ from the defaults. Any other given
    setting that differs from the saved run is refused in one line: resume never silently ignores an option.
    """
    if explicit is None:
        defaults = RunConfig()
        explicit = [name for name in SETTINGS if getattr(given, name) != getattr(defaults, name)]
    changed = [name for name in SETTINGS if name in explicit and not SETTINGS[name].resume
               and getattr(given, name) != getattr(saved, name)]
    if changed:
        was = {name: f"{name}={getattr(saved, name)!r}" if getattr(saved, name) is not None else f"{name} unset"
               for name in changed}
        found = "; ".join(f"{was[name]}, not {getattr(given, name)!r} ({option_flag(name)})" for name in changed)
        may = ", ".join(option_flag(name) for name, s in SETTINGS.items() if s.resume)
        raise GanzooError(f"--resume {resume}: checkpoint was trained with {found}; only {may} may change on "
                          "resume: drop the others or start a new run")
    changes = {name: getattr(given, name) for name in explicit if SETTINGS[name].resume}
    if "steps" in changes and "epochs" not in changes:
        changes["epochs"] = None  # --steps N on resume means N steps, not the saved run's epoch count
    if changes.get("out") is None:
        changes["out"] = str(Path(resume).parent if Path(resume).is_file() else Path(resume))
    return dataclasses.replace(saved, **changes)


def warn_if_schedule_moves(saved: RunConfig, resumed: RunConfig, resume: str | Path, step: int) -> None:
    """A linear-LR run resumed at ``step`` with another --steps: its decay is recomputed, so the LR jumps; say so."""
    if resumed.lr_policy == "linear" and resumed.steps != saved.steps:
        longer = resumed.steps > saved.steps
        advice = (f"keep --steps {saved.steps} to go on with the same schedule" if step < saved.steps else
                  f"the run already finished that schedule at step {step} (LR 0), so training on restarts from a "
                  "higher LR")
        warnings.warn(GanzooWarning(
            f"--resume {resume}: the run's LR decays linearly to 0 at its --steps ({saved.steps}); --steps "
            f"{resumed.steps} {'stretches' if longer else 'shrinks'} that schedule, so the LR jumps "
            f"{'back up' if longer else 'down'} where the decay has begun; {advice}"), stacklevel=3)


# Recipe settings that name a registered plugin, and its kind: a recipe from a plugin not installed is one line.
RECIPE_NAMES = {"task": "tasks", "arch": "archs", "loss": "losses", "dataset": "datasets", "augment": "augments"}
# Settings that describe one plugin, dropped with it when a higher layer names another (see laid_over): --loss hinge
# over wgan-gp's loss takes none of its --loss-opt values, --dataset shapes none of mnist's data options or root.
TIED_SETTINGS = {"task": ("task_options",), "arch": ("arch_options",), "loss": ("loss_options",),
               "dataset": ("data_options", "data_root", "channels"), "augment": ("augment_options",),
               "reg": ("reg_options",)}


def check_plugin_defaults(owner: str, defaults: dict[str, Any]) -> None:
    """A loss's or task's ``config_defaults``: only settings a plugin may choose (``ENGINE_DEFAULTS``), with values
    those settings take; anything else is one line naming the plugin, as a bad value from the user is."""
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    strangers = sorted(key for key in defaults if key not in fields)
    if strangers:
        raise GanzooError(f"{owner} config_defaults sets {unknown_settings(strangers)}, which are no run settings; "
                          "fix the plugin")
    fixed = sorted(key for key in defaults if key not in ENGINE_DEFAULTS)
    if fixed:
        raise GanzooError(f"{owner} config_defaults sets {', '.join(fixed)}, which a plugin may not choose (it may "
                          f"choose {', '.join(ENGINE_DEFAULTS)}); fix the plugin")
    for key, value in defaults.items():
        try:
            _checked(fields[key], value)
        except GanzooError as exc:
            raise GanzooError(f"{owner} config_defaults: {exc}; fix the plugin") from None


def apply_recipe(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``values`` (TOML and command line) over the settings of the recipe they name, ``*_options`` tables merged
    key by key; without a recipe, ``values`` as they are. Also returns the keys whose values the recipe set, each
    with ``recipe 'NAME'``, so a bad value names the recipe (``origins`` of :meth:`RunConfig.from_dict`)."""
    if not values.get("recipe"):
        return values, {}
    from ..registry import get_registry

    registry = get_registry()
    name = values["recipe"]
    recipe = registry.get("recipes", name)
    unknown = sorted(set(recipe.settings) - {f.name for f in dataclasses.fields(RunConfig)})
    if unknown:
        raise GanzooError(f"recipe '{name}' sets {unknown_settings(unknown)}, which are no run settings; fix the "
                          "recipe")
    for key, kind in RECIPE_NAMES.items():
        wanted = recipe.settings.get(key)
        if wanted and key not in values:
            try:
                registry.entry(kind, wanted)
            except GanzooError as exc:
                unselected = [p.name for p in registry.plugins if p.status == "disabled"]
                where = (f"; installed plugins that GANZOO_LOAD_PLUGINS leaves out: {', '.join(unselected)}"
                         if unselected else "")
                raise GanzooError(f"recipe '{name}' needs {key} '{wanted}', which is not "
                                  f"{'registered' if unselected else 'installed'}{where} ({exc})") from None
    merged = laid_over(dict(recipe.settings), values)
    return merged, {key: f"recipe '{name}'" for key in recipe.settings if key in merged and key not in values}


def laid_over(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    """``upper``'s settings over ``lower``'s (the command line over a file or a recipe, a recipe over a file).

    A budget in ``upper`` (steps or epochs) replaces ``lower``'s of either kind; another plugin in ``upper`` than
    ``lower``'s takes none of ``lower``'s settings for it (:data:`TIED_SETTINGS`; for ``reg``, the options of the
    regularisers no longer named); option tables merge key by key.
    """
    merged = dict(lower)
    if "steps" in upper or "epochs" in upper:
        merged.pop("steps", None)
        merged.pop("epochs", None)
    defaults = RunConfig()
    for key, tied in TIED_SETTINGS.items():
        before = merged.get(key, getattr(defaults, key))
        if key not in upper or before is None or _plugin_names(before) == _plugin_names(upper[key]):
            continue
        if key == "reg" and isinstance(merged.get("reg_options"), dict):
            named = set(_plugin_names(upper[key]))
            merged["reg_options"] = {k: v for k, v in merged["reg_options"].items() if k.partition(".")[0] in named}
        else:
            for setting_name in tied:
                merged.pop(setting_name, None)
    for key, value in upper.items():
        base = merged.get(key)
        if isinstance(value, dict) and key in merged:  # a TOML value that is no table is left for RunConfig to refuse
            merged[key] = {**base, **value} if isinstance(base, dict) else base
        else:
            merged[key] = value
    return merged


def _plugin_names(value: Any) -> list[str]:
    """The plugin names a setting gives, however spelled: ``"r1, lecam"``, ``["r1", "lecam"]``, ``"ganzoo:r1"``."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [name.rpartition(":")[2] for name in parse_names(tuple(map(str, items)))]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config; keys are RunConfig field names (dashes allowed)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanzooError(f"config file '{path}' does not exist") from None
    except UnicodeDecodeError:
        raise GanzooError(f"config file '{path}' is not UTF-8 text (a binary file?); pass a TOML file, such as "
                          "a run's config.toml") from None
    except OSError as exc:
        raise GanzooError(f"config file '{path}' cannot be read ({exc.strerror or exc}); pass a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise GanzooError(f"config file '{path}' is not valid TOML: {exc}") from None
    return {key.replace("-", "_"): value for key, value in data.items()}


def parse_options(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """Turn ``key=value`` strings into a dict, reading values as TOML (numbers, booleans, strings)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GanzooError(f"{flag} expects KEY=VALUE, got '{pair}'")
        try:
            result[key.strip().replace("-", "_")] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            result[key.strip().replace("-", "_")] = value
    return result


def format_option(value: Any) -> str:
    """The ``KEY=VALUE`` text that :func:`parse_options` reads back as ``value``: ``true``, ``0.5``, ``nearest``;
    a string that would read as something else is quoted (``"1"``)."""
    if isinstance(value, str):
        return value if parse_options((f"v={value}",), "")["v"] == value else json.dumps(value)
    return json.dumps(value)


def parse_names(values: tuple[str, ...]) -> list[str]:
    """Names given as a repeatable, comma-separated option (``--logger csv --logger tensorboard`` or
    ``--logger csv,tensorboard``), in order, each once."""
    return list(dict.fromkeys(name.strip() for value in values for name in value.split(",") if name.strip()))


def save_toml(config: RunConfig, path: Path) -> None:
    """Write the resolved config so the run can be repeated with ``--config``."""
    lines = []
    tables = []
    for key, value in dataclasses.asdict(config).items():
        if value is None:
            continue
        if isinstance(value, dict):
            if value:
                tables.append((key, value))
            continue
        if key == "out":  # absolute, so `--config` names the same run from any folder (and refuses it: --resume)
            value = str(Path(value).expanduser().resolve())
        lines.append(f"{key} = {json.dumps(value)}")
    for key, table in tables:
        lines.append(f"\n[{key}]")
        # a dotted key (--reg-opt r1.gamma=1) is quoted: bare, TOML would read it as a nested table
        lines.extend(f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', k) else json.dumps(k)} = {json.dumps(v)}"
                     for k, v in table.items())
    write_atomic(path, "\n".join(lines) + "\n")
