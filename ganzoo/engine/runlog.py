"""What a training run logs, and where: the logger plugins (``jsonl`` always) and periodic evaluation.

:func:`logger_classes` resolves ``--logger`` names before anything is built
(unknown names get a did-you-mean, a missing optional dependency one line
naming what to install); :class:`RunLoggers` hands every record and sample
grid to each of them; :func:`check_evaluation` and :func:`evaluate_now` are
``--eval-every``: the task's own evaluation (what ``ganzoo eval`` runs), logged
as ``eval/<figure>`` records beside the training figures.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..api import GanzooError, Logger, Task, check_options
from ..metrics import refuse_unused_classifier
from ..registry import get_registry
from .config import RunConfig

ALWAYS = "jsonl"  # the log the run page reads


def logger_classes(config: RunConfig, kept: bool = False) -> dict[str, type[Logger]]:
    """The loggers a run writes to, ``jsonl`` first; each name registered and its ``requires`` importable.
    ``kept``: the loggers are a resumed run's own, not given again, so a missing one is named as the run's."""
    registry = get_registry()
    classes: dict[str, type[Logger]] = {}
    for name in dict.fromkeys([ALWAYS, *config.loggers]):
        try:
            cls = registry.get("loggers", name)
        except GanzooError as exc:
            if not kept:
                raise
            raise GanzooError(f"the run writes to logger '{name}', which is not registered now ({exc}); install its "
                              f"plugin again, or resume with the loggers to use instead, e.g. --logger {ALWAYS}") \
                from None
        for module, requirement in cls.requires.items():
            if importlib.util.find_spec(module) is None:
                raise GanzooError(f"--logger {name} needs the '{module}' package, which is not installed: "
                                  f"pip install '{requirement}'")
        classes[name] = cls
    return classes


class RunLoggers:
    """One instance of each chosen logger for a run that starts at ``step``; every call goes to all of them."""

    def __init__(self, classes: dict[str, type[Logger]], run_dir: Path, config: RunConfig, step: int) -> None:
        self.loggers = [cls(run_dir, config, step) for cls in classes.values()]

    def log(self, record: dict[str, Any]) -> None:
        """``record`` as log.jsonl holds it: ``{"step": N, figure: value, ...}``."""
        step, scalars = record["step"], {k: v for k, v in record.items() if k != "step"}
        for logger in self.loggers:
            logger.log(step, scalars)

    def image(self, step: int, name: str, path: Path) -> None:
        """The grid the engine just wrote to ``path``, read back as the uint8 pixels a viewer shows."""
        if not self.loggers:
            return
        import skimage.io  # here: a run without image loggers never reads its grids back

        grid = skimage.io.imread(path)
        for logger in self.loggers:
            logger.image(step, name, grid, path)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


def check_evaluation(config: RunConfig, task: Task, new: bool = True) -> None:
    """Refuse, before training, evaluation settings that would be ignored or that the task cannot use; ``new``:
    a run about to start (a resumed one was accepted when it began, so flags refused since do not stop it)."""
    if not config.eval_every:
        given = [flag for flag, value in (("--metrics", config.metrics), ("--eval-num", config.eval_num),
                                          ("--classifier", config.classifier)) if value]
        if given:
            raise GanzooError(f"{', '.join(given)} choose what --eval-every scores; add --eval-every N or drop them")
        return
    if config.metrics and not task.metric_plugins:
        raise GanzooError(f"--metrics: task '{config.task}' is scored by its own evaluation, not by metric plugins; "
                          "drop --metrics (--eval-every logs its own figures)")
    chosen = {name: get_registry().get("metrics", name) for name in config.metrics}
    if new:
        refuse_unread(config.task, task.eval_reads, TRAIN_EVAL_FLAGS,
                      [key for key, value in (("num", config.eval_num), ("classifier", config.classifier)) if value])
        refuse_unused_classifier(chosen, config.classifier)


# The evaluate() options each command passes, with the flags that set them (a task refuses those it does not read:
# eval_reads): ganzoo eval's; a bench row's, which writes no evaluation images; train --eval-every's (evaluate_now).
EVAL_FLAGS = {"num": "-n", "data_root": "--data-root", "classifier": "--classifier", "out": "--out", "seed": "--seed"}
BENCH_EVAL_FLAGS = {key: flag for key, flag in EVAL_FLAGS.items() if key != "out"}
TRAIN_EVAL_FLAGS = {**BENCH_EVAL_FLAGS, "num": "--eval-num"}


def refuse_unread(task: str, reads: frozenset[str], flags: dict[str, str], given: list[str]) -> None:
    """Refuse the evaluate() options ``given`` that task ``task`` never reads (``reads``: its ``eval_reads``),
    naming them by the calling command's ``flags`` (option key -> flag)."""
    unread = [flags[key] for key in given if key not in reads]
    if unread:
        named = ", ".join(flags[key] for key in sorted(reads) if key in flags) or "none of these"
        raise GanzooError(f"{', '.join(unread)}: task '{task}' does not use {'it' if len(unread) == 1 else 'them'} "
                          f"in its evaluation (it reads: {named}); drop {', '.join(unread)}")


def eval_options(task: Task, given: dict[str, Any]) -> dict[str, Any]:
    """What :meth:`Task.evaluate` gets of the task's own options, whichever command scores: ``given`` (``ganzoo
    eval --eval-opt``) checked against :meth:`Task.eval_option_defaults`, with the defaults for the rest."""
    return check_options("--eval-opt", f"task '{task.config.task}'", task.eval_option_defaults(given), given)


@torch.no_grad()
def evaluate_now(task: Task, nets: dict[str, nn.Module], device: torch.device, config: RunConfig,
                 step: int) -> dict[str, Any]:
    """The task's evaluation of ``nets`` as a log record ``{"step": step, "eval/<figure>": value, ...}``.

    Nets are scored in eval mode and put back as they were; the random streams
    are forked, so evaluating never changes what training draws next (resume
    stays exact whatever ``--eval-every`` is).
    """
    options: dict[str, Any] = dict(num=config.eval_num, data_root=config.data_root, classifier=config.classifier,
                                   seed=config.seed)
    if task.metric_plugins:
        options["metrics"] = config.metrics or None
    options.update(eval_options(task, {}))
    modes = {name: net.training for name, net in nets.items()}
    devices = [device] if device.type == "cuda" else []
    try:
        for net in nets.values():
            net.eval()
        with torch.random.fork_rng(devices=devices):
            results = task.evaluate(nets, device, **options)
    finally:
        for name, net in nets.items():
            net.train(modes[name])
    return finite_record(step, eval_figures(task.figures(results)), 6)


def eval_figures(figures: dict[str, Any]) -> dict[str, float]:
    """A task's figures as log keys ``eval/<figure>``, without the sample counts (``num_*``)."""
    return {f"eval/{k}": float(v) for k, v in figures.items() if not k.startswith("num_")}


def finite_record(step: int, values: dict[str, float], digits: int) -> dict[str, Any]:
    """A log.jsonl record: values rounded to ``digits``, each non-finite one null and named under ``not_finite``
    (JSON has no NaN)."""
    broken = [k for k, v in values.items() if not math.isfinite(v)]
    record: dict[str, Any] = {"step": step, **{k: None if k in broken else round(v, digits)
                                               for k, v in values.items()}}
    if broken:
        record["not_finite"] = broken
    return record
