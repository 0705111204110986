"""TASKS_PENDING: plugins/tasks/unconditional.py imports evaluate_generator from here until it moves to
``ganzoo.evaluate_generator`` (ganzoo/metrics.py, where the pipeline now lives); then this module goes."""

from ganzoo.metrics import evaluate_generator  # noqa: F401
