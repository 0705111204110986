"""A plugin that fails at import, as one with a missing dependency would."""

import ganzoo_dependency_that_is_not_installed  # noqa: F401
