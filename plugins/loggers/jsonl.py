"""``jsonl``: ``log.jsonl`` in the run directory, one JSON record per line (always on).

Each line is ``{"step": N, "<figure>": value, ...}``: the training figures
every ``--log-every`` steps, and the ``eval/<figure>`` records of
``--eval-every``. The run page draws its curves from this file, and ``jq`` or
pandas (``pd.read_json(path, lines=True)``) read it as it is: standard JSON,
a non-finite value is ``null`` and its name is in the record's ``not_finite``
list. Appends are one write each and the resume rewrite is atomic, so a full
disk or a crash leaves at most a partial last line, which the next resume
drops with a warning.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ganzoo.api import GanzooError, GanzooWarning, Logger
from ganzoo.files import append_line, write_atomic
from ganzoo.hookspecs import Register, hookimpl

LOG_NAME = "log.jsonl"


class JsonlLogger(Logger):
    """Appends one line per record; on resume it first drops the lines written after the checkpoint."""

    description = "log.jsonl in the run directory, one JSON record per line (always on; the run page reads it)"

    def __init__(self, run_dir: Path, config: Any, step: int) -> None:
        super().__init__(run_dir, config, step)
        self.path = self.run_dir / LOG_NAME
        if self.path.exists():  # a new run (step 0) starts the log afresh; a resumed one keeps it to the checkpoint
            kept = [line for line, record in read_log(self.path) if record["step"] <= step] if step else []
            text = "".join(line + "\n" for line in kept)
            if text != self.path.read_text(encoding="utf-8", errors="replace"):
                write_atomic(self.path, text)  # a full disk leaves the old log whole

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        append_line(self.path, json.dumps({"step": step, **scalars}, allow_nan=False))


def read_log(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The log's lines with their records. A partial last line (a write cut short by a full disk or a crash)
    is dropped with a warning; any other line that is not a record is an error naming it."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("no step")
        except ValueError:
            if number == len(lines):
                warnings.warn(GanzooWarning(f"{path}: dropped its last line, cut short by a crash or a full disk "
                                            f"({line[:40]!r})"), stacklevel=2)
                break
            raise GanzooError(f"{path}, line {number}, is not a log record ({line[:40]!r}); delete that line "
                              "or the log") from None
        records.append((line, record))
    return records


@hookimpl
def register_loggers(register: Register) -> None:
    register("jsonl", JsonlLogger)
