"""A third-party ganzoo logger: a run's figures, sample grids and settings in Weights & Biases."""

import json
import os

import ganzoo


class WandbLogger(ganzoo.Logger):
    """Each record as wandb.log(..., step=step), each grid as a wandb.Image, the settings as the W&B config."""

    description = "Weights & Biases: figures, sample grids and settings (pip install wandb)"
    requires = {"wandb": "wandb"}  # ganzoo refuses --logger wandb in one line while it is missing

    def __init__(self, run_dir, config, step):
        super().__init__(run_dir, config, step)
        import wandb

        self.wandb = wandb
        # One W&B run per training attempt; a resumed one is named after the step it starts from.
        name = self.run_dir.name if step == 0 else f"{self.run_dir.name}@{step}"
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "ganzoo"), name=name, dir=str(self.run_dir),
                              config=json.loads(config.to_json()))

    def log(self, step, scalars):
        numbers = {k: v for k, v in scalars.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        self.run.log(numbers, step=step)

    def image(self, step, name, grid, path):
        self.run.log({name: self.wandb.Image(str(path))}, step=step)

    def close(self):
        self.run.finish()


@ganzoo.hookimpl
def register_loggers(register):
    register("wandb", WandbLogger)
