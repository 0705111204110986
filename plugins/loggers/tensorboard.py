"""``tensorboard``: TensorBoard event files in ``<run>/tensorboard`` (``pip install 'ganzoo[tensorboard]'``).

Written with TensorBoard's own writer (``torch.utils.tensorboard.SummaryWriter``):
every logged figure as a scalar (``eval/<figure>`` for ``--eval-every``), each
sample grid as the image ``samples``, and the run's settings as the text
``config``. ``tensorboard --logdir runs`` then shows every run side by side.
On ``--resume`` the writer purges what an earlier attempt logged after the
checkpoint, so the curves read as one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.api import Logger
from ganzoo.hookspecs import Register, hookimpl

EVENTS_DIR = "tensorboard"


class TensorBoardLogger(Logger):
    """Scalars, sample grids and the config, flushed at every call."""

    description = "TensorBoard event files in <run>/tensorboard: scalars, sample grids, the config (extra: tensorboard)"
    requires = {"tensorboard": "ganzoo[tensorboard]"}

    def __init__(self, run_dir: Path, config: Any, step: int) -> None:
        super().__init__(run_dir, config, step)
        from torch.utils.tensorboard import SummaryWriter

        # Events of an earlier attempt from purge_step on are dropped by TensorBoard's reader.
        self.writer = SummaryWriter(str(self.run_dir / EVENTS_DIR), purge_step=step + 1 if step else 0)
        settings = json.dumps(json.loads(config.to_json()), indent=1)
        self.writer.add_text("config", "```\n" + settings + "\n```", step)
        self.writer.flush()

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        for name, value in scalars.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def image(self, step: int, name: str, grid: np.ndarray, path: Path) -> None:
        self.writer.add_image(name, grid, step, dataformats="HWC" if grid.ndim == 3 else "HW")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


@hookimpl
def register_loggers(register: Register) -> None:
    register("tensorboard", TensorBoardLogger)
