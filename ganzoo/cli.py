"""The ``ganzoo`` command line (click).

Plugins add commands through the ``register_commands(cli)`` hook; they are
loaded when a command other than ganzoo's own is looked up, and by ``list``
and ``plugins``. ``--help`` and shell completion read the plugins' commands and
names from the plugin cache (ganzoo/plugincache.py) while it is current, so they
import neither the plugins nor torch; everything torch-bound is imported inside
the commands that use it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import click
from click.shell_completion import CompletionItem

from . import __version__, plugincache
from .errors import GanzooError, GanzooWarning
from .engine.config import (
    RECIPE_NAMES, SETTING, SETTINGS, RunConfig, Setting, apply_recipe, laid_over, load_toml, option_flag, parse_names,
    parse_options, resume_config, setting_help, setting_kind,
)
from .registry import KINDS, ALIASES, Registry, get_registry
from .runs import CONTEXT, SEED, require_command



class GanzooGroup(click.Group):
    """A click group that prints GanzooError / GanzooWarning as one line each and loads plugin commands lazily."""

    _plugins_added = False

    def load_plugins(self) -> Registry:
        """The process's registry, with the plugins' commands added to this group; a load that reported no
        problem is remembered in the plugin cache, for ``--help`` and completion."""
        try:
            if GanzooGroup._plugins_added:
                return get_registry()
            GanzooGroup._plugins_added = True
            taken = plugincache.stamp()  # before the plugins load: a plugin installed meanwhile shows next time
            registry = get_registry()
            builtin = dict(self.commands)
            registry.add_commands(self)
            if not registry.problems:
                added = {name: cmd for name, cmd in self.commands.items() if builtin.get(name) is not cmd}
                plugincache.save(taken, added, {kind: list(dict.fromkeys(e.name for e in registry.list(kind)))
                                                for kind in KINDS})
        except GanzooError as exc:  # GANZOO_STRICT_PLUGINS: one Error line, also for --help (outside invoke)
            raise click.ClickException(str(exc)) from None
        return registry

    def _listing(self) -> dict[str, click.Command]:
        """Every command by name; plugins' as stand-ins carrying their help while the plugin cache is current."""
        cached = None if GanzooGroup._plugins_added else plugincache.load()
        if cached is None:
            self.load_plugins()
            return dict(self.commands)
        stand_ins = {name: click.Command(name, **fields) for name, fields in cached.commands.items()}
        return {**stand_ins, **self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._listing())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:  # ganzoo's own commands run without loading a plugin
            self.load_plugins()
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, from :meth:`_listing` (so ``--help`` imports no plugin while the cache is current)."""
        rows = [(name, cmd) for name, cmd in sorted(self._listing().items()) if not cmd.hidden]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Command names (from :meth:`_listing`, like ``--help``), then the group's options."""
        commands = [CompletionItem(name, help=cmd.get_short_help_str()) for name, cmd in sorted(self._listing().items())
                    if name.startswith(incomplete) and not cmd.hidden]
        return commands + click.Command.shell_complete(self, ctx, incomplete)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """The group's own options (``ganzoo --bogus``) fail in one line too, like a subcommand's."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        _quiet_third_party()
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except GanzooError as exc:
                raise click.ClickException(str(exc)) from None
            except click.UsageError as exc:
                raise _one_line(exc) from None


def _one_line(exc: click.UsageError) -> click.ClickException:
    """click's usage error (a bad flag or value) as one ``Error:`` line, like ganzoo's own, pointing at the
    command's help instead of printing its usage; the exit status stays click's 2. A bare group's help
    (click >= 8.2 raises it as a usage error) is no error and passes through."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        return exc
    message = " ".join(exc.format_message().split())  # a Choice lists one per line
    extra = re.fullmatch(r"Got unexpected extra arguments? \((\S+).*\)", message)
    if exc.ctx is not None:
        message += f"{'' if message.endswith(('.', '?')) else '.'} See `{exc.ctx.command_path} -h`."
        if extra and exc.ctx.info_name == "train":
            from .engine.rundir import holds_run  # only on this error: it imports torch

            given = Path(extra[1])
            if holds_run(given.parent if given.suffix == ".safetensors" else given):  # a run or its checkpoint
                message += f" To continue the run in {extra[1]}: `ganzoo train --resume {extra[1]}`."
    error = click.ClickException(message)
    error.exit_code = exc.exit_code
    return error


_python_show_warning = warnings.showwarning


def _no_cuda_notice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("No CUDA runtime is found")


def _quiet_third_party() -> None:
    """Keep torch's import-time notices that say nothing about the run out of the terminal.

    ``torch.utils.cpp_extension`` (imported by ``--compile``) logs "No CUDA runtime
    is found, using CUDA_HOME=..." on any CPU machine with a CUDA toolkit installed.
    """
    logger = logging.getLogger("torch.utils.cpp_extension")
    if _no_cuda_notice not in logger.filters:
        logger.addFilter(_no_cuda_notice)


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """``warning: ...`` for ganzoo's own warnings (their source line means nothing to a user); others as usual."""
    if issubclass(category, GanzooWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_show_warning(message, category, *args, **kwargs)


def complete_names(kind: str) -> Callable[..., list[str]]:
    """Shell completion of registered names (see README: shell completion)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        cached = None if GanzooGroup._plugins_added else plugincache.load()
        names = cached.names[kind] if cached is not None else [e.name for e in cli.load_plugins().list(kind)]
        return [name for name in names if name.startswith(incomplete)]

    return complete


@click.group(cls=GanzooGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train, compare and extend GANs.

    \b
    Quick start (CPU, no download):
      ganzoo train                         # dcgan + hinge + EMA on procedural shapes
      ganzoo sample runs/<run>/ -n 64 --out grid.png
      ganzoo list archs 'dc*'              # what is registered, and by whom
      ganzoo plugins --json                # installed plugins
    """


def _entry_json(entry: Any) -> dict[str, Any]:
    from .api import declared_options

    data = {"name": entry.name, "kind": entry.kind, "plugin": entry.plugin, "distribution": entry.distribution,
            "qualified": entry.qualified, "description": entry.description}
    obj = entry.obj
    if entry.kind == "archs":
        data.update(generator_input=list(obj.generator_input), discriminator_input=list(obj.discriminator_input),
                    discriminator_output=obj.discriminator_output,
                    image_sizes=list(obj.image_sizes) if obj.image_sizes else None,
                    size_multiple=obj.size_multiple, min_size=obj.min_size,
                    channels=list(obj.channels) if obj.channels else None, options=obj.options)
    elif entry.kind == "tasks":
        from .engine.trainer import serving

        data.update(layout=obj.layout, generator_input=list(obj.generator_input),
                    discriminator_input=list(obj.discriminator_input),
                    discriminator_output=list(obj.discriminator_output), networks={
                        "generators": list(obj.g_nets), "discriminators": list(obj.d_nets), "ema": list(obj.ema_nets)},
                    default_arch=obj.default_arch, default_loss=obj.default_loss, config_defaults=obj.config_defaults,
                    command=obj.command, options=obj.option_defaults({}), architectures=serving(obj))
    elif entry.kind == "datasets":
        data.update(channels=obj.channels, num_classes=obj.num_classes, layout=obj.layout, needs_root=obj.needs_root,
                    options=obj.options)
    elif entry.kind == "losses":
        data.update(n_critic=getattr(obj, "n_critic", 1), config_defaults=getattr(obj, "config_defaults", {}),
                    options=declared_options(obj))
    elif entry.kind == "metrics" and isinstance(obj, type):
        data.update(options=declared_options(obj))
    elif entry.kind == "recipes":
        data.update(settings=obj.settings, source=obj.source)
    elif entry.kind in ("augments", "regularizers"):
        data.update(options=declared_options(obj))
    elif entry.kind == "masks":
        data.update(area=list(obj.area), options=obj.options, min_size=obj.min_size)
    elif entry.kind == "loggers":
        data.update(requires=obj.requires)
    return data


@cli.command("list", context_settings=CONTEXT)
@click.argument("kind", type=click.Choice(sorted([*KINDS, *ALIASES])), metavar="KIND")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_cmd(kind: str, pattern: str, as_json: bool) -> None:
    """List registered KIND entries matching an fnmatch PATTERN. KIND is one of: {kinds}.

    \b
    Examples:
      ganzoo list archs
      ganzoo list archs 'dc*' --json
      ganzoo list losses 'wgan*'
    """
    entries = cli.load_plugins().list(kind, pattern)
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"no {kind} match '{pattern}'", err=True)
        return
    width = max(len(e.name) for e in entries)
    for e in entries:
        provider = e.plugin if e.distribution == "ganzoo" else f"{e.plugin} ({e.distribution})"
        click.echo(f"{e.name:<{width}}  {e.description}  [{provider}]")


list_cmd.help = (list_cmd.help or "").replace("{kinds}", ", ".join(KINDS))  # every kind, as plugin kinds are added


@cli.command("plugins", context_settings=CONTEXT)
@click.option("--all", "show_all", is_flag=True, help="Also show plugins that failed to load or were not selected.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_cmd(show_all: bool, as_json: bool) -> None:
    """List installed plugins (entry-point group 'ganzoo'), built-in ones included.

    \b
    Environment:
      GANZOO_LOAD_PLUGINS=a,b   load only these third-party plugins (empty: none)
      GANZOO_STRICT_PLUGINS=1   a plugin that fails, or registers a bad entry, is an error, not a skip
    """
    registry = cli.load_plugins()
    conflicts = [[e.qualified for e in found] for found in registry.conflicts()]
    rows = []
    for info in registry.plugins:
        if info.status != "loaded" and not show_all:
            continue
        row = dataclasses.asdict(info)
        row.update(hooks=list(info.hooks), entry_point_group="ganzoo",
                   provides=registry.provided_by(info.name, info.distribution),
                   conflicts=[e.qualified for found in registry.conflicts() for e in found
                              if (e.plugin, e.distribution) == (info.name, info.distribution)])
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            kind = "built-in" if row["builtin"] else "third-party"
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["provides"].items())
            status = "" if row["status"] == "loaded" else f"  [{row['status']}: {row['error']}]"
            click.echo(f"{row['name']:<22} {row['distribution']} {row['version']} ({kind})  {provides}{status}")
    for found in conflicts:
        click.echo(f"conflict: {' and '.join(found)} register the same name; use the qualified name", err=True)


class SettingOption(click.Option):
    """A click option generated from a run setting's one definition (:class:`ganzoo.engine.config.Setting`)."""

    def __init__(self, *args: Any, setting: Setting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting


def _setting_option(spec: dataclasses.Field) -> Callable[[Callable], Callable]:
    setting, flag, kind = spec.metadata[SETTING], option_flag(spec.name), setting_kind(spec)
    extra: dict[str, Any] = {}
    if kind == "dict[str, Any]":
        extra.update(multiple=True, metavar="K=V")
    elif kind == "list[str]" or setting.repeatable:
        extra.update(multiple=True, metavar="NAME[,NAME]")
    elif kind == "bool":
        flag = f"{flag}/--no-{flag[2:]}"
    elif setting.choices:
        extra.update(type=click.Choice(setting.choices))
    elif setting.directory:
        extra.update(type=click.Path(file_okay=False))
    else:
        extra.update(type={"int": int, "float": float, "str": str}[kind])
    if setting.names:
        extra.update(shell_complete=complete_names(setting.names))
    # No click default: an option not given leaves the TOML's value or the RunConfig default in place,
    # and build_config can tell what was given (which --resume needs).
    return click.option(flag, spec.name, cls=SettingOption, setting=setting, help=setting_help(spec.name),
                        default=None, **extra)


def setting_options(names: Iterable[str] | None = None) -> Callable[[Callable], Callable]:
    """Decorator adding the options of these run settings (all by default), in the order ``-h`` groups them."""
    fields = {spec.name: spec for spec in dataclasses.fields(RunConfig)}
    chosen = [fields[name] for name in names] if names is not None else list(fields.values())
    groups = list(dict.fromkeys(spec.metadata[SETTING].group for spec in fields.values()))
    chosen.sort(key=lambda spec: groups.index(spec.metadata[SETTING].group))

    def decorate(fn: Callable) -> Callable:
        for spec in reversed(chosen):
            fn = _setting_option(spec)(fn)
        return fn

    return decorate


class SettingsCommand(click.Command):
    """A command whose run-setting options are listed under their groups in ``-h``."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record:
                group = param.setting.group if isinstance(param, SettingOption) else "Options"
                sections.setdefault(group, []).append(record)
        for name, rows in sections.items():
            with formatter.section(name):
                formatter.write_dl(rows)


def build_config(config_file: str | None, cli_values: dict[str, Any]) -> tuple[RunConfig, set[str]]:
    """Defaults < recipe < TOML file < command line, or, for a --recipe given on the command line, defaults < TOML
    file < recipe < command line (``--config RUN/config.toml --recipe X``: X's settings over the run's), each
    layer over the one below as :func:`laid_over` says; also returns the settings given (file or command line)."""
    written: dict[str, Any] = load_toml(config_file) if config_file else {}
    budgets = [key for key in ("steps", "epochs") if cli_values.get(key) is not None]
    if len(budgets) == 2:
        raise GanzooError("--steps and --epochs both say how long to train; give one")
    given: dict[str, Any] = {}
    for key, value in cli_values.items():
        if key.endswith("_options"):
            if value:
                given[key] = parse_options(value, option_flag(key))
        elif isinstance(value, tuple):  # a list setting: the command line's names replace the file's
            if value:
                names = parse_names(value)
                given[key] = ",".join(names) if SETTINGS[key].repeatable else names
        elif value is not None:
            given[key] = value
    if given.get("recipe"):
        top, from_recipe = apply_recipe(given)
        merged = laid_over(written, top)
    else:
        merged, from_recipe = apply_recipe(laid_over(written, given))
    source = f"config file '{config_file}'" if config_file else "command line"
    origins = {key: source for key, value in written.items() if merged.get(key) is value}
    return RunConfig.from_dict(merged, source, {**from_recipe, **origins}), (set(written) & set(merged)) | set(given)


def _naming_the_file(message: str, config_file: str | None, cli_values: dict[str, Any]) -> str:
    """A plugin's option error names its flag (``--data-opt max_shapes=abc: ...``) and an unknown plugin its
    name (``unknown recipe 'sngn'``); where that came from the --config file alone, say so, since the user typed
    no such flag."""
    if not config_file:
        return message
    written = load_toml(config_file)
    for key in ("recipe", "reg", *RECIPE_NAMES):
        value = written.get(key)
        if isinstance(value, str) and not cli_values.get(key) and any(f"'{name}'" in message
                                                                        for name in parse_names((value,))):
            return f"{message} (set by {key} = \"{value}\" in --config {config_file})"
    for key in SETTINGS:
        flag = option_flag(key) + " "
        if key.endswith("_options") and message.startswith(flag):
            named = re.split(r"[= ]", message[len(flag):], maxsplit=1)[0]
            if named not in parse_options(cli_values.get(key) or (), flag):
                return f"{message} (set in [{key}] of --config {config_file})"
    return message


def _check_steps_left(step: int, steps: int) -> None:
    """A resumed run with nothing to train is an error (exit 1), so a script notices, not a silent no-op."""
    if step >= steps:
        raise GanzooError(f"the run is at step {step} and --steps is {steps}: nothing to train; pass a "
                          f"--steps above {step} to go on")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def start_line(trainer: Any) -> str:
    """The first line of a run: what trains, on what, for how long, and where it writes."""
    c = trainer.config
    what = f"{c.arch} + {c.loss} for task {c.task}"
    data = f"{c.dataset} ({len(trainer.dataset)} items, {c.image_size} px, {_count(c.channels, 'channel')})"
    device = f"{trainer.device}" + (f" x {trainer.world} processes" if trainer.world > 1 else "")
    speed = [c.precision, *(["compile"] if c.compile else []), *(["channels_last"] if c.channels_last else []),
             *([f"{trainer.kernels} kernels"] if trainer.kernels != "ref" else []),
             *([trainer.adversarial.mode()] if c.capture != "off" else [])]
    if trainer.device.type == "cpu":
        import torch

        speed.append(_count(torch.get_num_threads(), "thread"))
    steps = f"steps {trainer.step} -> {c.steps}" if trainer.step else _count(c.steps, "step")
    return (f"training {what} on {data}, batch {c.batch_size}, {steps}, on {device} ({', '.join(speed)}); "
            f"writing {trainer.run_dir}")


def _warn_if_cores_are_shared() -> None:
    """Under load, several torch threads per run wait on each other at every op: say so, and what helps."""
    import os

    import torch

    if torch.get_num_threads() < 2 or not hasattr(os, "getloadavg"):
        return
    load, cpus = os.getloadavg()[0], len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if load >= cpus:
        warnings.warn(GanzooWarning(
            f"load average {load:.1f} on {cpus} CPUs: other jobs share the cores, where {torch.get_num_threads()} "
            "threads per run wait on each other; --threads 1 is usually faster then (README: speed on a shared CPU)"))


@cli.command("train", cls=SettingsCommand, context_settings=CONTEXT)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file with any of these options.")
@click.option("--resume", type=click.Path(),
              help="Continue a run from its checkpoint file or run directory; of its settings only "
                   f"{', '.join(option_flag(name) for name, s in SETTINGS.items() if s.resume)} may change.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to train with (DDP through torchrun: gloo on CPU, NCCL on CUDA); --batch-size is per process.")
@click.option("--overwrite", is_flag=True,
              help="Replace the run already in --out (its checkpoint, log and sample grids) instead of refusing.")
@setting_options()
def train_cmd(config_file: str | None, resume: str | None, nproc: int, overwrite: bool, **values: Any) -> None:
    """Train a GAN: any architecture x loss x task x dataset that fits.

    With no options it trains dcgan + hinge with an EMA of G (width 32, Adam 1e-3)
    on the embedded 'shapes' dataset for a short CPU budget and writes samples.png,
    log.jsonl and checkpoint.safetensors to the run directory; --recipe seed001
    trains seed 001's settings instead (ganzoo list recipes).

    \b
    Examples:
      ganzoo train
      ganzoo train --arch dcgan --dataset mnist --data-root ../shared/data/mnist --steps 3000
      ganzoo train --arch resnet-sn --loss hinge --precision bf16 --compile
      ganzoo train --config run.toml --seed 1
      ganzoo train --resume runs/dcgan-hinge-shapes-20260101-120000 --steps 2000
      ganzoo train --nproc 2 --device cpu        # = torchrun --nproc-per-node 2 -m ganzoo train ...
    """
    from .engine.checkpoint import resolve_checkpoint
    from .engine.rundir import check_not_in_use, check_run_dir
    from .engine.trainer import Trainer, TrainingInterrupted, read_run

    try:
        config, given = build_config(config_file, values)
    except GanzooError as exc:
        raise GanzooError(_naming_the_file(str(exc), config_file, values)) from None
    source = resolve_checkpoint(resume).parent if resume is not None else None
    if config.out or source is not None:  # refused before anything is built; the claim comes when training starts
        check_not_in_use(Path(config.out) if config.out else source)
    if config.out:
        check_run_dir(Path(config.out), overwrite, f" (set by --config {config_file})" if not values["out"] else "",
                      source)
    if nproc > 1:
        from .engine.distributed import launch

        if resume is not None:  # the processes read every setting back as given: check and merge them here
            saved = read_run(resume, resume=True)
            config = resume_config(saved.config, config, given, resume)
            if config.epochs is None:
                _check_steps_left(saved.meta["step"], config.steps)
        stopped = launch(nproc, config, resume, overwrite)
        if stopped:  # the workers saved a checkpoint and said where
            sys.exit(128 + stopped)
        return
    try:
        trainer = Trainer(config, resume=resume, given=given, overwrite=overwrite)
    except GanzooError as exc:
        raise GanzooError(_naming_the_file(str(exc), config_file, values)) from None
    _check_steps_left(trainer.step, trainer.config.steps)
    if trainer.rank == 0:
        click.echo(start_line(trainer), err=True)
        if config.threads is None and trainer.device.type == "cpu":
            _warn_if_cores_are_shared()
    try:
        run_dir = trainer.fit()
    except TrainingInterrupted as exc:  # not an error: the checkpoint is saved, say where and how to go on
        if trainer.rank == 0:  # once, not once per process
            click.echo(str(exc), err=True)
        sys.exit(128 + exc.signum)
    if trainer.rank != 0:
        return
    click.echo(f"run directory: {run_dir}")
    click.echo(f"  samples:    {run_dir / 'samples.png'}")
    click.echo(f"  checkpoint: {run_dir / 'checkpoint.safetensors'}")
    click.echo(f"  log:        {run_dir / 'log.jsonl'}")


MAX_GRID = int(SETTINGS["n_samples"].high)  # images in one grid, as in a run's sample grids


@cli.command("sample", context_settings=CONTEXT)
@click.argument("checkpoint", type=click.Path())
@click.option("-n", "--num", type=click.IntRange(1, MAX_GRID), default=64, show_default=True,
              help="Number of images (one grid; draw several grids with other --seed values for more).")
@click.option("--out", default="samples.png", show_default=True, type=click.Path(dir_okay=False), help="Grid PNG to write.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Noise seed; the run's --seed + 1 (and -n its --n-samples) redraws its training grid exactly.")
@click.option("--ema/--no-ema", default=True, show_default=True, help="Use the EMA generator when the checkpoint has one.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--nrow", type=click.IntRange(min=1), help="Images per row. [about sqrt(n), or one class per column]")
def sample_cmd(checkpoint: str, num: int, out: str, seed: int, ema: bool, device: str, nrow: int | None) -> None:
    """Draw samples from a trained CHECKPOINT (file or run directory) into a grid PNG.

    Training grids draw their latent with the run's --seed + 1, so for a run
    trained with the default seed 0 and 64 samples, `--seed 1 -n 64` gives
    exactly its last samples.png.

    \b
    Example:
      ganzoo sample runs/dcgan-hinge-shapes-20260101-120000 -n 64 --out grid.png --seed 3
    """
    import torch

    from .api import StepContext
    from .engine.trainer import load_for_inference, resolve_device
    from .files import check_writable
    from .images import LOSSLESS, save_grid

    if Path(out).suffix.lower() in LOSSLESS:  # a name save_grid takes; and not a run's own grid (`sample .` in a run)
        check_writable(out, "--out")
    asm, nets = load_for_inference(checkpoint, device, use_ema=ema)
    require_command(checkpoint, asm.config.task, asm.task.command, "sample")
    ctx = StepContext(nets, nets, asm.loss, resolve_device(device), torch.Generator().manual_seed(seed))
    fixed = asm.task.fixed_inputs(ctx, None, num)
    images = asm.task.samples(nets, fixed)
    path = save_grid(images, out, nrow=nrow or asm.task.sample_nrow(len(images)))
    whole_rows = (f" (-n {num}: task '{asm.config.task}' draws whole rows of {asm.task.sample_nrow(len(images))})"
                  if len(images) != num else "")
    click.echo(f"wrote {len(images)} samples to {path}{whole_rows}")


def _command_line(ctx: click.Context) -> str:
    """The command as typed (options that differ from their defaults), for result files."""
    import shlex

    args = ["ganzoo", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value in (None, (), False) or value == param.default:
            continue
        if isinstance(param, click.Argument):
            args.append(str(value))
        elif param.is_flag:
            args.append(param.opts[0])
        else:
            for item in value if param.multiple else (value,):
                args += [param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0], str(item)]
    return shlex.join(args)


def _table_rows(value: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """Flat rows from a nested result: a dict of dicts gives one row per key (in column ``label``),
    a dict of scalars gives ``name.key`` columns, e.g. bins -> methods -> metrics: one row per bin and method."""
    if value and all(isinstance(v, dict) for v in value.values()):
        return [{label: name, **row} for name, sub in value.items() for row in _table_rows(sub, label)]
    base: dict[str, Any] = {}
    tables = []
    for key, item in value.items():
        if not isinstance(item, dict):
            base[key] = item
        elif item and all(isinstance(v, dict) for v in item.values()):
            tables.append((key, item))
        else:
            base.update({f"{key}.{k}": v for row in _table_rows(item, key) for k, v in row.items()})
    rows = [base]
    for key, table in tables:
        rows = [{**row, **sub} for row in rows for sub in _table_rows(table, key)]
    return rows


def _echo_results(results: dict[str, Any]) -> None:
    """Scalars as 'name  value' lines, nested dicts (e.g. per mask bin and method) as tables."""
    from .bench import _fmt, markdown_table

    scalars = {k: v for k, v in results.items() if not isinstance(v, dict)}
    width = max((len(k) for k in scalars), default=0)
    for key, value in scalars.items():
        click.echo(f"{key:<{width}}  {_fmt(value)}")
    for key, value in results.items():
        if isinstance(value, dict):
            click.echo(f"\n{key}:\n" + markdown_table(_table_rows(value, key)))


def _split_names(value: str | None) -> list[str] | None:
    return [n.strip() for n in value.split(",") if n.strip()] if value else None


@cli.command("eval", context_settings=CONTEXT)
@click.argument("checkpoint", type=click.Path())
@click.option("--metrics", help="Comma-separated metric names (ganzoo list metrics). [the task's defaults]")
@click.option("-n", "--num", type=click.IntRange(min=2), help="Generated samples to score. [2000; 26000 for stacked-mnist]")
@click.option("--data-root", help="Dataset directory. [the one the run was trained with]")
@click.option("--classifier", type=click.Path(dir_okay=False),
              help="Feature net for fid, kid, is, pr, dc, modes: a file from `ganzoo features train`, or "
                   "`inception` / `inception:PATH` for the standard FID Inception weights already on disk.")
@click.option("--out", type=click.Path(file_okay=False), help="Directory for images the evaluation writes, if any.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed for the generated samples and metric subsets.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--ema/--no-ema", default=True, show_default=True, help="Use the EMA generator when there is one.")
@click.option("--metric-opt", "metric_options", multiple=True, metavar="NAME.K=V",
              help="Metric option, e.g. kid.subset_size=500 (repeatable).")
@click.option("--eval-opt", "eval_options", multiple=True, metavar="K=V",
              help="The task's own evaluation option (repeatable), e.g. for inpainting mask=thin, "
                   "mask_area=[0.1,0.2], self_ensemble=true, split=train. A wrong key's error lists the task's "
                   "options.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results as JSON.")
def eval_cmd(checkpoint: str, metrics: str | None, num: int | None, data_root: str | None, classifier: str | None,
             out: str | None, seed: int, device: str, ema: bool, metric_options: tuple[str, ...],
             eval_options: tuple[str, ...], json_path: str | None) -> None:
    """Score a trained CHECKPOINT (file or run directory) with the task's metrics.

    \b
    Examples:
      ganzoo features train --dataset mnist --data-root ../shared/data/mnist --out mnist-clf.safetensors
      ganzoo eval runs/<run> --metrics fid,kid,pr,dc,modes,memorization --classifier mnist-clf.safetensors
      ganzoo eval runs/<run> --metrics stacked-mnist --classifier stacked-clf.safetensors   # 26,000 samples
      ganzoo eval runs/<run> --metrics fid,kid,is --classifier inception   # pip install 'ganzoo[inception]'
      ganzoo eval runs/<inpainting run> --eval-opt mask=strokes --eval-opt self_ensemble=true
    """
    from .engine.checkpoint import read_run_checkpoint
    from .engine.config import parse_options
    from .engine.runlog import EVAL_FLAGS, refuse_unread
    from .engine.runlog import eval_options as task_eval_options  # `eval_options` is --eval-opt's parameter
    from .engine.trainer import load_for_inference, resolve_device
    from .files import check_writable, write_atomic
    from .metrics import classifier_record, refuse_unused_classifier, resolve_metrics

    if json_path:  # before a long evaluation, not after it
        check_writable(json_path, "--json")
    scored = read_run_checkpoint(checkpoint) if json_path else None  # before: a newer one may be saved meanwhile
    asm, nets = load_for_inference(checkpoint, device, use_ema=ema)
    seed_given = click.get_current_context().get_parameter_source("seed") != click.core.ParameterSource.DEFAULT
    typed = dict(num=num, data_root=data_root, classifier=classifier, out=out, seed=seed_given)
    refuse_unread(asm.config.task, asm.task.eval_reads, EVAL_FLAGS, [key for key, value in typed.items() if value])
    if (metrics or metric_options) and not asm.task.metric_plugins:  # the same rule as train --metrics
        flag = "--metrics" if metrics else "--metric-opt"
        raise GanzooError(f"{flag}: task '{asm.config.task}' is scored by its own evaluation, not by metric "
                          f"plugins; drop {flag} (ganzoo eval prints the task's own figures)")
    options: dict[str, Any] = dict(metrics=_split_names(metrics), num=num, data_root=data_root,
                                   classifier=classifier, out=out, seed=seed)
    if metric_options:
        options["metric_options"] = parse_options(metric_options, "--metric-opt")
    if asm.task.metric_plugins:
        refuse_unused_classifier(resolve_metrics(options["metrics"], options.get("metric_options")), classifier)
    given = parse_options(eval_options, "--eval-opt")
    options.update(task_eval_options(asm.task, given))
    results = asm.task.evaluate(nets, resolve_device(device), **options)
    _echo_results(results)
    if scored is not None:  # --json, with what was scored, so a folder of these files traces back to its runs
        evaluated = {"checkpoint": str(scored.path.resolve()), "step": scored.meta["step"],
                     "ema": ema and bool(scored.config.ema), "seed": seed, "num": num, "metrics": metrics,
                     "metric_options": options.get("metric_options", {}),
                     "classifier": classifier and classifier_record(classifier),
                     "data_root": str(Path(data_root).resolve()) if data_root else asm.config.data_root,
                     "eval_options": given}
        write_atomic(json_path, json.dumps({**results, "evaluated": evaluated}, indent=2) + "\n")
        click.echo(f"wrote {json_path}")


BENCH_SETTINGS = ("task", "dataset", "data_root", "data_options", "arch_options", "loss_options", "task_options",
                  "batch_size", "width", "image_size", "channels", "nz", "n_critic", "lr", "lr_d", "beta1", "beta2",
                  "ema", "seed", "device", "precision", "channels_last", "compile", "capture", "threads")


@cli.command("bench", cls=SettingsCommand, context_settings=CONTEXT)
@click.option("--archs", help="Comma-separated architectures, e.g. dcgan,dcgan-keras,resnet-sn.")
@click.option("--losses", help="Comma-separated losses, e.g. bce,hinge,wgan-gp.")
@click.option("--variant", "variants", multiple=True, metavar="'K=V ...'",
              help="Also train every arch x loss with these train settings, e.g. 'augment=diffaugment' or "
              "'reg=r1 reg.r1.gamma=1' or 'pack=2' (repeatable; each is a row per arch x loss, beside the plain one "
              "unless --no-plain; seed, steps and out are bench's own).")
@click.option("--plain/--no-plain", default=True, show_default=True,
              help="With --variant: keep the rows without a variant.")
@click.option("--recipes", help="Comma-separated recipes to add as rows (ganzoo list recipes); the options given "
              "to bench override each recipe's, as with train --recipe; rows train at constant LR.")
@click.option("--steps", type=int, help="Budget: generator steps per combination.")
@click.option("--seconds", type=float, help="Budget: training seconds per combination (CPU time on CPU).")
@click.option("--repeats", default=1, show_default=True, help="Runs per combination, seeds seed..seed+R-1.")
@click.option("--evals", default=4, show_default=True, help="Quality points along each run (for the curve).")
@click.option("--metrics", help="Metrics at the end (tasks scored by metric plugins). [fid,kid,is,pr,dc,modes for "
              "generation; other tasks give their own scores]")
@click.option("--curve-metric", help="Figure for the quality-vs-steps curve: a metric (ganzoo list metrics) where "
              "the task scores with them, else one of its own figures. [the first of --metrics, else the task's "
              "headline: fid for generation]")
@click.option("-n", "--num", type=click.IntRange(min=2), help="Generated samples per evaluation. [2000]")
@click.option("--classifier", type=click.Path(dir_okay=False),
              help="Feature net: a `ganzoo features train` file, or inception[:PATH] (weights on disk).")
@click.option("--out", type=click.Path(file_okay=False), help="Directory for the runs. [runs/bench-<time>]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write all rows (and curves) as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Write the table as markdown.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Plot quality vs steps (PNG).")
@setting_options(BENCH_SETTINGS)
@click.pass_context
def bench_cmd(ctx: click.Context, archs: str | None, losses: str | None, variants: tuple[str, ...], plain: bool,
              recipes: str | None, steps: int | None, seconds: float | None, repeats: int,
              evals: int, metrics: str, curve_metric: str, num: int | None, classifier: str | None, out: str | None,
              json_path: str | None, markdown_path: str | None, plot_path: str | None, **settings: Any) -> None:
    """Train every ARCH x LOSS (x VARIANT, and RECIPES) under one budget; print one table: speed, memory, quality.

    Each row gives img/s, peak memory (RSS on CPU, max allocated on CUDA), time,
    and the metrics; every row's `ganzoo train` + `ganzoo eval` commands are
    printed so it can be reproduced on its own. The run settings below mean
    what they mean for `ganzoo train` and are shared by every row.

    \b
    Example:
      ganzoo bench --archs dcgan,dcgan-keras,resnet-sn --losses bce,hinge,wgan-gp --dataset mnist \\
        --data-root ../shared/data/mnist --data-opt holdout=2000 --seconds 120 --width 32 \\
        --classifier mnist-clf.safetensors --markdown bench.md --plot bench.png
      ganzoo bench --archs dcgan --losses bce --variant augment=diffaugment --variant 'reg=r1' \\
        --recipes seed001 --dataset mnist --data-root ../shared/data/mnist --data-opt holdout=2000 --steps 1000
    """
    import time

    from .bench import (BenchSpec, PLOT_HINT, markdown_report, markdown_table, plot_curves, row_label, run_bench,
                        table_rows)
    from .engine.rundir import holds_run
    from .files import check_writable, write_atomic, write_error

    # Read like train's options; bench scores the runs itself, so no logging, grids or checkpoints in between.
    base, given = build_config(None, {**settings, "log_every": 10**9, "sample_every": 10**9, "ckpt_every": 10**9})
    spec = BenchSpec(archs=_split_names(archs) or [], losses=_split_names(losses) or [], base=base,
                     given=frozenset(given), variants=([""] if plain and variants else []) + list(variants),
                     recipes=_split_names(recipes) or [], steps=steps,
                     seconds=seconds, repeats=repeats, evals=evals, metrics=_split_names(metrics),
                     curve_metric=curve_metric, num=num, classifier=classifier,
                     out=out or f"runs/bench-{time.strftime('%Y%m%d-%H%M%S')}")
    for path, flag in ((json_path, "--json"), (markdown_path, "--markdown"), (plot_path, "--plot")):
        if path:  # before the training, not after it
            check_writable(path, flag)
    if plot_path:
        try:
            import matplotlib  # noqa: F401 - first: plot_curves imports it so
            from matplotlib.backends.backend_agg import FigureCanvasAgg
        except ImportError:
            click.echo(f"ganzoo bench: {PLOT_HINT}; training and the table go ahead without it", err=True)
            plot_path = None
        else:
            formats = FigureCanvasAgg.get_supported_filetypes()
            if Path(plot_path).suffix.lower().lstrip(".") not in formats:
                raise GanzooError(f"--plot {plot_path}: name the picture with one of matplotlib's formats, "
                                  f"e.g. {Path(plot_path).with_suffix('.png')} ({', '.join(sorted(formats))})")
    if holds_run(Path(spec.out)):
        raise GanzooError(f"--out {spec.out} holds a training run; bench writes its runs into a folder of their own")
    try:
        Path(spec.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanzooError(f"--out: {write_error(spec.out, exc)}") from None
    rows = run_bench(spec, echo=lambda line: click.echo(line, err=True))
    click.echo(markdown_table(table_rows(rows)))
    for row in rows:
        click.echo(f"# {row_label(row)} s{row['seed']}: {row['train_command']} && {row['eval_command']}")
    if json_path:
        write_atomic(json_path, json.dumps({"command": _command_line(ctx), "rows": rows}, indent=2) + "\n")
        click.echo(f"wrote {json_path}", err=True)
    if markdown_path:
        write_atomic(markdown_path, markdown_report(rows, spec, _command_line(ctx)))
        click.echo(f"wrote {markdown_path}", err=True)
    if plot_path:
        click.echo(f"wrote {plot_curves(rows, plot_path)}", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ganzoo")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
