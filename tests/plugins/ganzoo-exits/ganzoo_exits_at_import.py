"""Calls sys.exit at import, as a script-style module might."""

import sys

sys.exit(3)
