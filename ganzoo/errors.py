"""ganzoo's user-facing error and warning types, in a module that imports nothing.

Their public home is :mod:`ganzoo.api` (and ``ganzoo.GanzooError``), which
re-exports them; they live here so the command line can print ``--help``,
and report a bad option, without importing torch.
"""


class GanzooError(Exception):
    """A user-facing error: the message names the culprit and suggests a fix."""


class GanzooWarning(UserWarning):
    """A user-facing warning (data skipped, a setting that may not suit); the CLI prints it as one line."""


class IncompatibleError(GanzooError):
    """An architecture, loss, task or dataset combination that cannot work."""
