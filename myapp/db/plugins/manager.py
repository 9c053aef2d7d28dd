"""The one plugin manager: built-in and installed plugins, loaded once per process.

Built-ins (`BUILTINS`) register first, then every entry point in the
``myapp.db.plugins`` group, sorted by name, then the plugins an App ships.
A plugin that fails to import, raises in a hook, or registers an operation
name already taken becomes a `PluginError` naming its distribution and entry
point, before any command touches the database. Hooks are called one
implementation at a time (in pluggy's order) so that a failure can always
name its plugin.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from typing import Any, Dict, List, Mapping, Optional, Tuple

import pluggy
from alembic.operations import Operations

from .. import compat
from ..errors import INTERRUPTS, ConfigurationError, PluginError, describe_exception
from . import hookspecs

GROUP = "myapp.db.plugins"
DISABLE_VARIABLE = "MYAPP_DB_DISABLE_PLUGINS"
#: When set, only the entry points it names load (empty: none); tests set it.
LOAD_VARIABLE = "MYAPP_DB_LOAD_PLUGINS"

#: Built-in plugins, registered like any other and listed as built-in.
BUILTINS = (
    "myapp.db.plugins.builtins.roles",
    "myapp.db.plugins.builtins.guards",
    "myapp.db.plugins.builtins.grants",
    "myapp.db.plugins.builtins.replaceable",
    "myapp.db.plugins.builtins.indexes",
)


@dataclass
class Plugin:
    """One plugin, as ``python -m myapp.db plugins`` lists it."""

    name: str
    entry_point: str
    distribution: str
    version: str
    builtin: bool = False
    disabled: bool = False
    hooks: List[str] = field(default_factory=list)
    operations: List[str] = field(default_factory=list)

    def error(self, what: str, exc: Optional[BaseException] = None) -> PluginError:
        detail = f": {describe_exception(exc)}" if exc is not None else ""
        return PluginError(
            self.name,
            self.distribution,
            f"plugin {self.name!r} (entry point '{self.name} = {self.entry_point}' from "
            f"{self.distribution} {self.version}) {what}{detail}; fix or uninstall "
            f"{self.distribution}, or set {DISABLE_VARIABLE}={self.name}",
        )


class _OperationsState:
    """A snapshot of what plugins change on Alembic's `Operations`: op methods and implementations."""

    def __init__(self):
        self.methods = dict(vars(Operations))
        self.names = set(dir(Operations))
        self.impls = dict(compat.implementations())

    def changes(self) -> Tuple[List[str], List[Any]]:
        """The op names and implementation keys changed since the snapshot."""
        now = compat.implementations()
        return (
            sorted(n for n, v in vars(Operations).items() if self.methods.get(n, self) is not v),
            [k for k, v in now.items() if self.impls.get(k, self) is not v],
        )

    def restore(self, changes: Optional[Tuple[List[str], List[Any]]] = None) -> None:
        """Undo ``changes`` (default: every change since the snapshot)."""
        names, keys = changes or self.changes()
        for name in names:
            if name in self.methods:
                setattr(Operations, name, self.methods[name])
            elif name in vars(Operations):
                delattr(Operations, name)
        registry = compat.implementations()
        for key in keys:
            if key in self.impls:
                registry[key] = self.impls[key]
            else:
                registry.pop(key, None)


def _names(text: Optional[str]) -> List[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _myapp_version() -> str:
    try:
        return importlib.metadata.version("myapp")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _check_disabled(disabled: set, installed: set, app) -> None:
    unknown = sorted(disabled - installed - set(app.plugins if app is not None else ()))
    if unknown:
        raise ConfigurationError(
            f"{DISABLE_VARIABLE} names plugin(s) {', '.join(map(repr, unknown))}, which are neither "
            f"built in nor installed; fix {DISABLE_VARIABLE} (python -m myapp.db plugins lists them)"
        )


def _entry_points(environ: Mapping[str, str]) -> Tuple[List[tuple], set]:
    """``(Plugin, EntryPoint)`` for the entry points to load, sorted by name then distribution;
    and the names of every plugin installed or built in."""
    wanted = set(_names(environ[LOAD_VARIABLE])) if LOAD_VARIABLE in environ else None
    found: Dict[tuple, tuple] = {}
    installed = set(BUILTINS)
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == GROUP:
                installed.add(ep.name)
            if ep.group == GROUP and (wanted is None or ep.name in wanted):
                name = dist.metadata["Name"] or "(unnamed distribution)"
                # The first one on sys.path wins, as it does for imports.
                found.setdefault((ep.name, name), (Plugin(ep.name, ep.value, name, dist.version), ep))
    missing = sorted((wanted or set()) - {name for name, _ in found})
    if missing:
        raise ConfigurationError(
            f"{LOAD_VARIABLE} names plugin(s) {', '.join(map(repr, missing))}, but no installed distribution "
            f"has such an entry point in group {GROUP}; install them or fix {LOAD_VARIABLE}"
        )
    return [found[key] for key in sorted(found)], installed


class Plugins:
    """The plugins loaded in this process, their listing, and what they contribute to each App."""

    def __init__(self, environ: Mapping[str, str], found: Optional[Tuple[List[tuple], set]] = None):
        """``found``: what `_entry_points` returned for ``environ``, when the caller has it already."""
        self.pm = pluggy.PluginManager("myapp.db")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: List[Plugin] = []
        self.kinds: List[type] = []
        self.rules: List[Any] = []
        self._objects: Dict[Any, List[Any]] = {}
        self._by_name: Dict[str, Plugin] = {}
        self._owners: Dict[str, str] = {}
        for name in _names(environ.get(DISABLE_VARIABLE)):
            self.pm.set_blocked(name)
        version = _myapp_version()
        builtins = [(Plugin(m, m, "myapp", version, builtin=True), EntryPoint(m, m, GROUP)) for m in BUILTINS]
        self.before = _OperationsState()
        self.disabled_names = set(_names(environ.get(DISABLE_VARIABLE)))
        try:
            entry_points, self.installed = found or _entry_points(environ)
            for plugin, ep in builtins + entry_points:
                self._add(plugin, ep)
        except BaseException:
            self.before.restore()
            raise
        self.changes = self.before.changes()

    def check_disabled(self, app) -> None:
        """Refuse a name in the disable variable that no plugin has: a typo would leave the plugin meant running."""
        _check_disabled(self.disabled_names, self.installed, app)

    def _add(self, plugin: Plugin, ep: EntryPoint) -> None:
        self.plugins.append(plugin)
        if self.pm.is_blocked(plugin.name):
            plugin.disabled = True
        else:
            self._register(plugin, ep)

    def add_app_plugins(self, app) -> None:
        """Register the plugins ``app`` ships (its ``plugins=``), once, like the built-ins."""
        for module in app.plugins:
            if module in self._by_name:
                continue
            plugin = Plugin(module, module, f"app {app.label}", "", builtin=True)
            state = _OperationsState()
            try:
                self._add(plugin, EntryPoint(module, module, GROUP))
            except BaseException:
                state.restore()
                raise
            self.changes = self.before.changes()
            self._objects.clear()

    def _register(self, plugin: Plugin, ep: EntryPoint) -> None:
        if plugin.name in self._by_name:
            raise plugin.error(f"has the same name as a plugin from {self._by_name[plugin.name].distribution}")
        self._by_name[plugin.name] = plugin
        state = _OperationsState()
        try:
            module = ep.load()
        except BaseException as exc:  # SystemExit too: a plugin may not end the command
            if isinstance(exc, INTERRUPTS):
                raise
            raise plugin.error("failed to import", exc) from exc
        try:
            self.pm.register(module, name=plugin.name)
            self.pm.check_pending()
        except Exception as exc:  # PluginValidationError, or ValueError if registered already
            raise plugin.error("is not a valid plugin", exc) from exc
        callers = self.pm.get_hookcallers(module) or []
        plugin.hooks = sorted(caller.name for caller in callers)
        impls = [i for caller in callers for i in caller.get_hookimpls() if i.plugin is module]
        if any(i.hookwrapper or i.wrapper for i in impls):
            raise plugin.error("declares a hook wrapper, which myapp.db hooks do not support")

        self.call("register_operations", plugin=module, operations=Operations)
        for name in state.changes()[0]:
            if name in state.names:
                owner = self._owners.get(name)
                taken = f"by plugin {owner!r}" if owner else "by Alembic's Operations"
                raise plugin.error(f"registers operation {name!r}, a name already taken {taken}")
            self._owners[name] = plugin.name
            plugin.operations.append(name)
        for result in self.call("replaceable_kinds", plugin=module):
            kinds = self._listed(result, module, "replaceable_kinds")
            from ..replaceable.base import ReplaceableObject

            wrong = [k for k in kinds if not (isinstance(k, type) and issubclass(k, ReplaceableObject))]
            if wrong:
                raise plugin.error(
                    f"returned {wrong[0]!r} from hook replaceable_kinds, which is not a ReplaceableObject subclass"
                )
            self.kinds.extend(kinds)
        for result in self.call("lint_rules", plugin=module):
            from ..lint.rules import Rule

            rules = self._listed(result, module, "lint_rules")
            wrong = [r for r in rules if not isinstance(r, Rule) or not r.id]
            if wrong:
                raise plugin.error(f"returned {wrong[0]!r} from hook lint_rules, which is not a Rule with an id")
            self.rules.extend(rules)

    def _listed(self, result, module, hook: str) -> list:
        try:
            return list(result)
        except Exception as exc:
            raise self._plugin_of(module).error(f"failed in hook {hook}", exc) from exc

    def _plugin_of(self, module) -> Plugin:
        return self._by_name[self.pm.get_name(module)]

    def objects(self, app) -> List[Any]:
        """The replaceable objects plugins contribute to ``app``, in plugin order (asked once per App)."""
        if app in self._objects:
            return self._objects[app]
        from ..replaceable.base import ReplaceableObject

        found: List[Any] = []
        for impl in reversed(self.pm.hook.replaceable_objects.get_hookimpls()):
            for result in self.call("replaceable_objects", plugin=impl.plugin, app=app):
                objects = self._listed(result, impl.plugin, "replaceable_objects")
                wrong = [o for o in objects if not isinstance(o, ReplaceableObject)]
                if wrong:
                    raise self._plugin_of(impl.plugin).error(
                        f"returned {wrong[0]!r} from hook replaceable_objects, which is not a ReplaceableObject"
                    )
                found.extend(objects)
        self._objects[app] = found
        return found

    def call(self, hook: str, *, plugin: Any = None, **kwargs) -> List[Any]:
        """Call ``hook`` on every plugin (or just ``plugin``); return the results that are not None."""
        results = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            if plugin is not None and impl.plugin is not plugin:
                continue
            try:
                result = impl.function(*(kwargs[name] for name in impl.argnames))
            except BaseException as exc:  # SystemExit too: a hook may not end the command
                if isinstance(exc, INTERRUPTS):
                    raise
                raise self._by_name[impl.plugin_name].error(f"failed in hook {hook}", exc) from exc
            if result is not None:
                results.append(result)
        return results


_loaded: Optional[Plugins] = None
_lock = threading.Lock()


def load(app=None) -> Plugins:
    """The plugins, loaded as the environment says the first time this process asks (then the same ones);
    with ``app``, its own plugins registered too."""
    return _load(app)


def _load(app, found: Optional[Tuple[List[tuple], set]] = None) -> Plugins:
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = Plugins(os.environ, found)
        if app is not None:
            try:
                _loaded.check_disabled(app)
                _loaded.add_app_plugins(app)
                _loaded.objects(app)  # a broken plugin stops the command here, before any database work
            except BaseException:
                _loaded.before.restore(_loaded.changes)  # as if nothing had loaded
                _loaded = None
                raise
        return _loaded


def check(app=None) -> None:
    """Refuse now what `load` would refuse (a plugin that fails, a plugin variable naming no plugin),
    before a command touches the database; cheaper than `load` when only the built-ins are there.

    The built-ins are myapp's own and cannot fail, so when no installed or app plugin could clash
    with them their registration waits for the first `load` (a no-op ``migrate`` never needs one).
    """
    with _lock:
        loaded = _loaded is not None
    found = None
    if not loaded:
        found = entry_points, installed = _entry_points(os.environ)
        if not entry_points and not (app is not None and app.plugins):
            _check_disabled(set(_names(os.environ.get(DISABLE_VARIABLE))), installed, app)
            return
    _load(app, found)  # the entry points scanned once


def reset() -> None:
    """Forget the loaded plugins and undo their operations, so the next `load` starts afresh (tests)."""
    global _loaded
    with _lock:
        if _loaded is not None:
            _loaded.before.restore(_loaded.changes)
            _loaded = None
