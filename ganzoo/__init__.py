"""ganzoo: a plugin-based GAN zoo."""

from importlib.metadata import PackageNotFoundError, version

from .api import (
    Architecture, DataOptions, DatasetSpec, GanzooError, GanzooWarning, Loss, Metric, NetConfig, StepContext, Task,
)
from .hookspecs import hookimpl
from .registry import get
from .registry import list_entries as list  # noqa: A001 - ganzoo.list(kind, pattern) is the public API

try:
    __version__ = version("ganzoo")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Architecture", "DataOptions", "DatasetSpec", "GanzooError", "GanzooWarning", "Loss", "Metric", "NetConfig",
    "StepContext", "Task", "get", "hookimpl", "list", "__version__",
]
