"""One task-agnostic trainer: devices, precision, optimisers, EMA, checkpoints, logging.

A task plugin says which networks it needs, what G makes of a batch and what
each D judges; the adversarial step itself is :mod:`ganzoo.engine.adversarial`,
and everything around it is here, shared by every task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import json
import logging
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterator

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.nn.utils.parametrizations import _SpectralNorm
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .. import __version__
from ..api import (
    Architecture, Augment, DataOptions, DatasetSpec, GanzooError, IncompatibleError, Loss, Regularizer, StepContext,
    Task, check_options,
)
from ..files import writing
from ..images import save_grid
from ..kernels import resolve_kernels, use_kernels
from ..registry import check_provenance, get_registry, provenance
from .adversarial import AdversarialStep
from .checkpoint import (
    CHECKPOINT_NAME,
    RunCheckpoint,
    flatten_optimizer,
    load_module,
    module_tensors,
    read_run_checkpoint,
    save_checkpoint,
    unflatten_optimizer,
)
from .config import (ENGINE_DEFAULTS, RunConfig, check_plugin_defaults, resume_config, save_toml,
                     warn_if_schedule_moves)
from .distributed import World, convert_sync_batchnorm
from .rundir import carry_history, claim_run_dir
from .runlog import RunLoggers, check_evaluation, evaluate_now, finite_record, logger_classes
from .runpage import write_page

log = logging.getLogger("ganzoo")

_DDP_ARGS = inspect.signature(DistributedDataParallel.__init__).parameters
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an unavailable device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanzooError(f"--device {name}: not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise GanzooError(f"--device {name}: ganzoo trains on cpu, cuda or mps")
    if device.type == "mps" and not _mps_available():
        raise GanzooError(f"--device {name}: MPS is not available on this machine; use --device cpu or auto")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    return device


def cpu_threads(requested: int | None, processes: int = 1) -> int:
    """Threads for torch's CPU ops: ``requested``, or torch's default capped to this process's share of its CPUs.

    torch counts the machine's cores, not the CPUs that ``taskset`` or a container grant, nor the other
    processes of a job on the same CPUs; OpenMP threads beyond the CPUs wait on each other at every op.
    """
    if requested is not None:
        return requested
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cpus // processes))


@dataclass
class Assembly:
    """A task with its networks, loss and dataset, checked to fit together."""

    config: RunConfig
    task: Task
    loss: Loss
    dataset: DatasetSpec
    nets: dict[str, nn.Module]
    augment: Augment | None = None
    regularizers: dict[str, Regularizer] = field(default_factory=dict)


def regularizer_names(config: RunConfig) -> list[str]:
    """The ``--reg`` names in order (comma-separated, blanks ignored)."""
    return [name.strip() for name in (config.reg or "").split(",") if name.strip()]


def _d_step_plugins(config: RunConfig, arch: Any, task_cls: type[Task]) -> tuple[Augment | None,
                                                                                dict[str, Regularizer]]:
    """The augmentation and regularisers the run asks for, and a check that D can take ``--pack``."""
    registry = get_registry()
    augment = None
    if config.augment:
        augment = registry.get("augments", config.augment)(**config.augment_options)
    elif config.augment_options:
        raise GanzooError("--augment-opt given without --augment; name the augmentation (ganzoo list augments)")
    names = regularizer_names(config)
    options: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in config.reg_options.items():
        name, dot, option = key.partition(".")
        if not dot or name not in options:
            raise GanzooError(f"--reg-opt {key}={value}: write NAME.KEY=VALUE with NAME one of --reg "
                              f"({', '.join(names) or 'none given'})")
        options[name][option] = value
    regularizers = {name: registry.get("regularizers", name)(**options[name]) for name in names}
    comparing = [name for name, reg in regularizers.items() if reg.compares_logits]
    if comparing and config.d_batch == "joint":
        raise GanzooError(f"--reg {comparing[0]} compares D's output on changed images, judged one batch at a time, "
                          "with the loss's logits, which --d-batch joint takes from real and fake together; use "
                          "--d-batch split with it")
    if config.pack > 1:
        if "channels" not in arch.discriminator_input:
            able = [e.name for e in registry.list("archs") if "channels" in e.obj.discriminator_input]
            raise IncompatibleError(f"--pack {config.pack}: architecture '{config.arch}' cannot take packed samples "
                                    f"(its D's input channels cannot be set: it lacks D input 'channels'); "
                                    f"architectures that can: {', '.join(able)}")
        if "label" in task_cls.discriminator_input:
            raise IncompatibleError(f"--pack {config.pack}: task '{config.task}' shows D a label per image, which "
                                    "packed samples cannot keep; use --pack 1")
        if config.batch_size % config.pack:
            raise GanzooError(f"--pack {config.pack}: --batch-size {config.batch_size} is not a multiple of it")
    return augment, regularizers


def _task_default(registry: Any, kind: str, name: str, given: str | None, task: str, task_cls: type[Task]) -> Any:
    """The registered ``kind`` entry ``name``; when the user gave none and the task's default is not registered, the
    error names the task's default and the flag to pass, not a name the user never typed."""
    flag, noun = ("--arch", "architecture") if kind == "archs" else ("--loss", "loss")
    if given is not None:
        return registry.get(kind, name)
    if registry.list(kind, name):
        try:
            return registry.get(kind, name)
        except GanzooError as exc:  # two plugins register the task's default: say it is the default, not a typo
            raise GanzooError(f"task '{task}' trains {noun} '{name}' by default ({flag} chooses another): {exc}") \
                from None
    hint = (serving_hint(task_cls) if kind == "archs"
            else f"Losses: {', '.join(sorted({e.name for e in registry.list(kind)}))}.")
    raise GanzooError(f"task '{task}' trains {noun} '{name}' by default, which is not registered; pass {flag} NAME. "
                      f"{hint}")


def typed_arch_options(name: str, arch: Architecture, given: dict[str, Any]) -> dict[str, Any]:
    """``--arch-opt`` values checked against what architecture ``name`` declares, each as its default's type."""
    checked = check_options("--arch-opt", f"architecture '{name}'", arch.options or {}, given)
    return {key: checked[key] for key in given}


def assemble(config: RunConfig, new: bool = True) -> Assembly:
    """Resolve names through the registry and refuse impossible combinations before training.

    ``new``: a run about to start. A checkpoint's run (resume, sample, eval) was accepted when it began, so the
    checks of plugin declarations added since (arch options, ``config_defaults``) do not stop it loading.
    """
    registry = get_registry()
    task_cls = registry.get("tasks", config.task)
    given_arch, given_loss = config.arch, config.loss
    config.arch = config.arch or task_cls.default_arch
    arch = _task_default(registry, "archs", config.arch, given_arch, config.task, task_cls)
    if arch.options is not None:
        typed = typed_arch_options(config.arch, arch, config.arch_options)
        if new:  # recorded typed (`residual=False` is no string); a run made before is rebuilt as it was trained
            config.arch_options = typed
    elif config.arch_options and new:
        raise GanzooError(f"--arch-opt {', '.join(config.arch_options)}: architecture '{config.arch}' takes no "
                          "options (it declares none); drop --arch-opt")
    loss_name = config.loss or task_cls.default_loss
    loss_cls = _task_default(registry, "losses", loss_name, given_loss, config.task, task_cls)
    if new:
        check_plugin_defaults(f"loss '{loss_name}'", loss_cls.config_defaults)
        check_plugin_defaults(f"task '{config.task}'", task_cls.config_defaults)
    for key, value in ENGINE_DEFAULTS.items():
        if getattr(config, key) is None:
            setattr(config, key, loss_cls.config_defaults.get(key, task_cls.config_defaults.get(key, value)))
    loss = loss_cls(**config.loss_options)
    if config.n_critic is not None:
        loss.n_critic = config.n_critic
    spec = registry.get("datasets", config.dataset)
    if spec.layout != task_cls.layout:
        fitting = [e.name for e in registry.list("datasets") if e.obj.layout == task_cls.layout]
        raise IncompatibleError(
            f"dataset '{config.dataset}' yields '{spec.layout}' items but task '{config.task}' needs "
            f"'{task_cls.layout}' items; datasets that yield them: {', '.join(fitting) or 'none installed'}"
        )
    lacking = arch.lacks(task_cls)
    if lacking:
        raise IncompatibleError(f"architecture '{config.arch}' cannot serve task '{config.task}': it lacks "
                                f"{', '.join(lacking)}. {serving_hint(task_cls)}")
    if config.image_size is None:
        config.image_size = arch.image_sizes[0] if arch.image_sizes else 32
    if config.channels is None:
        config.channels = spec.channels or _native_channels(config)
    arch.check(config.arch, config.image_size, config.channels)
    config.loss = loss_name
    options = check_options("--task-opt", f"task '{config.task}'", task_cls.option_defaults(config.task_options),
                            config.task_options)
    augment, regularizers = _d_step_plugins(config, arch, task_cls)
    task = task_cls(arch, config, spec, **options)
    return Assembly(config, task, loss, spec, task.build(), augment, regularizers)


def _native_channels(config: RunConfig) -> int:
    """The channels of a dataset that declares none (a folder): its own, 1 when every image is gray, else 3."""
    from ..data import load_split

    with warnings.catch_warnings():  # a skipped file or a missing split: loading the data for training says so
        warnings.simplefilter("ignore")
        return int(getattr(load_split(config, "train"), "channels", None) or 3)


def serving(task_cls: type[Task]) -> list[str]:
    """The registered architectures that have everything ``task_cls`` needs."""
    return [e.name for e in get_registry().list("archs") if not e.obj.lacks(task_cls)]


def serving_hint(task_cls: type[Task]) -> str:
    """Which architectures serve a task, or, when none does, which come closest and what each lacks."""
    names = serving(task_cls)
    if names:
        return f"Architectures that serve it: {', '.join(names)}."
    ranked = sorted(((len(e.obj.lacks(task_cls)), e.name, e.obj.lacks(task_cls)) for e in get_registry().list("archs")))
    closest = "; ".join(f"{name} (lacks {', '.join(missing)})" for _, name, missing in ranked[:3])
    return f"No installed architecture has all it needs; closest: {closest}."


def plugin_uses(config: RunConfig) -> list[tuple[str, str]]:
    """The registered names a run is built from, for the checkpoint's plugin record."""
    uses = [("tasks", config.task), ("archs", config.arch), ("losses", config.loss), ("datasets", config.dataset)]
    uses += [("augments", config.augment)] if config.augment else []
    return uses + [("regularizers", name) for name in regularizer_names(config)]


def check_plugins(meta: dict[str, Any], path: str | Path) -> dict[tuple[str, str], str]:
    """Before building anything from a checkpoint: every plugin it was trained with is installed (else: which
    distribution to install), and a name now provided by another plugin is said (checkpoints from before
    the record have none). Returns the names the record settles (see :func:`settled_config`)."""
    return check_provenance(meta["plugins"], source=str(path)) if "plugins" in meta else {}


def settled_config(config: RunConfig, settled: dict[tuple[str, str], str]) -> RunConfig:
    """``config`` with its architecture, loss, dataset or augmentation, where several plugins now register that
    name, replaced by the qualified name of the one the run was trained with (``plugin:name``), so that a plugin
    installed later with a clashing name does not stop sample, eval or --resume of the runs made before it.
    Tasks and regularizers keep their names (code and saved state key on them): a clash there stays an error."""
    fields = {"arch": "archs", "loss": "losses", "dataset": "datasets", "augment": "augments"}
    changes = {field: settled[(kind, getattr(config, field))] for field, kind in fields.items()
               if (kind, getattr(config, field)) in settled}
    return dataclasses.replace(config, **changes) if changes else config


def read_run(path: str | Path, resume: bool = False) -> RunCheckpoint:
    """Open a run checkpoint for sampling, evaluation or ``resume``: its metadata validated, its plugins
    installed, and its tensor shapes checked against the networks its config builds, built on the meta
    device so that forged sizes allocate nothing. Read the weights with ``.tensors()`` after this."""
    ckpt = read_run_checkpoint(path, resume)
    ckpt.config = settled_config(ckpt.config, check_plugins(ckpt.meta, ckpt.path))
    expected: dict[str, tuple[int, ...]] = {}
    with torch.device("meta"):
        asm = assemble(dataclasses.replace(ckpt.config), new=False)
        for name, net in asm.nets.items():
            expected.update({k: tuple(v.shape) for k, v in module_tensors(name, net).items()})
        if ckpt.config.ema:
            for name in asm.task.ema_nets:
                ema = AveragedModel(asm.nets[name], use_buffers=True)
                expected.update({k: tuple(v.shape) for k, v in module_tensors(f"ema.{name}", ema).items()})
    ckpt.check_shapes(expected)
    return ckpt


class TrainingInterrupted(GanzooError):
    """SIGINT or SIGTERM stopped training after a checkpoint was saved; ``signum`` is the signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


@contextlib.contextmanager
def stop_signals() -> Iterator[list[int]]:
    """While training, SIGINT (Ctrl-C) and SIGTERM only ask to stop: the list they fill tells the loop to save
    and leave. A second Ctrl-C exits at once. Only the main thread can take signals; elsewhere this does nothing."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def ask_to_stop(signum: int, frame: Any) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {sig: signal.signal(sig, ask_to_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _quiet_worker(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C to the trainer, which saves and then stops them; SIGTERM ends a worker
    at once without a traceback (status 0, which the trainer does not take for a crash)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))


def data_options(config: RunConfig, split: str = "train") -> DataOptions:
    return DataOptions(
        root=config.data_root,
        image_size=config.image_size,
        channels=config.channels,
        split=split,
        seed=config.seed,
        download=config.download,
        skip_bad_images=config.skip_bad_images,
        options=dict(config.data_options),
    )


class EpochBatches:
    """Shuffled index batches, epoch after epoch, that can start at any global batch.

    Order depends only on (seed, epoch), so a resumed run sees the same batches
    as an uninterrupted one; under DDP each rank takes its DistributedSampler shard.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.dataset, self.batch_size, self.seed, self.start = dataset, batch_size, seed, start
        self.rank, self.world = rank, world
        self.per_epoch = (len(dataset) // world) // batch_size
        if self.per_epoch == 0:
            raise GanzooError(
                f"the dataset has {len(dataset)} items, fewer than --batch-size {batch_size} x {world} process(es); "
                "lower --batch-size or add data"
            )

    def __iter__(self) -> Iterator[list[int]]:
        batch = self.start
        while True:
            epoch, pos = divmod(batch, self.per_epoch)
            sampler = DistributedSampler(
                self.dataset, num_replicas=self.world, rank=self.rank, shuffle=True, seed=self.seed, drop_last=True
            )
            sampler.set_epoch(epoch)
            indices = list(sampler)
            for p in range(pos, self.per_epoch):
                yield indices[p * self.batch_size : (p + 1) * self.batch_size]
                batch += 1


def _compile(net: nn.Module) -> nn.Module:
    """``torch.compile`` with spectral norm's weight computation left eager (:func:`_eager_spectral_norm`)."""
    return torch.compile(_eager_spectral_norm(net))


def _eager_spectral_norm(net: nn.Module) -> nn.Module:
    """Keep spectral norm's weight computation out of compiled graphs (``--compile``, ``--capture``).

    Its power iteration updates the u/v buffers in place on every forward. D
    runs twice (real, fake) before one backward; compiled, Inductor keeps the
    updated buffer itself for the backward instead of the parametrization's
    clone, so the second forward invalidates the first one's saved tensors.
    Eager, the clone is kept: one graph break per normalised layer instead.
    """
    for module in net.modules():
        if isinstance(module, _SpectralNorm) and "forward" not in vars(module):
            module.forward = torch.compiler.disable(module.forward)
    return net


def warmup_ema(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], torch.Tensor], None]:
    """EMA update with decay ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates (TF's num_updates).

    A fixed 0.999 averages over ~1000 steps, so a short run's EMA would be
    mostly its random start; the warm-up lets it follow G early and settle
    to ``decay`` later. The weight stays a device tensor: no host sync per step.
    """

    def update(ema: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        if not ema[0].is_floating_point():  # called per dtype group: integer buffers are counters, copy them
            torch._foreach_copy_(ema, current)
            return
        weight = 1 - torch.clamp((1 + num_averaged) / (10 + num_averaged), max=decay)
        torch._foreach_lerp_(ema, current, weight.to(ema[0].dtype))

    return update


def resume_hint(run_dir: Path, world: int) -> str:
    """How to go on after a stop: with ``--nproc`` when all processes ran on this machine; a multi-node
    torchrun job (LOCAL_WORLD_SIZE below the world size) is started again the way it was, with --resume."""
    if world == 1:
        return f"continue with `ganzoo train --resume {run_dir}`"
    if int(os.environ.get("LOCAL_WORLD_SIZE", world)) == world:
        return f"continue with `ganzoo train --resume {run_dir} --nproc {world}`"
    return f"continue by starting the same torchrun job on every node with `-m ganzoo train --resume {run_dir}`"


def update_ema(avg: AveragedModel, net: nn.Module) -> None:
    """``avg.update_parameters(net)`` without waiting for the device.

    AveragedModel's own update copies its host-side count to the device with a blocking copy, which
    on CUDA waits for the whole step every step; here the count reaches the device as a kernel's
    argument (a fill, no copy), and the averaging function is the model's own (:func:`warmup_ema`).
    """
    ema = [t.detach() for t in itertools.chain(avg.module.parameters(), avg.module.buffers())]
    current = [t.detach() for t in itertools.chain(net.parameters(), net.buffers())]
    n = int(avg.n_averaged)  # a host tensor: reading it waits for nothing
    if n == 0:  # the first update copies, as AveragedModel's does
        torch._foreach_copy_(ema, current)
    else:
        count = torch.full((), n, dtype=avg.n_averaged.dtype, device=ema[0].device)
        groups: dict[torch.dtype, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
        for e, c in zip(ema, current, strict=True):
            group = groups.setdefault(e.dtype, ([], []))
            group[0].append(e)
            group[1].append(c)
        for group_ema, group_current in groups.values():
            avg.multi_avg_fn(group_ema, group_current, count)
    avg.n_averaged += 1


class Trainer:
    """Train any architecture x loss x task that fits; see :func:`assemble`."""

    def __init__(self, config: RunConfig, resume: str | Path | None = None,
                 given: Collection[str] | None = None, overwrite: bool = False) -> None:
        """``given``: the settings the user gave, which ``resume`` checks (see :func:`resume_config`);
        ``overwrite``: :meth:`fit` may replace a run already in the run directory."""
        self.resume_state: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
        self.overwrite, self.source = overwrite, None
        if resume is not None:
            ckpt = read_run(resume, resume=True)
            arch = get_registry().get("archs", ckpt.config.arch)
            if arch.options and config.arch_options:  # compared with the run's typed ones, as a new run records
                config.arch_options = typed_arch_options(ckpt.config.arch, arch, config.arch_options)
            config = resume_config(ckpt.config, config, given, resume)
            if World.from_env().main:  # once, not once per process
                warn_if_schedule_moves(ckpt.config, config, resume, ckpt.meta["step"])
            self.resume_state = (ckpt.tensors(), ckpt.meta)
            self.source = ckpt.path  # the checkpoint resumed from
        if resume is None and not config.data_root:  # the dataset's own default, recorded like a given one
            config.data_root = get_registry().get("datasets", config.dataset).root()
        if config.data_root:  # absolute, so eval, probe and resume find the data from any directory
            config.data_root = str(Path(config.data_root).expanduser().resolve())
        self.config = config
        self.dist = World.from_env()
        self.rank, self.world = self.dist.rank, self.dist.size
        self.device = self.dist.join(resolve_device(config.device))
        torch.set_num_threads(cpu_threads(config.threads, self.world))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes every step: let cuDNN pick the fastest conv
        torch.manual_seed(config.seed)
        self.asm = assemble(config, new=resume is None)
        self.task, self.loss = self.asm.task, self.asm.loss
        self.logger_classes = logger_classes(config, kept=resume is not None and "loggers" not in (given or ()))
        check_evaluation(config, self.task, new=resume is None)
        self.loggers: RunLoggers | None = None  # opened by fit() on the writing process
        if config.precision not in PRECISIONS:
            raise GanzooError(f"--precision {config.precision}: choose one of {', '.join(PRECISIONS)}")
        self.dtype = PRECISIONS[config.precision]
        self.kernels = resolve_kernels(config.kernels, self.device)
        sites = sum(use_kernels(net, self.kernels) for net in self.asm.nets.values())
        log.info("kernels: %s (%d fused bias+activation site(s) in %s)", self.kernels, sites, config.arch)
        self.check_capture()
        if (config.compile or config.capture != "off") and config.channels_last and self.device.type == "cuda":
            flag = "--compile" if config.compile else f"--capture {config.capture}"
            raise GanzooError(
                f"{flag} with --channels-last on CUDA is not supported yet: Inductor's stride check fails on "
                "dcgan's first ConvTranspose (1x1 input) in torch 2.11; use one of the two"
            )
        memory = torch.channels_last if config.channels_last else torch.contiguous_format
        self.eager = {k: v.to(self.device, memory_format=memory) for k, v in self.asm.nets.items()}
        self.ddp = {k: self._wrap_ddp(v) for k, v in self.eager.items()} if self.world > 1 else self.eager
        self.nets = {k: _compile(v) if config.compile else v for k, v in self.ddp.items()}
        if config.capture != "off":  # the captured updates compile the nets' code too
            for net in self.eager.values():
                _eager_spectral_norm(net)
        self.gen = torch.Generator().manual_seed(config.seed)
        # The captured step draws its noise on the device (a generator cannot be read inside a graph); on the
        # CPU that is the engine's generator itself, so captured and eager runs draw the same noise.
        self.noise_gen = (self.gen if config.capture == "off" or self.device.type == "cpu"
                          else torch.Generator(self.device).manual_seed(config.seed))
        self.opt_d, self.opt_g = (self._adam(self.task.d_nets, config.lr_d or config.lr),
                                  self._adam(self.task.g_nets, config.lr))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        # The augmentation and regularisers keep state (ADA's p, LeCam's running means) that resume restores.
        self.d_step_state = {"augment": self.asm.augment} if self.asm.augment is not None else {}
        self.d_step_state.update({f"reg.{name}": reg for name, reg in self.asm.regularizers.items()})
        for module in self.d_step_state.values():
            module.to(self.device)
        self.adversarial = AdversarialStep(self.task, self.loss, self.nets, self.eager, self.ddp, self.opt_d,
                                           self.opt_g, self.scaler, self.device, self.dtype, self.asm.augment,
                                           self.asm.regularizers, config.capture, self.noise_gen)
        log.info("step: %s", self.adversarial.mode())
        self.ema = {
            k: AveragedModel(self.eager[k], multi_avg_fn=warmup_ema(config.ema_decay), use_buffers=True)
            for k in self.task.ema_nets
        } if config.ema else {}
        self.dataset = self.asm.dataset.load(config.dataset, data_options(config))
        self.per_epoch = (len(self.dataset) // self.world) // config.batch_size
        if self.per_epoch == 0:
            raise GanzooError(
                f"dataset '{config.dataset}' has {len(self.dataset)} item(s), fewer than one batch of "
                f"{config.batch_size} x {self.world} process(es); lower --batch-size or check --data-root / --data-opt"
            )
        if config.epochs is not None:
            config.steps = max(1, math.ceil(config.epochs * self.per_epoch / self.loss.n_critic))
        self.scheds = [torch.optim.lr_scheduler.LambdaLR(opt, self._lr_factor) for opt in (self.opt_d, self.opt_g)]
        self.step, self.batches = 0, 0
        self.bad_batch: int | None = None  # the first batch with NaN/Inf values, for the divergence message
        if self.resume_state is not None:
            self._restore(*self.resume_state)
        self.run_dir = Path(config.out or self._default_out())
        # The step of the checkpoint in run_dir (the one a divergence keeps), None while it has none of this run.
        resumed_here = self.source is not None and self.source.parent.resolve() == self.run_dir.resolve()
        self.saved_step = self.step if resumed_here else None

    def _default_out(self) -> str:
        c = self.config
        return f"runs/{c.arch}-{c.loss}-{c.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"

    def _adam(self, names: tuple[str, ...], lr: float) -> torch.optim.Optimizer:
        params = [p for name in names for p in self.eager[name].parameters()]
        # On CUDA the fused Adam is one kernel launch per step instead of several per tensor group; the
        # captured step compiles the (foreach) update instead, capturable: its step counts stay on the device.
        cuda, captured = self.device.type == "cuda", self.config.capture != "off"
        return torch.optim.Adam(params, lr=lr, betas=(self.config.beta1, self.config.beta2),
                                fused=cuda and not captured, capturable=cuda and captured)

    def check_capture(self) -> None:
        """Refuse ``--capture`` where a step cannot run without the host waiting on the device."""
        c = self.config
        if c.capture == "off":
            return
        if c.capture == "graphs" and self.device.type != "cuda":
            raise GanzooError(f"--capture graphs: CUDA graphs need a CUDA device, not {self.device}; "
                              "use --capture step")
        if c.precision == "fp16":
            raise GanzooError("--capture with --precision fp16: the GradScaler reads the device every step to "
                              "skip overflowing ones; use --precision bf16 or fp32")
        if self.world > 1:
            raise GanzooError("--capture under DDP (several processes) is not supported; use --compile")

    def _wrap_ddp(self, net: nn.Module) -> nn.Module:
        """SyncBatchNorm (batch statistics over the global batch), then DDP; the eager module keeps the weights."""
        convert_sync_batchnorm(net)
        if not any(p.requires_grad for p in net.parameters()):
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        # Buffers (BN statistics, spectral-norm vectors) stay equal on every rank by construction:
        # no need to re-send them before every forward (newer torch renamed the switch).
        no_resync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in _DDP_ARGS
                     else {"broadcast_buffers": False})
        return DistributedDataParallel(net, device_ids=ids, **no_resync)

    def _lr_factor(self, step: int) -> float:
        """Constant LR, or constant then linear decay to zero (the CycleGAN schedule)."""
        if self.config.lr_policy == "constant":
            return 1.0
        if self.config.lr_policy != "linear":
            raise GanzooError(f"--lr-policy {self.config.lr_policy}: choose constant or linear")
        start = int(self.config.decay_start * self.config.steps)
        return 1.0 - max(0, step - start) / max(1, self.config.steps - start)

    def context(self, generator: torch.Generator | None = None) -> StepContext:
        """The training context (noise sliced per rank); with ``generator``, a local one for fixed inputs."""
        if generator is not None:
            return StepContext(self.nets, self.eager, self.loss, self.device, generator, self.step)
        return StepContext(self.nets, self.eager, self.loss, self.device, self.gen, self.step, self.rank, self.world)

    def batch_stream(self) -> Iterator[dict[str, torch.Tensor]]:
        """Device batches from the run's current position on, for :meth:`train_step` (bench drives it too)."""
        sampler = EpochBatches(self.dataset, self.config.batch_size, self.config.seed, self.batches, self.rank,
                               self.world)
        # A private generator: the loader's worker seed must not draw from the global RNG (exact resume).
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.config.workers,
                            pin_memory=self.device.type == "cuda", persistent_workers=self.config.workers > 0,
                            generator=torch.Generator().manual_seed(self.config.seed), worker_init_fn=_quiet_worker)
        memory = torch.channels_last if self.config.channels_last else torch.contiguous_format
        for batch in loader:
            self.batches += 1
            if self.bad_batch is None and any(v.is_floating_point() and not bool(torch.isfinite(v).all())
                                              for v in batch.values()):  # on the host: no device sync
                self.bad_batch = self.batches
            yield {k: (v.to(self.device, non_blocking=True, memory_format=memory) if v.dim() == 4
                       else v.to(self.device, non_blocking=True)) for k, v in batch.items()}

    def train_step(self, batches: Iterator[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """One adversarial step (n_critic D updates, one G update), then the LR schedules and the EMA."""
        logs = self.adversarial(self.context(), batches)
        with warnings.catch_warnings():
            # fp16: GradScaler skips optimizer.step() when a step overflows (usually the first), and
            # PyTorch then warns about the call order. The schedule follows the step count on purpose.
            warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)` before", UserWarning)
            for sched in self.scheds:
                sched.step()
        for name, avg in self.ema.items():
            update_ema(avg, self.eager[name])
        self.step += 1
        return logs

    def sample_nets(self) -> dict[str, nn.Module]:
        """The networks to sample from: EMA copies where there are any."""
        return {**self.eager, **{k: v.module for k, v in self.ema.items()}}

    def fixed_inputs(self) -> dict[str, torch.Tensor]:
        """Held fixed for the whole run (and across resume): own generator, first dataset items."""
        n = min(self.config.n_samples, len(self.dataset))
        batch = torch.utils.data.default_collate([self.dataset[i] for i in range(n)])
        batch = {k: v.to(self.device) for k, v in batch.items()}
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        return self.task.fixed_inputs(self.context(gen), batch, self.config.n_samples)

    def save_samples(self, fixed: dict[str, torch.Tensor]) -> Path:
        nets = self.sample_nets()
        for net in nets.values():
            net.eval()
        images = self.task.samples(nets, fixed)
        for net in nets.values():
            net.train()
        path = self.run_dir / "samples" / f"step_{self.step:06d}.png"
        save_grid(images, path, nrow=self.task.sample_nrow(images.shape[0]))
        save_grid(images, self.run_dir / "samples.png", nrow=self.task.sample_nrow(images.shape[0]))
        if self.loggers is not None:
            self.loggers.image(self.step, "samples", path)
        write_page(self.run_dir, self.task)
        return path

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        for name, net in self.eager.items():
            tensors.update(module_tensors(name, net))
        for name, avg in self.ema.items():
            tensors.update(module_tensors(f"ema.{name}", avg))
        for name, module in self.d_step_state.items():
            tensors.update(module_tensors(name, module))
        optim_meta = {}
        for label, opt in (("opt_d", self.opt_d), ("opt_g", self.opt_g)):
            flat, rest = flatten_optimizer(label, opt.state_dict())
            tensors.update(flat)
            optim_meta[label] = rest
        tensors["rng.engine"] = self.gen.get_state()
        if self.noise_gen is not self.gen:
            tensors["rng.noise"] = self.noise_gen.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "config": json.loads(self.config.to_json()),
            "step": self.step,
            "batches": self.batches,
            "ganzoo_version": __version__,
            "arch": self.config.arch,
            "loss": self.config.loss,
            "task": self.config.task,
            "dataset": self.config.dataset,
            "plugins": provenance(plugin_uses(self.config)),
            "optimizers": optim_meta,
            "schedulers": [s.state_dict() for s in self.scheds],
            "scaler": self.scaler.state_dict(),
        }
        return tensors, meta

    def save(self) -> Path:
        tensors, meta = self.state_tensors()
        return save_checkpoint(self.run_dir / CHECKPOINT_NAME, tensors, meta)

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        source = str(self.source)
        for name, net in self.eager.items():
            load_module(name, net, tensors, source)
        for name, avg in self.ema.items():
            load_module(f"ema.{name}", avg, tensors, source)
        for name, module in self.d_step_state.items():
            load_module(name, module, tensors, source)
        part = "optimizer"
        try:  # read_run_checkpoint checked the types; what remains is whether the values fit this run
            for label, opt in (("opt_d", self.opt_d), ("opt_g", self.opt_g)):
                opt.load_state_dict(unflatten_optimizer(label, tensors, meta["optimizers"][label]))
                for group in opt.param_groups:
                    for param in group["params"]:
                        if any(v.dim() and v.shape != param.shape for v in opt.state[param].values()):
                            raise ValueError(f"a state tensor of {label} does not have its parameter's shape")
            part = "LR scheduler"
            for sched, state in zip(self.scheds, meta["schedulers"], strict=True):
                sched.load_state_dict(state)
            part = "GradScaler"
            if meta.get("scaler"):
                self.scaler.load_state_dict(meta["scaler"])
            part = "random-number"
            self.gen.set_state(tensors["rng.engine"])
            if self.noise_gen is not self.gen and "rng.noise" in tensors:  # else: a run that drew noise on the host
                self.noise_gen.set_state(tensors["rng.noise"])
            torch.set_rng_state(tensors["rng.torch"])
            if "rng.cuda" in tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise GanzooError(f"checkpoint '{self.source}': its {part} state does not fit this run ({exc}); the "
                              "file is damaged or was edited: use another checkpoint") from None
        self.step, self.batches = meta["step"], meta["batches"]

    def _diverged(self, what: str) -> GanzooError:
        """The one line that stops a run whose losses or weights are no longer finite."""
        c = self.config
        if self.bad_batch is not None:
            cause = (f"batch {self.bad_batch} of the data held NaN/Inf values: check the files under --data-root "
                     "(float TIFFs can hold NaN)")
        else:
            rates = f"--lr {c.lr:g}" + (f", --lr-d {c.lr_d:g}" if c.lr_d else "")
            cause = f"a learning rate too high for {c.arch} + {c.loss} ({rates}): start again with a lower one"
        kept = (f"the last good checkpoint (step {self.saved_step}) is kept: {self.run_dir / CHECKPOINT_NAME}"
                if self.saved_step is not None else "no checkpoint was written")
        return GanzooError(f"training diverged at step {self.step}: {what} not finite. Likely cause: {cause}; {kept}")

    def _checkpoint(self) -> None:
        """Save, unless the weights went NaN/Inf: then stop and keep the last good checkpoint."""
        nets = [*self.eager.values(), *self.ema.values()]
        if not all(bool(torch.isfinite(t).all()) for net in nets for t in net.state_dict().values()
                   if t.is_floating_point()):
            raise self._diverged("the weights are")
        if self.rank == 0:
            self.save()
            self.saved_step = self.step

    def fit(self) -> Path:
        """Train to ``config.steps``; returns the run directory.

        The run directory is locked for the whole run. Ctrl-C or SIGTERM saves a checkpoint first, then
        raises :class:`TrainingInterrupted`; losses that turn NaN/Inf (checked at log intervals, so no step
        waits on the device) or NaN/Inf weights at a checkpoint stop the run with a GanzooError and the last
        good checkpoint kept.
        """
        source = self.source.parent if self.source is not None else None
        first = None  # the curves' start; a bad --classifier or data path fails here, before the run folder is made
        if self.rank == 0 and self.config.eval_every and self.step == 0:
            first = evaluate_now(self.task, self.sample_nets(), self.device, self.config, self.step)
        lock = claim_run_dir(self.run_dir, self.overwrite, source) if self.rank == 0 else None
        try:  # the batches are closed on the way out, whatever it is: no DataLoader worker outlives fit
            with stop_signals() as stop, contextlib.closing(self.batch_stream()) as batches:
                return self._fit(stop, batches, first)
        finally:  # also on an interruption or divergence: the loggers flush what they hold
            if self.loggers is not None:
                self.loggers.close()
                self.loggers = None
            if lock is not None:
                lock.release()

    def _fit(self, stop: list[int], batches: Iterator[dict[str, torch.Tensor]], first: dict[str, Any] | None) -> Path:
        from tqdm.auto import tqdm

        cfg = self.config
        main = self.rank == 0
        if main:
            with writing(self.run_dir):
                self.run_dir.mkdir(parents=True, exist_ok=True)
            save_toml(cfg, self.run_dir / "config.toml")
            if self.source is not None:  # --resume A --out B: B's history starts as A's
                carry_history(self.source.parent, self.run_dir, self.step)
            self.loggers = RunLoggers(self.logger_classes, self.run_dir, cfg, self.step)
            if first is not None:
                self.loggers.log(first)
        fixed = self.fixed_inputs()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not (main and cfg.progress), unit="step",
                   desc=f"{cfg.arch}+{cfg.loss} on {cfg.dataset}")
        images_per_step = cfg.batch_size * self.loss.n_critic * self.world
        tick, tick_step = time.perf_counter(), self.step
        signum = 0
        try:  # the bar closes on an error too, so its message starts a line of its own
            while self.step < cfg.steps:
                if self.world == 1 or self.step % cfg.log_every == 0:  # ranks agree at log intervals: no extra sync
                    signum = self.dist.stop_signal(stop, self.device)  # every rank stops after the same step
                if signum:
                    break
                logs = self.train_step(batches)
                bar.update(1)
                last = self.step == cfg.steps
                logging_now = self.step % cfg.log_every == 0 or last
                broken: list[str] = []
                if logging_now:
                    logs = self.dist.mean(logs)  # every rank takes part; rank 0 writes
                    values = {k: v.item() for k, v in logs.items()}  # the host reads the device here only
                    broken = [k for k, v in values.items() if not math.isfinite(v)]
                if main and logging_now:
                    now = time.perf_counter()
                    record = {**finite_record(self.step, values, 5), "lr": self.scheds[1].get_last_lr()[0],
                              "img_per_s": round(images_per_step * (self.step - tick_step) / max(now - tick, 1e-9), 1)}
                    tick, tick_step = now, self.step
                    self.loggers.log(record)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in record.items()
                                     if k not in ("step", "lr", "not_finite") and v is not None})
                if broken:
                    raise self._diverged(", ".join(broken) + (" is" if len(broken) == 1 else " are"))
                if main and cfg.eval_every and (self.step % cfg.eval_every == 0 or last):
                    self.loggers.log(evaluate_now(self.task, self.sample_nets(), self.device, cfg, self.step))
                    tick = time.perf_counter()  # img/s measures training, not the evaluation
                if main and (self.step % cfg.sample_every == 0 or last):
                    self.save_samples(fixed)
                if self.step % cfg.ckpt_every == 0 or last:
                    self._checkpoint()
        finally:
            bar.close()
        if signum:
            if self.saved_step != self.step:
                self._checkpoint()
            self._leave()
            raise TrainingInterrupted(
                f"{signal.Signals(signum).name}: stopped at step {self.step}; checkpoint saved to "
                f"{self.run_dir / CHECKPOINT_NAME}; {resume_hint(self.run_dir, self.world)}", signum)
        self._leave()
        return self.run_dir

    def _leave(self) -> None:
        """Leave the process group (no-op in one process) once every rank is done."""
        if self.world > 1:
            # DDP's reducers hold the process group: drop them so leaving it stops gloo's threads
            # now, not in the interpreter's teardown (where a live thread aborts the process).
            self.ddp = self.nets = self.adversarial.ddp = self.adversarial.nets = self.eager
        self.dist.leave()


def load_for_inference(path: str | Path, device: str = "auto", use_ema: bool = True) -> tuple[Assembly, dict[str, nn.Module]]:
    """Rebuild a run's task and networks from a checkpoint alone (for sample/inpaint/translate/eval)."""
    ckpt = read_run(path)
    tensors = ckpt.tensors()
    torch_device = resolve_device(device)
    asm = assemble(ckpt.config, new=False)
    nets = {}
    for name, net in asm.nets.items():
        prefix = f"ema.{name}" if use_ema and any(k.startswith(f"ema.{name}.") for k in tensors) else name
        if prefix != name:
            state = {k[len(prefix) + 1 + len("module."):]: v for k, v in tensors.items()
                     if k.startswith(prefix + ".module.")}
            load_module(name, net, {f"{name}.{k}": v for k, v in state.items()}, str(path))
        else:
            load_module(name, net, tensors, str(path))
        nets[name] = net.to(torch_device).eval()
    return asm, nets
