"""Writing files so that a failure never leaves half a file and always names the path.

Every file ganzoo writes (run files, checkpoints, grids, result JSON) goes
through these helpers: a full or read-only disk is one :class:`GanzooError`
line naming the path and the way out, never a traceback, and a rewrite either
lands whole or leaves the old file as it was (temporary file + rename).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import GanzooError

__all__ = ["append_line", "check_not_inputs", "check_writable", "file_mode", "write_atomic", "write_error", "writing"]

_FIXES = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere",
    errno.EFBIG: "the file size limit (ulimit -f) was reached: raise it or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "permission denied: write elsewhere or fix the folder's permissions",
    errno.EPERM: "permission denied: write elsewhere or fix the folder's permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder: pick another path",
    errno.EEXIST: "a part of the path is a file, not a folder: pick another path",
    errno.EISDIR: "it is a folder: name a file",
}


def write_error(path: str | Path, exc: OSError) -> GanzooError:
    """The one-line error for an OSError while writing ``path``: what happened and what to do."""
    fix = _FIXES.get(exc.errno or 0, "check the path and the disk")
    reason = exc.strerror or str(exc)
    return GanzooError(f"cannot write '{path}' ({reason}); {fix}")


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn an OSError raised inside the block into :func:`write_error` for ``path``."""
    try:
        yield
    except OSError as exc:
        raise write_error(path, exc) from None


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask (0644 under the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` with ``data`` in one step: readers (and a crash) see the old file or the new, never half.

    The parent folder is created; the file gets the usual mode (0644), not a temporary file's 0600.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data.encode() if isinstance(data, str) else data)
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def append_line(path: str | Path, line: str) -> None:
    """Append one line with one write call; a failure is one line naming ``path``.

    A write that fails part-way (a full disk) may leave a partial last line: readers of
    such files (the run log) drop it with a warning.
    """
    with writing(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def check_writable(path: str | Path, flag: str) -> Path:
    """Refuse, before any long work, a destination file that could not be written (``flag`` names the option)."""
    if str(path) == "-":
        raise GanzooError(f"{flag} -: name a file; '-' (stdout) is not supported, the command prints its own "
                          "report there")
    path = Path(path)
    if path.is_dir():
        raise GanzooError(f"{flag} {path}: it is a folder; name a file")
    from .engine.rundir import RUN_FILES, holds_run  # here, not at the top: the engine imports this module

    if (path.name in RUN_FILES and holds_run(path.parent)) or (path.parent.name == "samples" and
                                                              holds_run(path.parent.parent)):
        raise GanzooError(f"{flag} {path}: that is a run's own {path.name}; write elsewhere")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    except OSError as exc:
        raise GanzooError(f"{flag}: {write_error(path, exc)}") from None
    return path


def check_not_inputs(inputs: list[Path], outputs: list[Path], flag: str) -> None:
    """Refuse, before any work, outputs among which is one of the input files: the command would replace the
    user's originals with its results."""
    originals = {path.resolve() for path in inputs}
    for target in outputs:
        if target.resolve() in originals:
            raise GanzooError(f"{flag} would overwrite the input {target} with its result; write to another folder")
