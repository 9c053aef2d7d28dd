"""Compare an app's declared replaceable objects with the database's: the operations that differ.

PostgreSQL normalises a definition when it stores it (white space, case,
casts, parentheses), so declared and stored text are compared only after
PostgreSQL has seen both: inside one savepoint, the objects in the database
are dropped, every declared object is created in dependency order (after the
table changes autogenerate found), and each kind is read back with one
catalog query; then the savepoint is rolled back. What differs becomes
create, replace and drop operations, in dependency order, carrying both
versions so the revision is frozen.
"""

from __future__ import annotations

import copy
from typing import Dict, Iterable, List, Sequence

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.operations import ops as alembic_ops
from alembic.runtime.migration import MigrationContext

from .. import ddl
from ..catalog import dependents as graph
from ..catalog import objects as catalog
from ..replaceable import dependents, registry
from ..replaceable.base import ReplaceableObject, expand
from ..replaceable.matview import ReplaceableMatview
from ..runtime import records
from ..replaceable.ops import CreateReplaceableObjectOp, DropReplaceableObjectOp, ReplaceReplaceableObjectOp


#: ``connection.info`` key: declared objects found in sync, to record once the comparison is rolled back.
UNRECORDED = "myapp_db_unrecorded"


def table_schemas(metadata) -> set:
    """The schemas the models' tables name (None for the default one): of a `MetaData` or a sequence of
    them (as Alembic takes ``target_metadata``); a collection of schema names as it is."""
    if isinstance(metadata, sa.MetaData):
        return {t.schema for t in metadata.tables.values()}
    if isinstance(metadata, (list, tuple)) and all(isinstance(m, sa.MetaData) for m in metadata):
        return {t.schema for m in metadata for t in m.tables.values()}
    return set(metadata)


def managed_schemas(current: str, tables: set, declared: Iterable[ReplaceableObject]) -> List[str]:
    """The schemas the app manages: the default one (``current``) and every schema its tables and objects name."""
    schemas = {current}
    schemas |= {s for s in tables if s}
    schemas |= {o.schema for o in declared if o.schema}
    return sorted(schemas)


def _flatten(ops) -> list:
    flat = []
    for op in ops:
        flat.extend(_flatten(op.ops) if isinstance(op, alembic_ops.OpContainer) else [op])
    return flat


_execute_all = registry.execute_all


def _create_for_comparison(conn, declared: Sequence[ReplaceableObject], kept=frozenset()) -> List[ReplaceableObject]:
    """Create every declared object, matviews without data, those ``kept`` (``(kind, schema, name)``
    still in the database) with CREATE OR REPLACE; return them in creation order."""
    current = catalog.current_schema(conn)
    empty = []
    for obj in declared:
        if isinstance(obj, ReplaceableMatview) and obj.with_data:
            obj = copy.copy(obj)
            obj.with_data = False
        if (obj.kind, obj.schema or current, obj.name) in kept and obj.create_or_replace() is not None:
            obj = copy.copy(obj)
            obj.create = obj.create_or_replace
        empty.append(obj)
    savepoint = conn.begin_nested()
    try:  # in the order given, at once: right when the registry lists bases first
        _execute_all(conn, registry.create_statements(empty))
        savepoint.commit()
        return list(declared)
    except sa.exc.DBAPIError:
        savepoint.rollback()
    created = registry.create_all(conn, empty)
    originals = {id(e): d for e, d in zip(empty, declared)}
    return [originals[id(obj)] for obj in created]


def _identity(conn, obj: ReplaceableObject, current: str, after_by_name: Dict[tuple, list]) -> tuple:
    schema = obj.schema or current
    candidates = after_by_name.get((obj.kind, schema, obj.name), [])
    if len(candidates) == 1 or obj.kind != "function":
        return candidates[0].identity if candidates else (obj.kind, schema, obj.name, "")
    found = dependents.find(conn, obj.kind, schema, obj.name, obj.arguments)  # an overload
    return (obj.kind, schema, obj.name, found.arguments if found else obj.arguments)


def _changed(previous: ReplaceableObject, normalised: ReplaceableObject, declared: ReplaceableObject) -> bool:
    if previous.fingerprint != normalised.fingerprint:
        return True
    everything = getattr(previous, "all_privileges", set())
    held = getattr(previous, "held", None)  # effective privileges; a plugin's kind may only have grants
    if held is None:
        held = {role: expand(privileges, everything) for role, privileges in previous.grants.items()}
    for role, privileges in declared.grants.items():  # grants made elsewhere are not drift
        if not expand(privileges, everything) <= held.get(role, set()):
            return True
    if isinstance(declared, ReplaceableMatview):
        have = {(ix.name, ix.columns, ix.unique) for ix in previous.indexes}
        if any((ix.name, ix.columns, ix.unique) not in have for ix in declared.indexes):
            return True
    return False


def _read(conn, kinds: Iterable[type], schemas: Sequence[str]) -> list:
    """Every object of ``kinds`` in ``schemas``, each with ``identity`` and ``fingerprint``."""
    return [obj for kind in kinds for obj in kind.from_database(conn, schemas)]


def _drop_for_comparison(conn, stored: list) -> set:
    """Drop the stored objects, outermost first, never with CASCADE (it would take aggregates,
    triggers or column defaults that use them, which a declared object may need). Return the
    ``(kind, schema, name)`` of those something else still depends on: they stay."""
    ordered = _outermost_first(conn, [obj for obj in stored if obj.kind in ddl.KEYWORDS])
    ordered += [obj for obj in stored if obj.kind not in ddl.KEYWORDS]  # plugin kinds, after what uses them
    drops = [(obj, ddl.DropObject(obj.kind, obj.schema, obj.name, obj.arguments, if_exists=True)
              if obj.kind in ddl.KEYWORDS else obj.drop()) for obj in ordered]
    savepoint = conn.begin_nested()
    try:  # at once, when nothing else depends on them (the usual case)
        _execute_all(conn, [drop for _, drop in drops])
        savepoint.commit()
        return set()
    except sa.exc.DBAPIError:
        savepoint.rollback()
    kept = set()
    for obj, drop in drops:
        savepoint = conn.begin_nested()
        try:
            conn.execute(drop)
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()
            kept.add((obj.kind, obj.schema, obj.name))
    return kept


def compare(conn, declared: Sequence[ReplaceableObject], metadata, kinds: Sequence[type], table_ops=()) -> list:
    """Operations that turn the database's objects into ``declared``, in the order to apply them.

    :param metadata: the models' `MetaData` (or a sequence of them), or the schemas its tables name
        (see `table_schemas`).
    :param kinds: the kinds of object to compare (the framework's and the plugins').
    :param table_ops: Alembic's operations for the tables, applied (and rolled
        back) before the declared objects are created, so they may use new columns.
    """
    from . import settled

    declared = list(declared)
    tables = table_schemas(metadata)
    current = catalog.current_schema(conn)
    schemas = managed_schemas(current, tables, declared)
    # A stored object in the default schema, which the app never names, is written into the
    # revision without a schema, as the app declares it: a tenant's run then replaces its own.
    named = {o.schema for o in declared} | tables
    unqualified_in = current if current not in named else None
    quick = settled.settle(conn, declared, schemas, _flatten(table_ops), kinds, current, unqualified_in)
    if quick is not None:  # decided from the records, locking nothing an app waits for
        changes, removed, unrecorded = quick
        conn.info.setdefault(UNRECORDED, []).extend(unrecorded)
        drops = [DropReplaceableObjectOp(obj) for obj in _outermost_first(conn, removed)]
        return drops + _fold_dependents(conn, changes)
    before = _read(conn, kinds, schemas)
    for obj in before:
        obj.unqualified = obj.schema == unqualified_in
    savepoint = conn.begin_nested()
    try:
        # Wait for no one long: the drops below lock what they drop until the rollback.
        conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        kept = _drop_for_comparison(conn, before)
        # Then the tables as the models have them, which the stored objects may have blocked.
        operations = Operations(MigrationContext.configure(conn))
        for op in _flatten(table_ops):
            operations.invoke(op)
        order = _create_for_comparison(conn, declared, kept)
        after = _read(conn, kinds, schemas)
        after_by_name: Dict[tuple, list] = {}
        for obj in after:
            after_by_name.setdefault(obj.identity[:3], []).append(obj)
        identities = [_identity(conn, obj, current, after_by_name) for obj in order]
    finally:
        savepoint.rollback()

    previous = {obj.identity: obj for obj in before}
    normalised = {obj.identity: obj for obj in after}
    blocked = _blocked_by(conn, table_ops)
    changes, recreated = [], []
    for obj, identity in zip(order, identities):
        if identity not in previous:
            changes.append(CreateReplaceableObjectOp(obj))
        elif getattr(previous[identity], "oid", None) in blocked:
            # A table change needs the stored version gone: drop it before, create the new one after.
            recreated.append(previous[identity])
            changes.append(CreateReplaceableObjectOp(obj))
        elif _changed(previous[identity], normalised[identity], obj):
            changes.append(ReplaceReplaceableObjectOp(obj, previous[identity]))
        elif obj.kind in records.RECORDED_KINDS:
            conn.info.setdefault(UNRECORDED, []).append(obj)  # in sync: a check records it if it may
    kept = set(identities)
    removed = [obj for obj in before if obj.identity not in kept]
    drops = [DropReplaceableObjectOp(obj) for obj in _outermost_first(conn, removed + recreated)]
    return drops + _fold_dependents(conn, changes)


def _blocked_by(conn, table_ops) -> set:
    """The oids of the stored objects that the table operations cannot run past: those reading a
    column that is dropped or retyped, or a table that is dropped, and everything below them."""
    columns = []
    for op in _flatten(table_ops):
        if isinstance(op, alembic_ops.DropColumnOp) or (
                isinstance(op, alembic_ops.AlterColumnOp) and op.modify_type is not None):
            columns.append((op.schema, op.table_name, op.column_name))
        elif isinstance(op, alembic_ops.DropTableOp):
            columns.append((op.schema, op.table_name, None))
    blocked = set()
    for cls, oid in graph.on_columns(conn, columns):
        blocked |= {o for _, o, _ in graph.closure(conn, cls, oid)}
    return blocked


def _captured_identity(captured) -> tuple:
    return (captured.kind, captured.schema, captured.name, captured.arguments or "")


def _below(conn, obj) -> List[tuple]:
    found = dependents.find(conn, obj.kind, obj.schema, obj.name, obj.arguments)
    return [_captured_identity(c) for c in dependents.dependents(conn, found)] if found else []


def _outermost_first(conn, removed: list) -> list:
    """Order objects to drop so that each comes before what it depends on."""
    tracked = {obj.oid: obj for obj in removed if getattr(obj, "oid", None)}
    nodes = [("f" if obj.kind == "function" else "r", oid) for oid, obj in tracked.items()]
    ordered = [tracked[oid] for oid in dependents.drop_order(conn, nodes)]
    return ordered + [obj for obj in removed if not getattr(obj, "oid", None)]  # plugin kinds


def _fold_dependents(conn, changes: list) -> list:
    """Fold a replaced object's replaced dependents into its operation.

    Putting back an old dependent after its base changed may no longer
    compile; so the new version takes its place when the base is replaced.
    """
    replaces = [op for op in changes if isinstance(op, ReplaceReplaceableObjectOp)]
    if len(replaces) < 2:
        return changes  # nothing to fold into another (and no catalog to read for it)
    folded = set()
    for op in replaces:
        if id(op) in folded:
            continue
        below = set(_below(conn, op.old))
        for other in replaces:
            if other is not op and id(other) not in folded and other.old.identity in below:
                op.dependents += (other.new,)
                op.previous_dependents += (other.old,)
                folded.add(id(other))
    return [op for op in changes if id(op) not in folded]
