"""A trained run put to use: load it for inference, and give a plugin's CLI command one (public API).

``ganzoo sample``/``eval`` and every plugin command that reads a checkpoint
(``translate``, ``inpaint``, ``probe``) take the same CHECKPOINT argument,
``--device`` and ``--ema/--no-ema``; :func:`run_command` adds them and hands the
command the loaded :class:`Run`, so no plugin re-implements that handling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import click

from .engine.config import SEED_MAX, RunConfig
from .errors import GanzooError

if TYPE_CHECKING:  # the CLI reads CONTEXT from here before anything needs torch
    import torch
    from torch import nn

    from .api import DatasetSpec, Loss, Task

__all__ = ["CONTEXT", "SEED", "Run", "load_run", "require_command", "run_command"]

# The click settings of every ganzoo command (-h as well as --help, wider help text); pass them to a plugin's groups.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class Run:
    """A trained run rebuilt from its checkpoint alone, ready for inference.

    ``config`` is the run's resolved :class:`ganzoo.RunConfig`; ``task``,
    ``loss`` and ``dataset`` are the registered objects it was trained with;
    ``nets`` maps the task's network names (e.g. ``G``, ``D``) to modules in
    eval mode on ``device``, with the EMA weights where they were asked for
    and the run has them.
    """

    checkpoint: str
    config: RunConfig
    task: Task
    loss: Loss
    dataset: DatasetSpec
    nets: dict[str, nn.Module]
    device: torch.device

    def require_command(self, command: str) -> None:
        """Refuse, naming the right command, a run whose task is put to use by another command than ``command``."""
        require_command(self.checkpoint, self.config.task, self.task.command, command)


def require_command(checkpoint: str, task: str, wanted: str, used: str) -> None:
    """Refuse a run of ``task`` (put to use by ``ganzoo wanted``) given to ``ganzoo used``: name the right command,
    or, where no installed plugin adds it, say so instead of pointing at a command that is not there."""
    if wanted == used:
        return
    context = click.get_current_context(silent=True)
    if context is not None:
        from .cli import cli  # here: the CLI module imports this one

        root = context.find_root()
        if root.command is cli and cli.get_command(root, wanted) is None:  # only ganzoo's own CLI is asked
            raise GanzooError(f"checkpoint '{checkpoint}' was trained for task '{task}', which is put to use by "
                              f"`ganzoo {wanted}`, a command no installed plugin adds (see `ganzoo --help`); install "
                              "the plugin that adds it, or fix the task's `command`")
    raise GanzooError(f"checkpoint '{checkpoint}' was trained for task '{task}'; use `ganzoo {wanted}` for it, "
                      f"not {used}")


# The --seed of every command: what train's --seed takes (torch seeds are 64-bit), refused in one line otherwise
SEED = click.IntRange(0, SEED_MAX)


def load_run(checkpoint: str, device: str = "auto", ema: bool = True) -> Run:
    """Rebuild a run from a checkpoint file or run directory: its config, task and networks.

    ``device`` is ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (see
    :func:`ganzoo.resolve_device`); ``ema`` takes the EMA copy of a network
    where the checkpoint holds one, else the raw weights. A missing, foreign
    or mismatched checkpoint is a one-line :class:`ganzoo.GanzooError`.
    """
    from .engine.trainer import load_for_inference, resolve_device

    asm, nets = load_for_inference(checkpoint, device, use_ema=ema)
    return Run(str(checkpoint), asm.config, asm.task, asm.loss, asm.dataset, nets, resolve_device(device))


def run_command(group: click.Group, name: str, *, ema: bool = True,
                **settings: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """Decorator: add command ``name`` to ``group`` that loads CHECKPOINT and calls the function with the :class:`Run`.

    The command takes CHECKPOINT (a ``.safetensors`` file or a run directory),
    ``--device`` and ``--ema/--no-ema`` (left out with ``ema=False``, for a
    command that reads no EMA'd network; it then loads the raw weights), then
    the function's own click arguments and options; the function gets the run
    first and those by name. ``settings`` go to ``group.command``; the help
    is the function's docstring. Inside a ``register_commands`` hook::

        @ganzoo.run_command(cli, "denoise")
        @click.argument("images", nargs=-1)
        def denoise(run: ganzoo.Run, images: tuple[str, ...]) -> None:
            run.require_command("denoise")
            ...
    """
    params: list[click.Parameter] = [
        click.Argument(["checkpoint"], type=click.Path()),
        click.Option(["--device"], default="auto", show_default=True, help="cpu, cuda, cuda:N, mps or auto."),
    ]
    if ema:
        params.append(click.Option(["--ema/--no-ema"], default=True, show_default=True,
                                   help="Use the EMA weights when the run has them."))

    def decorate(fn: Callable[..., Any]) -> click.Command:
        @functools.wraps(fn)
        def command(checkpoint: str, device: str, ema: bool = False, **options: Any) -> Any:
            return fn(load_run(checkpoint, device, ema), **options)

        return group.command(name, params=params, **{"context_settings": CONTEXT, **settings})(command)

    return decorate
