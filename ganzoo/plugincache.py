"""What the installed plugins add to the command line, remembered so ``--help`` and completion import none of them.

Listing the commands plugins add (``features``, ``probe``, ...) or the names
they register means importing every plugin, and with them torch: seconds. So
each time the CLI loads the plugins it writes what they added (each command's
help, each kind's names) to a small JSON file, under a stamp of everything that
could change it:

* the interpreter and ``sys.path``, with each path directory's modification
  time (installing, upgrading or removing any distribution there changes it);
* ``GANZOO_LOAD_PLUGINS`` and the ``ganzoo`` entry points (name and module);
* the modification time of every ``.py`` file of ganzoo and of each entry
  point's top-level package (an editable plugin edited in place).

``ganzoo --help``, ``ganzoo <TAB>`` and the completion of registered names
(``--arch <TAB>``) read the file only while the stamp matches; otherwise they
load the plugins, which rewrites it. Nothing is written after a load that
reported a problem (a plugin skipped, an entry refused), so such a load is
repeated, with its messages, every time; ``GANZOO_STRICT_PLUGINS`` never reads
it. The file lives in ``$XDG_CACHE_HOME/ganzoo`` (``~/.cache/ganzoo``), one per
interpreter; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .errors import GanzooError
from .files import write_atomic

FORMAT = 1  # bump when the file's layout changes


@dataclass(frozen=True)
class Cached:
    """What the plugins added when the stamp was taken: ``commands`` (name -> click's help fields) and
    ``names`` (kind -> registered names, in ``ganzoo list`` order)."""

    commands: dict[str, dict[str, Any]]
    names: dict[str, list[str]]


def cache_file() -> Path:
    """This interpreter's cache file (``RuntimeError`` where there is no home folder and no XDG_CACHE_HOME)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    interpreter = hashlib.sha256(f"{sys.prefix}\0{sys.executable}".encode()).hexdigest()[:16]
    return root / "ganzoo" / f"plugins-{interpreter}.json"


def _mtime(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _sources(package: str) -> list[tuple[str, int | None]]:
    """Each ``.py`` file of a top-level module or regular package, with its modification time (found without
    importing it; a namespace package gives none: its installs show in the path directories' times)."""
    try:
        spec = importlib.util.find_spec(package)
    except (Exception, SystemExit):  # a broken plugin fails its load, which then writes no cache
        return [(package, None)]
    if spec is None or not spec.origin or not spec.has_location:
        return [(package, None)]
    if not spec.submodule_search_locations:
        return [(spec.origin, _mtime(spec.origin))]
    files = sorted(p for location in spec.submodule_search_locations for p in Path(location).rglob("*.py"))
    return [(str(p), _mtime(p)) for p in files]


def stamp() -> str:
    """A digest of everything the plugins' commands and names depend on (see the module docstring)."""
    eps = sorted((ep.name, ep.value) for ep in entry_points(group="ganzoo"))  # no ep.dist: it parses METADATA
    packages = sorted({"ganzoo", *(value.split(":")[0].split(".")[0] for _, value in eps)})
    state = {
        "format": FORMAT,
        "python": [sys.executable, sys.version],
        "path": [(p, _mtime(p or ".")) for p in sys.path],
        "load": os.environ.get("GANZOO_LOAD_PLUGINS"),
        "entry_points": eps,
        "sources": [source for package in packages for source in _sources(package)],
    }
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


@lru_cache(maxsize=1)
def load() -> Cached | None:
    """The cached commands and names if the file's stamp is current, else None (also under
    ``GANZOO_STRICT_PLUGINS``, whose errors only a real load raises)."""
    if os.environ.get("GANZOO_STRICT_PLUGINS", "") not in ("", "0"):
        return None
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
        if data["stamp"] != stamp():
            return None
        return Cached(data["commands"], data["names"])
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):  # missing, unreadable, foreign: load instead
        return None


def save(taken: str, commands: dict[str, Any], names: dict[str, list[str]]) -> None:
    """Remember the plugins' click ``commands`` and registered ``names`` under the stamp ``taken`` before
    they loaded; a cache that cannot be written is no error (the next command loads the plugins again)."""
    fields = {name: {"help": cmd.help, "short_help": cmd.short_help, "hidden": cmd.hidden,
                     "deprecated": cmd.deprecated} for name, cmd in commands.items()}
    text = json.dumps({"stamp": taken, "commands": fields, "names": names}, indent=1, sort_keys=True)
    try:
        path = cache_file()
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)
    except (OSError, RuntimeError, ValueError, GanzooError):  # no home, a read-only one, a full disk: no cache
        pass
