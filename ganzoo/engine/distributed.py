"""DDP plumbing for ``torchrun``: the process group, a SyncBatchNorm that runs anywhere, log averaging.

``torchrun --nproc-per-node N -m ganzoo train ...`` (or ``ganzoo train --nproc N``)
starts N copies of the trainer; each reads RANK / WORLD_SIZE / LOCAL_RANK from
the environment, joins the group (gloo on CPU, NCCL on CUDA), takes its
DistributedSampler shard and its slice of the noise, and DDP averages the
gradients, so N processes with batch B train as one with batch N*B.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..api import GanzooError
from .config import RunConfig, save_toml


@dataclass(frozen=True)
class World:
    """This process's place in the torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "World":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def join(self, device: torch.device) -> torch.device:
        """Join the process group (once); returns the device this rank trains on."""
        if self.size == 1:
            return device
        if device.type == "cuda":
            if torch.cuda.device_count() <= self.local_rank:
                raise GanzooError(
                    f"torchrun started {self.size} processes but this machine has {torch.cuda.device_count()} "
                    "CUDA device(s); lower --nproc or train with --device cpu"
                )
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        elif device.type != "cpu":
            raise GanzooError(f"--device {device}: multi-process training runs on cuda (NCCL) or cpu (gloo)")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def mean(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """Average logged figures over the ranks, so the log reads as one run on the global batch."""
        if self.size == 1 or not values:
            return values
        stacked = torch.stack([v.detach().float() for v in values.values()])
        dist.all_reduce(stacked)
        return dict(zip(values, stacked / self.size))

    def stop_signal(self, received: list[int], device: torch.device) -> int:
        """The stop signal (SIGINT, SIGTERM) any rank has received, 0 if none: the same on every rank, so all
        of them stop after the same step and the checkpoint they save is one state."""
        mine = received[0] if received else 0
        if self.size == 1:
            return mine
        flag = torch.tensor([mine], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item())

    def leave(self) -> None:
        """Wait for every rank, then destroy the group while the interpreter is still whole."""
        if self.size > 1 and dist.is_initialized():
            dist.barrier()
            gc.collect()  # objects in reference cycles may still hold the group
            dist.destroy_process_group()


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; its gradient is the sum of the ranks' gradients (so double backward works too)."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        return tensor

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return _AllReduceSum.apply(grad)


@torch.compiler.disable
def _global_moments(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-channel mean and biased variance over the global batch, and the global count."""
    dims = [0, *range(2, x.dim())]
    count = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype, device=x.device)
    totals = _AllReduceSum.apply(torch.cat([x.sum(dims), x.square().sum(dims), count]))
    channels = x.shape[1]
    n = totals[-1]
    mean = totals[:channels] / n
    var = (totals[channels : 2 * channels] / n - mean.square()).clamp_min(0)
    return mean, var, n


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over the global batch of all ranks, in plain differentiable ops around one all-reduce.

    ``torch.nn.SyncBatchNorm`` runs only on GPUs (we test DDP with gloo on the
    CPU) and its backward cannot be differentiated again (WGAN-GP through a BN
    critic). Outside multi-process training, or in eval mode, this is plain
    BatchNorm; parameters and buffers keep BatchNorm's names, so checkpoints
    load either way.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        x = input.float()
        mean, var, n = _global_moments(x)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_((var * n / (n - 1).clamp_min(1)).to(self.running_var.dtype), momentum)
        shape = (1, -1, *([1] * (x.dim() - 2)))
        y = (x - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(input.dtype)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm in ``module`` for :class:`SyncBatchNorm`, sharing its parameters and buffers."""
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm) and not isinstance(child, SyncBatchNorm):
            sync = SyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                 child.track_running_stats)
            for key, value in [*child._parameters.items(), *child._buffers.items()]:
                setattr(sync, key, value)
            sync.train(child.training)
            setattr(module, name, sync)
        else:
            convert_sync_batchnorm(child)
    return module


def launch(nproc: int, config: RunConfig, resume: str | None = None, overwrite: bool = False) -> int:
    """``ganzoo train --nproc N``: run this training under torchrun with N processes on this machine. Returns
    the signal that stopped it after the workers saved a checkpoint (Ctrl-C, SIGTERM), else 0."""
    if World.from_env().size > 1:
        raise GanzooError("--nproc given inside a torchrun job; drop --nproc (torchrun already started the processes)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        save_toml(config, path)
        command = [sys.executable, "-m", "ganzoo.engine.distributed", "--standalone", f"--nproc-per-node={nproc}",
                   *_grace(), "-m", "ganzoo", "train", "--config", str(path)]
        if resume is not None:
            command += ["--resume", str(resume)]
        if overwrite:
            command.append("--overwrite")
        code, signum = _run_forwarding_stops(command)
    if signum and code == 128 + signum:
        return signum  # the workers saved a checkpoint and rank 0 said where: no error
    if code:
        raise GanzooError(f"training with --nproc {nproc} failed (torchrun exit status {code}); see its output above")
    return 0


STOP_GRACE_S = 3600  # how long torchrun lets the workers finish their step, evaluation and save before SIGKILL


def _grace() -> list[str]:
    """torchrun's --shutdown-timeout, where this torch has it (its default, 30 s, can cut a save short)."""
    from torch.distributed.run import get_args_parser

    known = {flag for action in get_args_parser()._actions for flag in action.option_strings}
    return [f"--shutdown-timeout={STOP_GRACE_S}"] if "--shutdown-timeout" in known else []


def _run_forwarding_stops(command: list[str]) -> tuple[int, int]:
    """Run torchrun in a session of its own and hand it the first SIGINT, SIGTERM or SIGHUP (as SIGTERM) this
    process gets: torchrun passes it to the workers, which save and stop together. In the terminal's process
    group, a Ctrl-C would reach torchrun twice, and the launcher's death would leave the workers running.
    Returns (exit status, signal); the child is never left behind by an error here."""
    received: list[int] = []
    sent: list[bool] = []
    process: subprocess.Popen | None = None

    def pass_on() -> None:
        if received and process is not None and not sent:
            sent.append(True)
            process.send_signal(received[0])

    def forward(signum: int, frame: object) -> None:
        if not received:
            received.append(signal.SIGTERM if signum == signal.SIGHUP else signum)  # what torchrun is sent
            pass_on()

    stops = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    previous = {sig: signal.signal(sig, forward) for sig in stops}  # before the child starts: no signal is lost
    try:
        process = subprocess.Popen(command, start_new_session=True)
        pass_on()  # one that came while it started
        code = process.wait()
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code, received[0] if received else 0


def torchrun(argv: list[str]) -> None:
    """torchrun, ending in exit status 128 + N when stopped by signal N, without its traceback (the workers
    already said where their checkpoint is)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.run import main

    try:
        main(argv)
    except SignalException as exc:
        sys.exit(128 + int(exc.sigval))


if __name__ == "__main__":
    torchrun(sys.argv[1:])
