"""``ganzoo bench``: train architectures x losses (x variants, and recipes) under one budget, side by side.

Each combination is trained in-process by the engine's :class:`Trainer` under
the same budget: ``steps`` generator updates, or ``seconds`` of training time
(process CPU time on the CPU, so other programs on a shared machine do not eat
into one row's budget; wall time on a GPU). Quality is scored through the
task's ``evaluate`` (metric plugins for generation, the task's own scores
otherwise) before training and at ``evals`` evenly spaced points of the budget,
which gives the quality-vs-steps curve, and with every metric at the end.
A variant (``--variant "augment=diffaugment reg=r1"``) is a set of run settings
laid over every arch x loss, so one table compares a model with and without an
augmentation, a regulariser or packing; a recipe row trains a recipe's settings
(``ganzoo list recipes``) with the options given to bench on top, as
``ganzoo train --recipe`` does. Each row records the ``ganzoo train`` + ``ganzoo eval`` commands that reproduce
it: training is seeded and scoring leaves the training RNG alone, so the run
trained here and the run those commands train are the same.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import re
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from .api import GanzooError
from .engine.config import SETTINGS, RunConfig, apply_recipe, format_option, option_flag, parse_options, save_toml

PLOT_HINT = "the plot needs matplotlib: pip install 'ganzoo[bench]'"


@dataclass
class BenchSpec:
    """What to compare and under which budget; ``base`` holds the settings shared by every row."""

    archs: list[str]
    losses: list[str]
    base: RunConfig
    given: frozenset[str] = frozenset()  # the settings given explicitly: they override a recipe's
    variants: list[str] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    steps: int | None = None
    seconds: float | None = None
    repeats: int = 1
    evals: int = 4
    metrics: list[str] | None = None
    curve_metric: str | None = None
    num: int | None = None
    classifier: str | None = None
    out: str = "runs/bench"

    def curve_metric_for(self, task: Any) -> str:
        """The curve's figure: --curve-metric, else the first of --metrics where the task scores with metric
        plugins, else the task's headline."""
        if self.curve_metric:
            return self.curve_metric
        return self.metrics[0] if self.metrics and task.metric_plugins else task.headline

    def check(self) -> None:
        if (self.steps is None) == (self.seconds is None):
            both = ", not both" if self.steps is not None else ""
            raise GanzooError(f"ganzoo bench needs one budget: --steps N or --seconds S{both}")
        if (self.steps is not None and self.steps < 1) or (self.seconds is not None
                                                           and not 0 < self.seconds < math.inf):  # nan: False
            raise GanzooError("ganzoo bench needs a finite budget above 0: --steps 1 or more, or --seconds above 0")
        if self.base.lr_policy not in (None, "constant"):
            raise GanzooError("ganzoo bench trains with a constant LR (the budget decides the length of each run)")
        if self.evals < 1 or self.repeats < 1:
            raise GanzooError("--evals and --repeats must be at least 1")
        if not self.recipes and not (self.archs and self.losses):
            raise GanzooError("ganzoo bench needs rows: --archs and --losses (e.g. --archs dcgan --losses bce,hinge), "
                              "--recipes, or both")
        if bool(self.archs) != bool(self.losses):
            raise GanzooError("--archs and --losses go together: give both (rows are every arch x loss)")


# A variant's keys that fill a table of options: ``augment.p=0.2`` is --augment-opt p=0.2.
VARIANT_TABLES = {"augment.": "augment_options", "reg.": "reg_options", "loss.": "loss_options",
                  "arch.": "arch_options", "task.": "task_options", "data.": "data_options"}


def parse_variant(text: str) -> dict[str, Any]:
    """``"pack=4 augment=diffaugment reg=r1 reg.r1.gamma=1"`` as RunConfig overrides (train's setting names, dashes
    or underscores, as parse_options reads them; ``augment.K``, ``reg.NAME.K``, ``loss.K``, ``arch.K``, ``task.K``, ``data.K`` fill the
    option tables); checked when the row's settings are."""
    overrides: dict[str, Any] = {}
    for key, value in parse_options(tuple(text.split()), "--variant").items():
        prefix = next((p for p in VARIANT_TABLES if key.startswith(p)), None)
        if prefix is None:
            overrides[key] = value
        else:
            overrides.setdefault(VARIANT_TABLES[prefix], {})[key[len(prefix):]] = value
    return overrides


def _with(config: RunConfig, overrides: dict[str, Any], source: str) -> RunConfig:
    """``config`` with ``overrides`` laid over it (tables merged key by key), validated like a TOML file."""
    values = dataclasses.asdict(config)
    for key, value in overrides.items():
        values[key] = {**values[key], **value} if isinstance(value, dict) and isinstance(values.get(key), dict) \
            else value
    return RunConfig.from_dict(values, source)


# Bench decides these for every row, recipe rows included (no logging, grids or checkpoints in between).
_BENCH_OWNS = frozenset({"log_every", "sample_every", "ckpt_every"})
# Settings a --variant may not set, since bench sets them on every row, and what chooses them instead.
_NOT_A_VARIANT = {"seed": "--seed and --repeats choose it", "steps": "the budget is bench's --steps or --seconds",
                  "epochs": "the budget is bench's --steps or --seconds", "out": "bench's --out names the folder",
                  "progress": "bench shows no progress bar per row",
                  **{key: "bench logs nothing between its scoring points" for key in _BENCH_OWNS}}


def planned_rows(spec: BenchSpec) -> list[tuple[str, RunConfig]]:
    """(variant, settings) of every row but its seed: arch x loss x variant, then one per recipe (variant
    ``recipe NAME``); each checked now, so a bad name or value fails before any training."""
    rows = []
    for arch in spec.archs:
        for loss in spec.losses:
            for variant in spec.variants or [""]:
                overrides = parse_variant(variant)
                if "recipe" in overrides:
                    raise GanzooError(f"--variant '{variant}': a variant cannot name a recipe; bench's --recipes "
                                      f"{overrides['recipe']} adds the recipe's row")
                for key in overrides.keys() & _NOT_A_VARIANT.keys():
                    raise GanzooError(f"--variant '{variant}': bench sets {key} on every row ({_NOT_A_VARIANT[key]}); "
                                      f"drop {key} from the variant")
                rows.append((variant, _with(replace(spec.base, arch=arch, loss=loss), overrides,
                                            f"--variant '{variant}'")))
    for name in spec.recipes:
        values = {key: getattr(spec.base, key) for key in spec.given | _BENCH_OWNS}
        merged, origins = apply_recipe({**values, "recipe": name})
        config = RunConfig.from_dict(merged, f"recipe '{name}'", origins)
        rows.append((f"recipe {name}", replace(config, lr_policy=None)))
    for variant, config in rows:
        for key in ("task", "dataset"):
            if getattr(config, key) != getattr(spec.base, key):
                raise GanzooError(f"bench row '{variant}' trains {key} '{getattr(config, key)}', but bench scores "
                                  f"every row on {key} '{getattr(spec.base, key)}' (its --{key}); pass --{key} "
                                  f"{getattr(config, key)} to bench so every row is scored on the same data")
    return rows


class PeakMemory:
    """Peak memory while training: CUDA max allocated, or the process's peak RSS since ``reset``.

    On Linux the RSS peak is reset per row (and after each scoring pass) through
    ``/proc/self/clear_refs``; elsewhere it is the peak of the whole process so
    far (said in ``kind``).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = "CUDA max allocated" if device.type == "cuda" else "peak RSS"

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.kind = "process peak RSS"

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _flag(key: str, value: Any) -> list[str]:
    name = option_flag(key)
    if isinstance(value, bool):
        return [name if value else "--no-" + name[2:]]
    if isinstance(value, list):
        return [name, ",".join(value)]
    return [name, str(value)]


# Settings a bench row never passes on: bench sets them itself (no logging in between), or they only say how.
_NOT_IN_COMMAND = {"epochs", "log_every", "sample_every", "ckpt_every", "progress", "workers"}


def train_command(config: RunConfig) -> str:
    """The ``ganzoo train`` command line that trains exactly ``config``: every setting that differs from its
    default (and arch, loss, steps, seed always)."""
    defaults = RunConfig()
    args = ["ganzoo", "train"]
    for key in SETTINGS:
        value = getattr(config, key)
        if key in _NOT_IN_COMMAND or value is None or isinstance(value, dict):
            continue
        if value != getattr(defaults, key) or key in ("arch", "loss", "steps", "seed"):
            args += _flag(key, value)
    for key in SETTINGS:
        if key.endswith("_options"):  # data, arch, loss, task, augment and regulariser options
            for k, v in getattr(config, key).items():
                args += [option_flag(key), f"{k}={format_option(v)}"]
    return shlex.join(args)


def eval_command(run_dir: str, spec: BenchSpec, config: RunConfig, reads: frozenset[str]) -> str:
    """The ``ganzoo eval`` command that scores a row's run as bench did (the data root as train's: absolute);
    ``reads``: the task's ``eval_reads``, since eval refuses the flags a task does not read."""
    args = ["ganzoo", "eval", run_dir, *(["--seed", str(config.seed)] if "seed" in reads else []),
            "--device", config.device]
    if spec.metrics:
        args += ["--metrics", ",".join(spec.metrics)]
    if spec.num:
        args += ["-n", str(spec.num)]
    if spec.classifier:
        args += ["--classifier", spec.classifier]
    if config.data_root:
        args += ["--data-root", config.data_root]
    return shlex.join(args)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def curve_figure(metric: str, scores: dict[str, Any]) -> tuple[str, Any]:
    """The figure a curve follows: the metric's namesake (fid, kid), else its first one (pr -> precision)."""
    if metric in scores:
        return metric, scores[metric]
    figures = [k for k, v in scores.items() if not k.startswith("num_") and not isinstance(v, dict)]
    return (figures[0], scores[figures[0]]) if figures else (metric, None)


def _reached(spec: BenchSpec, target: float, step: int, seconds: float) -> bool:
    return step >= round(target) if spec.steps else seconds >= target


def row_label(row: dict[str, Any]) -> str:
    """How a row is named in reports: ``arch + loss``, its variant, ``recipe NAME`` for a recipe's row."""
    if row["variant"].startswith("recipe "):
        return row["variant"]
    return f"{row['arch']} + {row['loss']}" + (f" [{row['variant']}]" if row["variant"] else "")


def run_one(spec: BenchSpec, variant: str, base: RunConfig, seed: int,
            echo: Callable[[str], None]) -> dict[str, Any]:
    """Train one row's settings under the budget, scoring it along the way; returns the row."""
    from .engine.runlog import RunLoggers, eval_figures, eval_options, finite_record, logger_classes
    from .engine.trainer import Trainer, resolve_device

    arch, loss = base.arch, base.loss
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", variant).strip("-")
    name = slug if variant.startswith("recipe ") else "-".join(filter(None, (arch, loss, slug)))
    name = f"{name}-s{seed}"
    run_dir = str(Path(spec.out) / name)
    config = replace(base, seed=seed, out=run_dir, progress=False, steps=spec.steps or 1, epochs=None)
    memory = PeakMemory(resolve_device(config.device))
    memory.reset()
    trainer = Trainer(config)
    device = trainer.device
    batches = trainer.batch_stream()
    loggers: RunLoggers | None = None  # a record per scoring point, from the first that scored
    logs: dict[str, torch.Tensor] = {}
    wall = cpu = peak = 0.0
    curve: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    options = dict(data_root=config.data_root, classifier=spec.classifier, seed=seed, num=spec.num)
    task = trainer.task
    options.update(eval_options(task, {}))
    curve_metric = spec.curve_metric_for(task)

    def score(metrics: list[str] | None) -> dict[str, Any]:
        """The task's evaluation; metric plugins by name where the task scores with them."""
        chosen = {"metrics": metrics} if task.metric_plugins else {}
        return task.evaluate(trainer.sample_nets(), device, **chosen, **options)

    # Point 0 scores the untrained nets: the curve's start, and a bad --classifier or data path
    # fails here, before any training time is spent.
    for point in range(spec.evals + 1):
        target = point / spec.evals * (spec.steps if spec.steps else spec.seconds)
        while not _reached(spec, target, trainer.step, cpu if device.type == "cpu" else wall):
            w0, c0 = time.perf_counter(), time.process_time()
            logs = trainer.train_step(batches)
            if spec.seconds or trainer.step == round(target):
                _sync(device)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
        last = point == spec.evals
        upcoming = round((point + 1) / spec.evals * spec.steps) if spec.steps and not last else None
        if not last and (trainer.step == upcoming or (curve and curve[-1]["step"] == trainer.step)):
            continue  # fewer steps than --evals points: each step is scored once
        if point:
            peak = max(peak, memory.peak_mb())  # training only: scoring's own memory is not the row's
        scores = score(spec.metrics if last else [curve_metric])
        source = scores
        if last and task.metric_plugins and curve_metric not in scores:  # e.g. pr: its figures are precision, recall
            source = score([curve_metric])
        figures = task.figures(source)
        figure, value = curve_figure(curve_metric, figures)
        curve.append({"step": trainer.step, "train_s": round(wall, 2), "cpu_s": round(cpu, 2), "value": value,
                      "figures": figures})
        echo(f"  {name} step {trainer.step}: {figure} {_fmt(value)}")
        if loggers is None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            loggers = RunLoggers(logger_classes(config), Path(run_dir), config, 0)
        scored = eval_figures({**task.figures(scores), **figures})
        loggers.log(finite_record(trainer.step, {**{k: v.item() for k, v in logs.items()}, **scored}, 6))
        if last:
            final = task.figures(scores)
        memory.reset()
    loggers.close()
    trainer.config.steps = trainer.step
    for key in (*_BENCH_OWNS, "progress"):  # bench's own settings; a --resume of the row logs and saves as train does
        setattr(trainer.config, key, getattr(RunConfig(), key))
    save_toml(trainer.config, Path(run_dir) / "config.toml")
    trainer.save()
    trainer.save_samples(trainer.fixed_inputs())
    images = trainer.step * config.batch_size * trainer.loss.n_critic
    return {
        "arch": arch, "loss": loss, "variant": variant, "seed": seed, "device": str(device), "steps": trainer.step,
        "width": trainer.config.width, "batch_size": trainer.config.batch_size,
        "n_critic": trainer.loss.n_critic,
        "image_size": trainer.config.image_size, "images": images, "train_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "img_per_s": round(images / max(wall, 1e-9), 1), "peak_mem_mb": round(peak, 1), "memory_kind": memory.kind,
        "metrics": final, "curve": curve,
        "curve_figure": figure, "run_dir": run_dir,
        "train_command": train_command(trainer.config),
        "eval_command": eval_command(run_dir, spec, trainer.config, task.eval_reads),
    }


def run_bench(spec: BenchSpec, echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every arch x loss x variant, then every recipe, each ``repeats`` times, in that order; a row that cannot work
    is refused before any training."""
    from .engine.runlog import BENCH_EVAL_FLAGS, refuse_unread
    from .engine.trainer import assemble
    from .metrics import DEFAULT_METRICS, refuse_unused_classifier
    from .registry import get_registry

    spec.check()
    registry = get_registry()  # fail fast on a bad name, option or an impossible combination
    task = registry.get("tasks", spec.base.task)
    refuse_unread(spec.base.task, task.eval_reads, BENCH_EVAL_FLAGS,
                  [key for key, value in (("classifier", spec.classifier), ("num", spec.num)) if value])
    if task.metric_plugins:
        names = [*(spec.metrics or DEFAULT_METRICS), spec.curve_metric_for(task)]
        refuse_unused_classifier({name: registry.get("metrics", name) for name in names}, spec.classifier)
    elif spec.metrics:
        raise GanzooError(f"--metrics: task '{spec.base.task}' is scored by its own evaluation, not by metric "
                          "plugins; drop --metrics")
    registry.get("datasets", spec.base.dataset).check_options(spec.base.dataset, spec.base.data_options)
    earlier = sorted(Path(spec.out).glob("*/checkpoint.safetensors"))
    if earlier:
        raise GanzooError(f"--out {spec.out} already holds bench runs ({earlier[0].parent.name} ...); "
                          "pick another --out so they are not overwritten")
    planned = planned_rows(spec)
    for _, config in planned:
        assemble(config)
    rows: list[dict[str, Any]] = []
    for variant, config in planned:
        for repeat in range(spec.repeats):
            label = row_label({"arch": config.arch, "loss": config.loss, "variant": variant})
            echo(f"[{len(rows) + 1}/{len(planned) * spec.repeats}] {label}")
            rows.append(run_one(spec, variant, config, spec.base.seed + repeat, echo))
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Rows of flat dicts as a GitHub markdown table (columns: the union of keys, in first-seen order)."""
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat dict per bench row: budget, speed, memory, then every metric."""
    flat = []
    variants = any(row["variant"] for row in rows)  # the column only where some row has one
    for row in rows:
        flat.append({
            "arch": row["arch"], "loss": row["loss"], **({"variant": row["variant"]} if variants else {}),
            "seed": row["seed"], "width": row["width"], "batch": row["batch_size"], "steps": row["steps"],
            "n_critic": row["n_critic"], "train_s": row["train_s"], "cpu_s": row["cpu_s"],
            "img/s": row["img_per_s"], "img/cpu-s": round(row["images"] / max(row["cpu_s"], 1e-9), 1),
            "peak_mem_MB": row["peak_mem_mb"],
            **{k: v for k, v in row["metrics"].items() if k not in ("num_generated", "num_real", "modes_total")},
        })
    return flat


def machine() -> str:
    """CPU model (lscpu) and GPU name, for result files."""
    fields: dict[str, str] = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}
    except (OSError, subprocess.SubprocessError):
        pass
    cpu, flags = fields.get("Model name") or platform.processor() or platform.machine(), fields.get("Flags", "").split()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    # bf16 is native only with AVX512-BF16 or AMX; elsewhere it is emulated and far slower than fp32
    bf16 = [name for flag, name in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16")) if flag in flags]
    capability = ", ".join([torch.backends.cpu.get_cpu_capability(), *bf16])
    return f"{cpu} ({capability}, {torch.get_num_threads()} torch threads){gpu}"


def markdown_report(rows: list[dict[str, Any]], spec: BenchSpec, command: str) -> str:
    budget = f"{spec.steps} generator steps" if spec.steps else f"{spec.seconds} s of training time per row"
    memory = rows[0]["memory_kind"] if rows else ""
    counts = rows[0]["metrics"] if rows else {}
    counted = (f"; metrics on {counts['num_generated']} generated vs {counts.get('num_real', 0)} held-out images"
               if "num_generated" in counts else "")
    parts = [
        "# ganzoo bench", "",
        f"- command: `{command}`",
        f"- budget: {budget} (same for every row); dataset {spec.base.dataset}, device {spec.base.device}",
        f"- machine: {machine()}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d', time.gmtime())}",
        f"- img/s = images seen by D (steps x batch x n_critic) / training wall time (img/cpu-s: / process CPU "
        f"time, steadier on a shared machine); peak_mem_MB = {memory} while training{counted}", "",
        markdown_table(table_rows(rows)), "",
        "## Reproduce a row", "",
    ]
    for row in rows:
        parts += [f"- {row_label(row)} (seed {row['seed']}):",
                  f"  `{row['train_command']} && {row['eval_command']}`"]
    parts += ["", f"## {rows[0]['curve_figure'] if rows else spec.curve_metric} vs generator steps", ""]
    parts += [f"- {row_label(r)} (seed {r['seed']}): "
              + ", ".join(f"{p['step']}: {_fmt(p['value'])}" for p in r["curve"]) for r in rows]
    return "\n".join(parts) + "\n"


def plot_curves(rows: list[dict[str, Any]], path: str | Path, x: str = "step",
                hlines: dict[str, float] | None = None) -> Path:
    """Quality vs steps (or another key of the curve points, e.g. ``cpu_s``), one line per row, with ``hlines``
    (label: value) as dashed reference levels; needs matplotlib (the ``bench`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GanzooError(PLOT_HINT) from None
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for row in rows:
        points = [p for p in row["curve"] if p["value"] is not None]
        ax.plot([p[x] for p in points], [p["value"] for p in points], marker="o",
                label=f"{row_label(row)} s{row['seed']}")
    for i, (label, level) in enumerate((hlines or {}).items()):
        ax.axhline(level, color="black", linestyle=("--", ":", "-.")[i % 3], linewidth=1, label=label)
    ax.set_xlabel({"step": "generator steps", "cpu_s": "training CPU seconds", "train_s": "training seconds"}.get(x, x))
    figure = rows[0]["curve_figure"] if rows else ""
    ax.set_ylabel(figure)
    if figure in ("fid", "kid_x1000"):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
