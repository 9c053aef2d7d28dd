"""Every use of an Alembic or SQLAlchemy private, in one place, each with why there is no public way.

When either library changes one of these, this module is the only one to fix.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional


def doubles_percents(compiler) -> bool:
    """Whether the driver reads '%' as a placeholder (psycopg2, psycopg 3), so SQL text must double it.

    Private (``IdentifierPreparer._double_percents``): SQLAlchemy decides this
    per paramstyle and exposes no public flag; a DDL construct holding SQL text
    (a view's definition) must match what the dialect does to its own text.
    """
    return bool(compiler.preparer._double_percents)


def upgrade_steps(script, destination: str, heads) -> list:
    """Alembic's steps from ``heads`` up to ``destination``, exactly as ``alembic upgrade`` finds them.

    Private (``ScriptDirectory._upgrade_revs``): the plan must be known before
    env.py runs (for --plan, --check and progress), and Alembic computes it
    only inside its commands.
    """
    return script._upgrade_revs(destination, heads)


def downgrade_steps(script, destination: str, heads) -> list:
    """As `upgrade_steps`, for ``alembic downgrade`` (``ScriptDirectory._downgrade_revs``)."""
    return script._downgrade_revs(destination, heads)


def implementations() -> Dict[Any, Callable]:
    """Alembic's registry of operation implementations, keyed by (op class, dialect).

    Private (``Operations._to_impl._registry``): the plugin manager snapshots
    and restores it, so that a plugin that fails half-way, or a test, leaves
    Alembic's operations as they were; Alembic has no unregister.
    """
    from alembic.operations import Operations

    return Operations._to_impl._registry


def with_migration_fn(step, migration_fn: Callable) -> Any:
    """A copy of one of Alembic's revision steps whose migration function is ``migration_fn``.

    ``RevisionStep.migration_fn`` is a plain attribute, but the class is
    internal: wrapping it is how plugin hooks run inside each revision's own
    transaction, online and offline, whoever called env.py.
    """
    wrapped = copy.copy(step)
    wrapped.migration_fn = migration_fn
    return wrapped


def wrap_migrations_fn(migration_context, wrap: Callable[[list, Any], list]) -> None:
    """Pass the steps the running Alembic command planned through ``wrap(steps, context)`` first.

    Private (``MigrationContext._migrations_fn``): every Alembic command (and
    pytest-alembic) hands its work to env.py as this function, and there is no
    public hook between planning the steps and running them.
    """
    fn = migration_context._migrations_fn
    if fn is None or getattr(fn, "_myapp_db_wrapped", False):
        return

    def migrations_fn(rev, context) -> List[Any]:
        return wrap(list(fn(rev, context)), context)

    migrations_fn._myapp_db_wrapped = True
    migration_context._migrations_fn = migrations_fn


def register_schema_comparator(fn: Callable) -> None:
    """Register ``fn(autogen_context, upgrade_ops, schemas)`` to run after Alembic compares the tables.

    Alembic's global comparator registry is public (third-party comparators
    are its documented use); the priority argument exists from Alembic 1.18 on,
    and before that registration order alone puts ours after Alembic's own.
    """
    from alembic.autogenerate.compare import comparators

    try:
        from alembic.util import DispatchPriority
    except ImportError:  # Alembic < 1.18
        comparators.dispatch_for("schema")(fn)
    else:
        comparators.dispatch_for("schema", priority=DispatchPriority.LAST)(fn)


def revision_files(script) -> list:
    """The revision files of ``script``'s version locations, each once, in Alembic's order.

    Private (``Script._list_py_dir``), as is reading them one at a time
    (`load_revision`, ``Script._from_path``) and ``AppScripts._load_revisions``,
    which replaces Alembic's loop: Alembic loads every file inside its revision
    map with no hook per file, so an import error could not name its file and
    a duplicate id would only be a warning.
    """
    from alembic.script import Script

    seen, files = set(), []
    for location in script._version_locations:
        if not location.exists():
            continue
        for path in Script._list_py_dir(script, location):
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                files.append(real)
    return files


def load_revision(script, path):
    """The `Script` of the revision file at ``path`` (None for a file that is not one); see `revision_files`."""
    from alembic.script import Script

    return Script._from_path(script, path)


def autogenerate_comparators() -> Optional[List[List[str]]]:
    """Every comparison function an autogenerate could run, as ``[plugin ("" for Alembic's global
    registry), target, "module:qualname"]``, sorted; None when Alembic keeps them in a way this does
    not know.

    Private (``PriorityDispatcher._registry``, ``alembic.runtime.plugins._all_plugins``):
    Alembic has no public listing of the comparators in its global registry or in its plugins. The
    remembered table comparison (`myapp.db.autogenerate.cache`) is only sound when the same ones run.
    """
    try:
        from alembic.autogenerate.compare import comparators
        from alembic.runtime import plugins
    except ImportError:  # Alembic < 1.18: no plugins
        return None
    dispatchers = [("", comparators)]
    dispatchers += [(name, p.autogenerate_comparators) for name, p in getattr(plugins, "_all_plugins", {}).items()]
    found = []
    for name, dispatcher in dispatchers:
        registry = getattr(dispatcher, "_registry", None)
        if not isinstance(registry, dict):
            return None
        for key, entries in registry.items():
            for fn, *_ in entries:
                found.append([name, str(key), f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', '?')}"])
    return sorted(found)
