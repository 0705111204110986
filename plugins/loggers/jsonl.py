"""``jsonl``: ``log.jsonl`` in the run directory, one JSON record per line (always on).

Each line is ``{"step": N, "<figure>": value, ...}``: the training figures
every ``--log-every`` steps, and the ``eval/<figure>`` records of
``--eval-every``. The run page draws its curves from this file, and ``jq`` or
pandas (``pd.read_json(path, lines=True)``) read it as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganzoo.api import Logger
from ganzoo.hookspecs import Register, hookimpl

LOG_NAME = "log.jsonl"


class JsonlLogger(Logger):
    """Appends one line per record; on resume it first drops the lines written after the checkpoint."""

    description = "log.jsonl in the run directory, one JSON record per line (always on; the run page reads it)"

    def __init__(self, run_dir: Path, config: Any, step: int) -> None:
        super().__init__(run_dir, config, step)
        self.path = self.run_dir / LOG_NAME
        if self.path.exists():  # a new run (step 0) starts the log afresh; a resumed one keeps it to the checkpoint
            lines = self.path.read_text().splitlines() if step else []
            kept = [line for line in lines if (at := _step(line)) is not None and at <= step]
            self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps({"step": step, **scalars}) + "\n")


def _step(line: str) -> int | None:
    """The step of a log line; None for a line that is not a record (a partial last line after a crash)."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


@hookimpl
def register_loggers(register: Register) -> None:
    register("jsonl", JsonlLogger)
