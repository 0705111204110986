"""A run directory belongs to one training at a time and never mixes two runs.

:func:`claim_run_dir` takes an exclusive lock on the directory for the whole
training (``fcntl.lockf`` on a lock file: the OS releases it when the process
ends, even by ``kill -9``) and only then checks and, on ``--overwrite``, clears
what is there, so two trainings started together cannot both pass the check.
"""

from __future__ import annotations

import errno
import os
import shutil
import warnings
from pathlib import Path

from ..api import GanzooError, GanzooWarning
from ..files import writing
from .checkpoint import CHECKPOINT_NAME, TMP_SUFFIX

try:
    import fcntl
except ImportError:  # Windows: no OS lock; the in-process check below still holds
    fcntl = None  # type: ignore[assignment]

RUN_FILES = (CHECKPOINT_NAME, "log.jsonl", "log.csv", "tensorboard", "samples.png", "index.html", "config.toml")
LOCK_NAME = ".ganzoo.lock"
_HELD: set[Path] = set()  # run directories this process holds (POSIX locks do not conflict within a process)


def holds_run(out: Path) -> bool:
    return (out / CHECKPOINT_NAME).exists()


def _same(a: Path, b: Path | None) -> bool:
    return b is not None and a.resolve() == b.resolve()


def check_run_dir(out: Path, overwrite: bool, origin: str = "", source: Path | None = None) -> None:
    """Refuse a run directory that holds a run other than ``source`` (the run being resumed) unless ``overwrite``.

    ``origin`` says where ``out`` came from, for the message. Nothing is deleted here: see :func:`claim_run_dir`.
    """
    if overwrite or not holds_run(out) or _same(out, source):
        return
    if source is not None:
        raise GanzooError(
            f"--out {out}{origin} already holds another run (checkpoint.safetensors); resuming {source} into it "
            f"would overwrite it: drop --out to continue in {source}, pick an empty --out, or pass --overwrite"
        )
    raise GanzooError(
        f"--out {out}{origin} already holds a run (checkpoint.safetensors): continue it with "
        f"`ganzoo train --resume {out} --steps N`, pick another --out, or pass --overwrite to replace it"
    )


def _in_use(out: Path, path: Path, fd: int) -> GanzooError:
    owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
    return GanzooError(f"--out {out} is in use by another training (pid {owner}, lock {path}); wait for it to "
                       "finish or pick another --out")


def check_not_in_use(out: Path) -> None:
    """Refuse at once a run directory another training holds, before a start line or step-0 evaluation.

    A probe only: :class:`RunLock` takes the lock when training starts. A directory this process holds is
    not probed, since closing a second descriptor of the lock file would drop this process's POSIX lock.
    """
    path = out / LOCK_NAME
    # rank 0 only: another rank's probe, however brief, could make rank 0's claim fail
    if out.resolve() in _HELD or fcntl is None or not path.is_file() or os.environ.get("RANK", "0") != "0":
        return
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # unreadable or gone: RunLock says what is wrong when it claims the folder
        return
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):  # held by another process; anything else is for RunLock
            raise _in_use(out, path, fd) from None
    finally:
        os.close(fd)


class RunLock:
    """The exclusive lock on a run directory, held until :meth:`release` or the process's end."""

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        path = out / LOCK_NAME
        if self.out in _HELD:
            raise GanzooError(f"--out {out} is in use by another training in this process; pick another --out")
        with writing(path):
            out.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                error = _in_use(out, path, self.fd)
                os.close(self.fd)
                raise error from None
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        _HELD.add(self.out)

    def release(self) -> None:
        if self.out in _HELD:
            _HELD.discard(self.out)
            os.close(self.fd)  # closing the file releases the lock


def claim_run_dir(out: Path, overwrite: bool, source: Path | None = None) -> RunLock:
    """Lock ``out``, then check it (:func:`check_run_dir`) and, on ``overwrite``, clear the old run: only now,
    with everything validated and the new run about to write. A checkpoint save a crash left half-done is removed."""
    lock = RunLock(out)
    try:
        check_run_dir(out, overwrite, source=source)
        if overwrite and not _same(out, source):
            for path in [*(out / name for name in RUN_FILES), *(out / "samples").glob("step_*.png")]:
                with writing(path):
                    if path.is_dir():  # a logger's folder (tensorboard/)
                        shutil.rmtree(path)
                    else:
                        path.unlink(missing_ok=True)
        tmp = out / (CHECKPOINT_NAME + TMP_SUFFIX)
        if tmp.exists():
            with writing(tmp):
                tmp.unlink()
            kept = f"{out / CHECKPOINT_NAME} is the run's checkpoint" if holds_run(out) else "the run had none yet"
            warnings.warn(GanzooWarning(f"removed {tmp}, a checkpoint save cut short by a crash; {kept}"),
                          stacklevel=2)
    except BaseException:
        lock.release()
        raise
    return lock


def carry_history(source: Path, out: Path, step: int) -> None:
    """A run resumed into another folder starts from the source's log and sample grids up to ``step``, so its
    curves and run page go on from there (the source is left as it is; csv and TensorBoard logs start afresh).
    A file that cannot be copied is left out with a warning: the history is a convenience, not the run."""
    if _same(out, source):
        return
    grids = [grid for grid in sorted((source / "samples").glob("step_*.png"))
             if grid.stem.removeprefix("step_").isdigit() and int(grid.stem.removeprefix("step_")) <= step]
    pairs = [(source / "log.jsonl", out / "log.jsonl")] + [(grid, out / "samples" / grid.name) for grid in grids]
    for origin, target in pairs:  # the jsonl logger then drops any record after ``step``
        if not origin.is_file():
            continue
        try:
            data = origin.read_bytes()
        except OSError as exc:
            warnings.warn(f"--resume: {origin} is left out of {out}'s history ({exc.strerror})", GanzooWarning,
                          stacklevel=2)
            continue
        with writing(target):
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data)
