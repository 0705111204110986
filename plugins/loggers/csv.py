"""``csv``: ``log.csv`` in the run directory, one row per record and one column per figure.

Rows are the training records (every ``--log-every`` steps) and the
``eval/<figure>`` records of ``--eval-every``, in order; a cell is empty where
its record has no such figure (or it was not finite). The columns are every
figure seen so far: when a record brings a new one, the file is rewritten with
the wider header, so it always opens in a spreadsheet as one table.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from ganzoo.api import Logger
from ganzoo.hookspecs import Register, hookimpl

CSV_NAME = "log.csv"


class CsvLogger(Logger):
    """Keeps the rows in memory (a few per hundred steps) so it can widen the header; writes each through."""

    description = "log.csv in the run directory: one row per logged record, one column per figure"

    def __init__(self, run_dir: Path, config: Any, step: int) -> None:
        super().__init__(run_dir, config, step)
        self.path = self.run_dir / CSV_NAME
        self.columns: list[str] = ["step"]
        self.rows: list[dict[str, Any]] = []
        if self.path.exists() and step:  # resume: keep the rows up to the checkpoint
            with self.path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                self.columns = list(reader.fieldnames or ["step"])
                self.rows = [row for row in reader if row.get("step", "").isdigit() and int(row["step"]) <= step]
        self._rewrite()

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        row = {"step": step, **{k: v for k, v in scalars.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}}
        self.rows.append(row)
        new = [key for key in row if key not in self.columns]
        if new:
            self.columns += new
            self._rewrite()
            return
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, self.columns).writerow(row)

    def _rewrite(self) -> None:
        with self.path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)


@hookimpl
def register_loggers(register: Register) -> None:
    register("csv", CsvLogger)
