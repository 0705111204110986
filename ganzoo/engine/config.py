"""The run configuration: one dataclass, settable from CLI options or a TOML file."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..api import GanzooError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# Settings a recipe may choose (Task.config_defaults, then Loss.config_defaults); these apply where none does.
ENGINE_DEFAULTS: dict[str, Any] = {"batch_size": 64, "lr_policy": "constant", "lr": 2e-4, "beta1": 0.5,
                                   "beta2": 0.999}


_KINDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "int": (int, "an integer"), "float": ((int, float), "a number"), "str": (str, "a string"),
    "bool": (bool, "true or false"), "dict[str, Any]": (dict, "a table of KEY = VALUE"),
}
# What each numeric setting must satisfy, and how the error says so.
_LIMITS: dict[str, tuple[Callable[[float], bool], str]] = {
    **dict.fromkeys(("batch_size", "steps", "nz", "width", "n_critic", "log_every", "sample_every", "ckpt_every",
                     "n_samples", "image_size", "channels"), (lambda v: v >= 1, "must be at least 1")),
    **dict.fromkeys(("seed", "workers"), (lambda v: v >= 0, "must be at least 0")),
    **dict.fromkeys(("lr", "lr_d", "epochs"), (lambda v: v > 0, "must be positive")),
    **dict.fromkeys(("beta1", "beta2"), (lambda v: 0 <= v < 1, "must be below 1 and at least 0 (Adam's moment decay)")),
    **dict.fromkeys(("decay_start", "ema_decay"), (lambda v: 0 <= v <= 1, "must be between 0 and 1")),
}


@dataclass
class RunConfig:
    """Everything that defines a training run; saved as ``config.toml``/JSON in the run dir.

    ``None`` means "not set": arch and loss come from the task, the
    :data:`ENGINE_DEFAULTS` keys from the task's recipe, the loss's, or else the engine.
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
      ``compile``, ``kernels``; ``seed`` fixes everything random;
    * output: ``out`` (the run directory), ``log_every``, ``sample_every``,
      ``ckpt_every`` (in steps), ``n_samples`` (per grid), ``progress``.
    """

    arch: str | None = None
    loss: str | None = None
    task: str = "unconditional"
    dataset: str = "shapes"
    data_root: str | None = None
    image_size: int | None = None
    channels: int | None = None
    batch_size: int | None = None
    steps: int = 1500
    epochs: float | None = None
    lr: float | None = None
    lr_d: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    lr_policy: str | None = None
    decay_start: float = 0.5
    nz: int = 100
    width: int = 64
    n_critic: int | None = None
    ema: bool = False
    ema_decay: float = 0.999
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    kernels: str = "auto"
    seed: int = 0
    workers: int = 0
    download: bool = False
    skip_bad_images: bool = False
    out: str | None = None
    log_every: int = 50
    sample_every: int = 200
    ckpt_every: int = 500
    n_samples: int = 64
    progress: bool = True
    arch_options: dict[str, Any] = field(default_factory=dict)
    loss_options: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a setting of the wrong kind or out of range here, not as a crash in the first step."""
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            kind = _KINDS[spec.type.split(" | ")[0]]
            flag = f"{spec.name} = {value!r} (--{spec.name.replace('_', '-')})"
            if not isinstance(value, kind[0]) or (isinstance(value, bool) and kind[0] is not bool):
                raise GanzooError(f"{flag}: expects {kind[1]}")
            holds, requirement = _LIMITS.get(spec.name, (lambda v: True, ""))
            if not holds(value):
                raise GanzooError(f"{flag}: {requirement}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "RunConfig":
        """Build from a mapping; unknown keys are an error naming the source and the key."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            import difflib

            hints = [difflib.get_close_matches(k, names, n=1) for k in unknown]
            parts = [f"'{k}'" + (f" (did you mean '{h[0]}'?)" if h else "") for k, h in zip(unknown, hints)]
            raise GanzooError(f"{source}: unknown setting {', '.join(parts)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        return cls.from_dict(json.loads(text), "checkpoint config")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config; keys are RunConfig field names (dashes allowed)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise GanzooError(f"config file '{path}' does not exist") from None
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
        lines.append(f"{key} = {json.dumps(value)}")
    for key, table in tables:
        lines.append(f"\n[{key}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in table.items())
    path.write_text("\n".join(lines) + "\n")
