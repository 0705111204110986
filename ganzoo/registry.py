"""Discover plugins through the ``ganzoo`` entry-point group and index what they register.

Built-in plugins (distribution ``ganzoo``) are found exactly like third-party
ones. A plugin that fails to import is reported in one line and skipped
(``GANZOO_STRICT_PLUGINS=1`` re-raises); ``GANZOO_LOAD_PLUGINS=a,b`` loads only
the named third-party plugins or distributions, and an empty value loads none.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .api import GanzooError

BUILTIN_DIST = "ganzoo"
KINDS = {
    "archs": "register_architectures",
    "losses": "register_losses",
    "tasks": "register_tasks",
    "datasets": "register_datasets",
    "metrics": "register_metrics",
    "masks": "register_masks",
    "features": "register_features",
}
SINGULAR = {"archs": "architecture", "losses": "loss", "tasks": "task", "datasets": "dataset", "metrics": "metric",
            "masks": "mask", "features": "feature extractor"}
ALIASES = {"architectures": "archs", "arch": "archs", "loss": "losses", "task": "tasks", "dataset": "datasets",
           "metric": "metrics", "mask": "masks", "feature": "features"}


@dataclass(frozen=True)
class Entry:
    """One registered object and who provided it."""

    kind: str
    name: str
    obj: Any
    plugin: str
    distribution: str

    @property
    def qualified(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def description(self) -> str:
        text = getattr(self.obj, "description", None) or (getattr(self.obj, "__doc__", None) or "")
        return text.strip().splitlines()[0] if text.strip() else ""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    module: str
    hooks: tuple[str, ...]
    builtin: bool
    status: str = "loaded"
    error: str | None = None


def natural_key(text: str) -> list:
    """Sort 'resnet9' after 'resnet6' and 'dcgan-64' after 'dcgan-32' (timm style)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def canonical_kind(kind: str) -> str:
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise GanzooError(f"unknown kind '{kind}': choose one of {', '.join(KINDS)}")
    return kind


class Registry:
    """All plugins and their entries; build one with :func:`get_registry`."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("ganzoo")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.entries: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}
        self._load()

    def _load(self) -> None:
        strict = os.environ.get("GANZOO_STRICT_PLUGINS", "") not in ("", "0")
        selected = os.environ.get("GANZOO_LOAD_PLUGINS")
        wanted = None if selected is None else {s.strip() for s in selected.split(",") if s.strip()}
        eps = sorted(entry_points(group="ganzoo"), key=lambda ep: (ep.dist.name != BUILTIN_DIST, ep.name))
        unmatched = sorted((wanted or set()) - {name for ep in eps for name in (ep.name, ep.dist.name)})
        if unmatched:
            print(f"ganzoo: GANZOO_LOAD_PLUGINS names {', '.join(unmatched)}, which no installed plugin has "
                  "(see `ganzoo plugins --all`)", file=sys.stderr)
        for ep in eps:
            dist, version = ep.dist.name, ep.dist.version
            builtin = dist == BUILTIN_DIST
            if not builtin and wanted is not None and ep.name not in wanted and dist not in wanted:
                reason = "not selected by GANZOO_LOAD_PLUGINS"
                self.plugins.append(PluginInfo(ep.name, dist, version, ep.value, (), builtin, "disabled", reason))
                continue
            module = None
            try:
                module = ep.load()
                self.pm.register(module, name=ep.name)
                hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(module) or ()))
                self._collect(module, ep.name, dist)
            except Exception as exc:  # a broken plugin must not break the CLI
                message = f"{type(exc).__name__}: {exc}"
                if strict:
                    raise GanzooError(f"plugin '{ep.name}' from {dist} {version} failed to load ({message}); "
                                      "GANZOO_STRICT_PLUGINS is set, unset it to skip broken plugins") from exc
                if module is not None and self.pm.is_registered(module):
                    self.pm.unregister(module)
                print(f"ganzoo: skipping plugin '{ep.name}' from {dist} {version}: {message}", file=sys.stderr)
                self.plugins.append(PluginInfo(ep.name, dist, version, ep.value, (), builtin, "failed", message))
                continue
            self.plugins.append(PluginInfo(ep.name, dist, version, ep.value, hooks, builtin))

    def _collect(self, module: Any, plugin: str, dist: str) -> None:
        staged: list[tuple[Entry, bool]] = []
        for kind, hook in KINDS.items():
            fn = getattr(module, hook, None)
            if fn is None:
                continue

            def register(name: str, obj: Any, *, replace: bool = False, _kind: str = kind) -> None:
                staged.append((Entry(_kind, name, obj, plugin, dist), replace))

            fn(register=register)
        for entry, replace in staged:
            existing = self.entries[entry.kind].setdefault(entry.name, [])
            if replace:
                existing.clear()
            existing.append(entry)

    def provided_by(self, plugin: str) -> dict[str, list[str]]:
        """What one plugin registered, by kind."""
        found: dict[str, list[str]] = {}
        for kind in KINDS:
            names = [e.name for entries in self.entries[kind].values() for e in entries if e.plugin == plugin]
            if names:
                found[kind] = sorted(names, key=natural_key)
        return found

    def conflicts(self) -> list[list[Entry]]:
        """Names registered by more than one plugin (none wins silently)."""
        return [found for kind in KINDS for found in self.entries[kind].values() if len(found) > 1]

    def list(self, kind: str, pattern: str = "*") -> list[Entry]:
        """Entries of a kind whose name (or plugin:name) matches an fnmatch pattern, naturally sorted."""
        kind = canonical_kind(kind)
        found = [
            entry
            for entries in self.entries[kind].values()
            for entry in entries
            if fnmatch.fnmatchcase(entry.name, pattern) or fnmatch.fnmatchcase(entry.qualified, pattern)
        ]
        return sorted(found, key=lambda e: (natural_key(e.name), e.plugin))

    def entry(self, kind: str, name: str) -> Entry:
        """The entry for ``name`` or ``plugin:name``; errors name the way out."""
        kind = canonical_kind(kind)
        plugin, _, short = name.rpartition(":")
        found = self.entries[kind].get(short, [])
        if plugin:
            found = [e for e in found if e.plugin == plugin]
        if len(found) == 1:
            return found[0]
        if found:
            providers = " and ".join(f"plugin '{e.plugin}' ({e.distribution})" for e in found)
            choices = ", ".join(f"'{e.qualified}'" for e in found)
            raise GanzooError(
                f"{SINGULAR[kind]} '{short}' is registered by both {providers}. "
                f"Choose one by its qualified name: {choices}; or have one plugin pass replace=True."
            )
        names = list(self.entries[kind])
        close = difflib.get_close_matches(short.lower(), names, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise GanzooError(
            f"unknown {SINGULAR[kind]} '{name}'.{hint} See `ganzoo list {kind}` for the {len(names)} available."
        )

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).obj

    def add_commands(self, cli: Any) -> None:
        self.pm.hook.register_commands(cli=cli)


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    return Registry()


def list_entries(kind: str, pattern: str = "*") -> list[Entry]:
    """``ganzoo.list('archs', 'dc*')``: registered entries matching a pattern."""
    return get_registry().list(kind, pattern)


def get(kind: str, name: str) -> Any:
    """``ganzoo.get('losses', 'hinge')``: the registered object, or a helpful error."""
    return get_registry().get(kind, name)
