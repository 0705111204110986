"""Discover plugins through the ``ganzoo`` entry-point group and index what they register.

Built-in plugins (distribution ``ganzoo``) are found exactly like third-party
ones. Every plugin is imported and registered with pluggy first; then each
``register_*`` hook is called through pluggy, one plugin at a time in pluggy's
order (``tryfirst``/``trylast``, otherwise the last registered first), so each
entry is stamped with the plugin and distribution that registered it.

A plugin that fails (at import, in a hook, in ``register_commands``, even with
``sys.exit``) is reported in one line and skipped; so is an entry with an unsafe
name, of the wrong type, a class missing a required method (``EXPECTED``) or a
task with bad capability declarations. A ``register_*`` function that is never
called (no ``@hookimpl``, or a misspelled hook name) is reported too.
``GANZOO_STRICT_PLUGINS=1`` makes each of these an error (a likely typo only
warns). ``GANZOO_LOAD_PLUGINS=a,b`` loads only the named third-party plugins or
distributions, and an empty value loads none.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fnmatch
import os
import re
import sys
import traceback
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import GanzooError, GanzooWarning

BUILTIN_DIST = "ganzoo"
KINDS = {
    "archs": "register_architectures",
    "losses": "register_losses",
    "tasks": "register_tasks",
    "datasets": "register_datasets",
    "metrics": "register_metrics",
    "masks": "register_masks",
    "features": "register_features",
    "augments": "register_augments",
    "regularizers": "register_regularizers",
    "recipes": "register_recipes",
    "loggers": "register_loggers",
}
SINGULAR = {"archs": "architecture", "losses": "loss", "tasks": "task", "datasets": "dataset", "metrics": "metric",
            "masks": "mask", "features": "feature extractor", "augments": "augmentation", "regularizers": "regulariser",
            "recipes": "recipe", "loggers": "logger"}
ALIASES = {"architectures": "archs", "arch": "archs", "loss": "losses", "task": "tasks", "dataset": "datasets",
           "metric": "metrics", "mask": "masks", "feature": "features",
           "augment": "augments", "augmentations": "augments", "regularizer": "regularizers", "reg": "regularizers",
           "recipe": "recipes", "logger": "loggers"}
# What each kind registers: an instance of the ganzoo.api class (False) or a subclass of it (True), and the
# methods a subclass must define (the base's raise NotImplementedError). Named, not imported: ganzoo.api imports
# torch, which the CLI needs no earlier than the first plugin does.
EXPECTED: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "archs": ("Architecture", False, ()),
    "losses": ("Loss", True, ("d_loss", "g_loss")),
    "tasks": ("Task", True, ("generate", "judges", "fixed_inputs", "samples")),
    "datasets": ("DatasetSpec", False, ()),
    "metrics": ("Metric", True, ()),
    "masks": ("MaskSpec", False, ()),
    "features": ("FeatureSpec", False, ()),
    "augments": ("Augment", True, ("forward",)),
    "regularizers": ("Regularizer", True, ("forward",)),
    "recipes": ("Recipe", False, ()),
    "loggers": ("Logger", True, ("log",)),
}
HOOKS = (*KINDS.values(), "register_commands")
# A name is selectable on the command line, qualifiable as plugin:name and safe as a path component.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SAFE_NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no ':' or '/')"


def plugin_label(plugin: str, distribution: str, version: str) -> str:
    """How messages name a plugin: ``plugin 'NAME' from DIST VERSION``."""
    return f"plugin '{plugin}' from {distribution} {version}"


@dataclass(frozen=True)
class Entry:
    """One registered object and who provided it."""

    kind: str
    name: str
    obj: Any
    plugin: str
    distribution: str
    version: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def label(self) -> str:
        """The plugin that registered it, as messages name it."""
        return plugin_label(self.plugin, self.distribution, self.version)

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

    @property
    def label(self) -> str:
        return plugin_label(self.name, self.distribution, self.version)


def natural_key(text: str) -> list:
    """Sort 'resnet9' after 'resnet6' and 'dcgan-64' after 'dcgan-32' (timm style)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def canonical_kind(kind: str) -> str:
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise GanzooError(f"unknown kind '{kind}': choose one of {', '.join(KINDS)}")
    return kind


def _describe(exc: BaseException) -> str:
    """An exception as one line (pluggy's validation errors span several)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _load_problem(ep: Any, exc: BaseException) -> str:
    """Why a plugin failed at import, in one line: a module its entry point names that does not exist, or the
    exception with the plugin's file and line it came from."""
    module = ep.value.partition(":")[0].strip()
    if isinstance(exc, ModuleNotFoundError) and exc.name and (module == exc.name or module.startswith(exc.name + ".")):
        return (f"its entry point {ep.name} = \"{ep.value}\" names module '{module}', which cannot be found; fix "
                "the entry point in the plugin's pyproject.toml (or install the package that has it) and reinstall")
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "importlib" not in f.filename and f.filename != __file__]
    where = f" ({own[0].filename}:{own[0].lineno})" if own else ""  # the plugin module's own line that failed
    return _describe(exc) + where


def _stray_hooks(module: Any) -> list[tuple[str, bool]]:
    """Functions of a plugin module that look like hooks but are never called, each with whether that is certain:
    a ganzoo hook without ``@ganzoo.hookimpl``, or a marked function whose name is no hook (certain); an unmarked
    ``register_*`` a letter or two from a hook's name (a likely typo; a helper such as register_buffers is not)."""
    problems = []
    for name, value in sorted(vars(module).items()):
        if not (name.startswith("register_") and callable(value) and getattr(value, "__module__", None)
                == getattr(module, "__name__", None)):
            continue
        close = [hook for hook in difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.9)
                 if abs(len(hook) - len(name)) <= 2]
        if name in HOOKS and not hasattr(value, "ganzoo_impl"):
            problems.append((f"{name} lacks @ganzoo.hookimpl, so it is never called; decorate it", True))
        elif name not in HOOKS and hasattr(value, "ganzoo_impl"):
            hint = f"did you mean {close[0]}?" if close else f"the hooks are {', '.join(HOOKS)}"
            problems.append((f"{name} is no ganzoo hook, so it is never called ({hint})", True))
        elif name not in HOOKS and close:
            problems.append((f"{name} is no ganzoo hook, so it is never called (did you mean {close[0]}?)", False))
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _task_problem(task: Any) -> str | None:
    """What is wrong with a task class's capability declarations, in words a plugin author can act on; None if
    nothing. Checked at registration, so a typo is not reported later as an architecture lacking it."""
    from . import api  # ganzoo.api imports torch: not at the top

    for field_name, known in (("generator_input", api.GENERATOR_INPUTS),
                              ("discriminator_input", api.DISCRIMINATOR_INPUTS),
                              ("discriminator_output", api.DISCRIMINATOR_OUTPUTS)):
        given = getattr(task, field_name)
        if field_name == "discriminator_output" and isinstance(given, str):  # one name: as an Architecture says it
            given = (given,)
        if not isinstance(given, (tuple, list)) or not all(isinstance(item, str) for item in given):
            return f"{field_name} must be a tuple of names, e.g. {tuple(known)[:2]!r}; got {given!r}"
        unknown = sorted(set(given) - set(known))
        if unknown:
            return (f"{field_name} names {', '.join(unknown)}, which no architecture can have "
                    f"(known: {', '.join(known)})")
    for field_name in ("layout", "default_arch", "default_loss", "command"):
        if not isinstance(getattr(task, field_name), str):
            return f"{field_name} must be a name (a str); got {getattr(task, field_name)!r}"
    return None


def _entry_problem(kind: str, name: Any, obj: Any) -> str | None:
    """What is wrong with registering ``obj`` as ``name`` of ``kind``, or None."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        return f"a name must be {SAFE_NAME_RULE}"
    from . import api

    name_of_class, subclass, required = EXPECTED[kind]
    cls = getattr(api, name_of_class)
    if (isinstance(obj, type) and issubclass(obj, cls)) if subclass else isinstance(obj, cls):
        missing = [method for method in required if getattr(obj, method) is getattr(cls, method)]
        if missing:
            return (f"the class {obj.__name__} does not define {', '.join(missing)}, which every "
                    f"{cls.__module__}.{cls.__name__} must")
        return _task_problem(obj) if kind == "tasks" else None
    got = f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
    wanted = f"a subclass of {cls.__module__}.{cls.__name__}" if subclass else f"a {cls.__module__}.{cls.__name__}"
    return f"expected {wanted}, got {got}"


class Registry:
    """All plugins and their entries; build one with :func:`get_registry`."""

    loading = False  # True while plugins import and register: ganzoo.get() then has nothing complete to give

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("ganzoo")
        self.pm.add_hookspecs(hookspecs)
        self.strict = os.environ.get("GANZOO_STRICT_PLUGINS", "") not in ("", "0")
        self.plugins: list[PluginInfo] = []
        self.entries: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}
        self.commands: dict[tuple[str, str], list[str]] = {}  # (plugin, distribution) -> the commands it added
        self._replaced: set[tuple[str, str]] = set()
        self._displaced: dict[tuple[str, str], set[tuple[str, str]]] = {}  # (kind, name): whose entry a replace hid
        self.problems: list[str] = []  # the lines reported (a plugin or entry skipped): the CLI caches no such load
        Registry.loading = True
        try:  # a plugin's print() at import goes to stderr: stdout carries --json
            with contextlib.redirect_stdout(sys.stderr):
                self._load()
                self._collect()
        finally:
            Registry.loading = False

    def _load(self) -> None:
        """Import each selected plugin and register it with pluggy under its entry-point name."""
        selected = os.environ.get("GANZOO_LOAD_PLUGINS")
        wanted = None if selected is None else {s.strip() for s in selected.split(",") if s.strip()}
        eps = list(entry_points(group="ganzoo"))
        # Each distribution's name and version, read once: each read of ep.dist.name parses its METADATA again
        # (ganzoo's holds the whole README), which cost more than importing the built-in plugins.
        about: dict[int, tuple[str, str]] = {}
        for ep in eps:
            if id(ep.dist) not in about:
                metadata = ep.dist.metadata
                about[id(ep.dist)] = (metadata["Name"], metadata["Version"])
        found = [(ep, *about[id(ep.dist)]) for ep in eps]
        found.sort(key=lambda item: (item[1] != BUILTIN_DIST, item[0].name, item[1]))
        unmatched = sorted((wanted or set()) - {name for ep, dist, _ in found for name in (ep.name, dist)})
        if unmatched:
            self._report(f"GANZOO_LOAD_PLUGINS names {', '.join(unmatched)}, which no installed plugin has "
                         "(see `ganzoo plugins --all`)")
        for ep, dist, version in found:
            info = PluginInfo(ep.name, dist, version, ep.value, (), dist == BUILTIN_DIST)
            if not info.builtin and wanted is not None and ep.name not in wanted and dist not in wanted:
                self.plugins.append(dataclasses.replace(info, status="disabled",
                                                        error="not selected by GANZOO_LOAD_PLUGINS"))
                continue
            taken = self._loaded(ep.name)
            if taken is not None:
                self._fail(info, f"its entry-point name is already plugin '{ep.name}' from {taken.distribution}; "
                                 "rename the entry point")
                continue
            try:
                module = ep.load()
            except (Exception, SystemExit) as exc:  # a broken plugin must not break the CLI, even by sys.exit
                self._fail(info, _load_problem(ep, exc), exc)
                continue
            try:
                if self.pm.is_registered(module):
                    raise GanzooError(f"{ep.value} is already plugin '{self.pm.get_name(module)}'")
                self.pm.register(module, name=ep.name)
            except (Exception, SystemExit) as exc:
                self._fail(info, _describe(exc), exc)
                continue
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(module) or ()))
            self.plugins.append(dataclasses.replace(info, hooks=hooks))
            for problem, certain in _stray_hooks(module):
                where = info.label
                if self.strict and certain:
                    raise GanzooError(f"{where}: {problem}; GANZOO_STRICT_PLUGINS is set")
                self._report(f"{where}: {problem}")

    def _report(self, line: str) -> None:
        """Say in one line on stderr what was skipped, and remember it."""
        self.problems.append(line)
        print(f"ganzoo: {line}", file=sys.stderr)

    def _loaded(self, name: str) -> PluginInfo | None:
        return next((p for p in self.plugins if p.name == name and p.status == "loaded"), None)

    def _fail(self, info: PluginInfo, message: str, exc: BaseException | None = None) -> None:
        """Skip a plugin in one line (an error under GANZOO_STRICT_PLUGINS) and block it in pluggy."""
        if self.strict:
            raise GanzooError(f"{info.label} failed to load "
                              f"({message}); GANZOO_STRICT_PLUGINS is set, unset it to skip broken plugins") from exc
        self._report(f"skipping {info.label}: {message}")
        failed = dataclasses.replace(info, hooks=(), status="failed", error=message)
        index = next((i for i, p in enumerate(self.plugins) if p is info), None)
        if index is None:  # it failed before pluggy registered it
            self.plugins.append(failed)
        else:
            self.plugins[index] = failed
            self.pm.set_blocked(info.name)  # unregisters it: none of its other hooks is called

    def _call_order(self, hook: str) -> list[Any]:
        """The plugins implementing ``hook``, in the order pluggy calls them."""
        order: list[Any] = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            if impl.plugin not in order:
                order.append(impl.plugin)
        return order

    def _call(self, hook: str, plugin: Any, **kwargs: Any) -> None:
        """Call one plugin's implementation of ``hook`` through pluggy (its wrappers and argument handling)."""
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        self.pm.subset_hook_caller(hook, others)(**kwargs)

    def _collect(self) -> None:
        """Call every register_* hook, then index the entries of the plugins that did not fail."""
        staged: list[tuple[Entry, bool]] = []
        for kind, hook in KINDS.items():
            for plugin in self._call_order(hook):
                info = self._loaded(self.pm.get_name(plugin))

                def register(name: str, obj: Any, *, replace: bool = False, _kind: str = kind,
                             _info: PluginInfo = info) -> None:
                    staged.append((Entry(_kind, name, obj, _info.name, _info.distribution, _info.version), replace))

                try:
                    self._call(hook, plugin, register=register)
                except (Exception, SystemExit) as exc:
                    self._fail(info, f"{hook} raised {_describe(exc)}", exc)
        for entry, replace in staged:
            if self.pm.has_plugin(entry.plugin) and self._valid(entry):
                self._add(entry, replace)

    def _valid(self, entry: Entry) -> bool:
        """Whether an entry may be indexed; a bad one is skipped in one line (an error under strict)."""
        problem = _entry_problem(entry.kind, entry.name, entry.obj)
        if problem is None and any(e.plugin == entry.plugin for e in self.entries[entry.kind].get(entry.name, ())):
            problem = "the plugin registers this name twice"
        if problem is None:
            return True
        where = entry.label
        what = f"{SINGULAR[entry.kind]} {_short(entry.name)}"
        if self.strict:
            raise GanzooError(f"{where} registers {what}: {problem}; GANZOO_STRICT_PLUGINS is set, unset it to skip "
                              "bad entries")
        self._report(f"{where}: skipping {what}: {problem}")
        return False

    def _add(self, entry: Entry, replace: bool) -> None:
        """Index an entry; ``replace=True`` displaces plain registrations of the name, made before or after it."""
        key = (entry.kind, entry.name)
        found = self.entries[entry.kind].setdefault(entry.name, [])
        if replace or key in self._replaced:
            hidden = found if replace else [entry]
            self._displaced.setdefault(key, set()).update((e.plugin, e.distribution) for e in hidden)
        if replace:
            found.clear()  # with several replacements, the one pluggy calls last wins
            self._replaced.add(key)
        elif key in self._replaced:
            return
        found.append(entry)

    def provided_by(self, plugin: str, distribution: str) -> dict[str, list[str]]:
        """What one plugin registered, by kind, and the commands it added (once the CLI has asked for them)."""
        found: dict[str, list[str]] = {}
        for kind in KINDS:
            names = [e.name for entries in self.entries[kind].values() for e in entries
                     if (e.plugin, e.distribution) == (plugin, distribution)]
            if names:
                found[kind] = sorted(names, key=natural_key)
        if self.commands.get((plugin, distribution)):
            found["commands"] = self.commands[plugin, distribution]
        return found

    def conflicts(self) -> list[list[Entry]]:
        """Names registered by more than one plugin (none wins silently)."""
        return [found for kind in KINDS for found in self.entries[kind].values() if len(found) > 1]

    def name_of(self, obj: Any) -> str | None:
        """The name ``obj`` is registered under (the first, if several), for messages about it; None if none."""
        return next((e.name for kind in KINDS for entries in self.entries[kind].values() for e in entries
                     if e.obj is obj), None)

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

    def _find(self, kind: str, name: str) -> list[Entry]:
        plugin, _, short = name.rpartition(":")
        found = self.entries[kind].get(short, [])
        return [e for e in found if e.plugin == plugin] if plugin else list(found)

    def entry(self, kind: str, name: str) -> Entry:
        """The entry for ``name`` or ``plugin:name``; errors name the way out."""
        kind = canonical_kind(kind)
        found = self._find(kind, name)
        short = name.rpartition(":")[2]
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

    def provenance(self, uses: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
        """Who provides each ``(kind, name)`` a run uses, as JSON-able records for its checkpoint.

        Each record holds ``kind``, ``name`` (as given, perhaps ``plugin:name``), ``plugin``,
        ``distribution`` and ``version``; :meth:`check_provenance` reads them back.
        """
        records = []
        for kind, name in uses:
            entry = self.entry(kind, name)
            records.append({"kind": entry.kind, "name": name, "plugin": entry.plugin,
                            "distribution": entry.distribution, "version": entry.version})
        return records

    def check_provenance(self, records: Any, source: str = "the checkpoint") -> dict[tuple[str, str], str]:
        """Refuse a run whose entries are no longer registered, naming the distribution to install; warn
        (GanzooWarning) where another plugin or distribution now provides a recorded name. Returns the
        recorded names that another plugin now registers too, each with the qualified name of the one the
        run was trained with: the record settles the clash, so the run still loads."""
        settled: dict[tuple[str, str], str] = {}
        for record in _checked_records(records, source):
            kind, name = record["kind"], record["name"]
            was = f"plugin '{record['plugin']}' ({record['distribution']} {record['version']})"
            found = self._find(kind, name)
            if not found:
                raise GanzooError(f"{source} needs {SINGULAR[kind]} '{name}' from {was}, which is not registered: "
                                  f"{self._way_back(record)}")
            recorded = (record["plugin"], record["distribution"])
            trained_with = [e for e in found if (e.plugin, e.distribution) == recorded]
            if len(found) > 1 and len(trained_with) == 1:
                settled[(kind, name)] = trained_with[0].qualified
                continue
            now = self.entry(kind, name)  # several providers: the usual clash error, with its way out
            if (now.plugin, now.distribution) != recorded:
                warnings.warn(GanzooWarning(
                    f"{source} was trained with {SINGULAR[kind]} '{name}' from {was}; it is now provided by plugin "
                    f"'{now.plugin}' ({now.distribution} {now.version}), so it may not behave the same"
                ), stacklevel=2)
            elif now.version != record["version"] and now.distribution != BUILTIN_DIST:
                warnings.warn(GanzooWarning(
                    f"{source} was trained with {SINGULAR[kind]} '{name}' from {was}; {now.distribution} "
                    f"{now.version} is installed now, whose code or option defaults may differ (options the run did "
                    f"not set are not recorded); pip install '{now.distribution}=={record['version']}' to match"
                ), stacklevel=2)
        return settled

    def _way_back(self, record: dict[str, str]) -> str:
        """How to get a recorded plugin's entries back."""
        plugin, dist, version = record["plugin"], record["distribution"], record["version"]
        info = next((p for p in self.plugins if (p.name, p.distribution) == (plugin, dist)), None)
        if info is not None and info.status == "disabled":
            return f"plugin '{plugin}' is installed but not selected; add it to GANZOO_LOAD_PLUGINS"
        if info is not None and info.status == "failed":
            return f"plugin '{plugin}' is installed but failed to load ({info.error})"
        short = record["name"].rpartition(":")[2]
        if (plugin, dist) in self._displaced.get((record["kind"], short), ()):
            now = self.entries[record["kind"]][short][0]
            return (f"plugin '{now.plugin}' ({now.distribution}) registers '{short}' with replace=True, which displaces "
                    f"it; uninstall {now.distribution}, or have it register without replace=True")
        if info is not None:
            return f"{dist} {info.version} no longer provides it; pip install '{dist}=={version}'"
        if dist == BUILTIN_DIST:
            return f"this ganzoo no longer provides it; pip install '{dist}=={version}'"
        return f"pip install {dist}"

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add its commands, noting which; one that raises, or replaces a command ganzoo has (the
        CLI runs those without loading plugins), is skipped in one line."""
        builtin = dict(cli.commands)
        for plugin in self._call_order("register_commands"):
            info = self._loaded(self.pm.get_name(plugin))
            before = dict(cli.commands)
            try:
                self._call("register_commands", plugin, cli=cli)
                replaced = sorted(name for name, command in builtin.items() if cli.commands.get(name) is not command)
                if replaced:
                    raise GanzooError(f"it replaces ganzoo's own command {', '.join(replaced)}; choose another name")
            except (Exception, SystemExit) as exc:
                cli.commands.clear()
                cli.commands.update(before)
                message = f"register_commands raised {_describe(exc)}"
                where = info.label
                if self.strict:
                    raise GanzooError(f"{where} failed to add its commands ({message}); GANZOO_STRICT_PLUGINS is "
                                      "set, unset it to skip broken plugins") from exc
                self._report(f"skipping the commands of {where}: {message}")
                continue
            added = sorted(name for name, command in cli.commands.items() if before.get(name) is not command)
            if added:
                self.commands[info.name, info.distribution] = added


def _checked_records(records: Any, source: str) -> list[dict[str, str]]:
    """Provenance records as :meth:`Registry.provenance` writes them, or one error naming ``source``."""
    keys = ("kind", "name", "plugin", "distribution", "version")
    if isinstance(records, list) and all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in keys) and r["kind"] in KINDS for r in records
    ):
        return records
    raise GanzooError(f"{source}: its plugin record is malformed (expected a list of {{{', '.join(keys)}}}); "
                      "it was not written by ganzoo or was edited")


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    if Registry.loading:
        raise GanzooError("ganzoo.get() or ganzoo.list() called while plugins register; look entries up when they "
                          "are used, not at import or inside a register_* hook")
    return _process_registry()


@lru_cache(maxsize=1)
def _process_registry() -> Registry:
    return Registry()


def registered_name(obj: Any) -> str | None:
    """The name ``obj`` is registered under, for messages about it; None if it has none or plugins still register."""
    return None if Registry.loading else get_registry().name_of(obj)


def list_entries(kind: str, pattern: str = "*") -> list[Entry]:
    """``ganzoo.list('archs', 'dc*')``: registered entries matching a pattern."""
    return get_registry().list(kind, pattern)


def get(kind: str, name: str) -> Any:
    """``ganzoo.get('losses', 'hinge')``: the registered object, or a helpful error."""
    return get_registry().get(kind, name)


def provenance(uses: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Records of who provides each ``(kind, name)`` a run uses; see :meth:`Registry.provenance`."""
    return get_registry().provenance(uses)


def check_provenance(records: Any, source: str = "the checkpoint") -> dict[tuple[str, str], str]:
    """Check records written by :func:`provenance`; see :meth:`Registry.check_provenance`."""
    return get_registry().check_provenance(records, source)
