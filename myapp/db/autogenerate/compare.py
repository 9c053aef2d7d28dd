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
from ..catalog import objects as catalog
from ..replaceable import dependents, registry
from ..replaceable.base import ReplaceableObject
from ..replaceable.matview import ReplaceableMatview
from ..replaceable.ops import CreateReplaceableObjectOp, DropReplaceableObjectOp, ReplaceReplaceableObjectOp


def managed_schemas(conn, metadata, declared: Iterable[ReplaceableObject]) -> List[str]:
    """The schemas the app manages: the default one and every schema its tables and objects name."""
    schemas = {catalog.current_schema(conn)}
    schemas |= {t.schema for t in metadata.tables.values() if t.schema}
    schemas |= {o.schema for o in declared if o.schema}
    return sorted(schemas)


def _flatten(ops) -> list:
    flat = []
    for op in ops:
        flat.extend(_flatten(op.ops) if isinstance(op, alembic_ops.OpContainer) else [op])
    return flat


def _execute_all(conn, statements) -> None:
    """Send statements in one round trip (one each for asyncpg, whose prepared statements hold one)."""
    if conn.dialect.driver == "asyncpg":
        for statement in statements:
            conn.execute(statement)
    elif statements:
        compiled = [str(s.compile(dialect=conn.dialect)) for s in statements]
        conn.exec_driver_sql(";\n".join(compiled))


def _create_for_comparison(conn, declared: Sequence[ReplaceableObject]) -> List[ReplaceableObject]:
    """Create every declared object, matviews without data; return them in creation order."""
    empty = []
    for obj in declared:
        if isinstance(obj, ReplaceableMatview) and obj.with_data:
            obj = copy.copy(obj)
            obj.with_data = False
        empty.append(obj)
    savepoint = conn.begin_nested()
    try:  # in the order given, at once: right when the registry lists bases first
        _execute_all(conn, [s for obj in empty for s in (obj.create(), *obj.after_create())])
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
    for role, privileges in declared.grants.items():  # grants made elsewhere are not drift
        if "ALL" in privileges or "ALL PRIVILEGES" in privileges:
            continue  # stored as the privileges it stands for
        if not set(privileges) <= set(previous.grants.get(role, ())):
            return True
    if isinstance(declared, ReplaceableMatview):
        have = {(ix.name, ix.columns, ix.unique) for ix in previous.indexes}
        if any((ix.name, ix.columns, ix.unique) not in have for ix in declared.indexes):
            return True
    return False


def _read(conn, kinds: Iterable[type], schemas: Sequence[str]) -> list:
    """Every object of ``kinds`` in ``schemas``, each with ``identity`` and ``fingerprint``."""
    return [obj for kind in kinds for obj in kind.from_database(conn, schemas)]


def compare(conn, declared: Sequence[ReplaceableObject], metadata, kinds: Sequence[type], table_ops=()) -> list:
    """Operations that turn the database's objects into ``declared``, in the order to apply them.

    :param kinds: the kinds of object to compare (the framework's and the plugins').
    :param table_ops: Alembic's operations for the tables, applied (and rolled
        back) before the declared objects are created, so they may use new columns.
    """
    declared = list(declared)
    schemas = managed_schemas(conn, metadata, declared)
    current = catalog.current_schema(conn)
    before = _read(conn, kinds, schemas)
    # A stored object in the default schema, which the app never names, is written into the
    # revision without a schema, as the app declares it: a tenant's run then replaces its own.
    named = {o.schema for o in declared} | {t.schema for t in metadata.tables.values()}
    for obj in before:
        obj.unqualified = obj.schema == current and current not in named
    savepoint = conn.begin_nested()
    try:
        # Wait for no one: the drops below lock what they drop until the rollback.
        conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        # CASCADE is safe here: the savepoint is rolled back whatever happens.
        _execute_all(conn, [
            ddl.DropObject(obj.kind, obj.schema, obj.name, obj.arguments, if_exists=True, cascade=True)
            if obj.kind in ddl.KEYWORDS else obj.drop()
            for obj in sorted(before, key=lambda o: o.kind not in ddl.KEYWORDS)
        ])
        # Then the tables as the models have them, which the stored objects may have blocked.
        operations = Operations(MigrationContext.configure(conn))
        for op in _flatten(table_ops):
            operations.invoke(op)
        order = _create_for_comparison(conn, declared)
        after = _read(conn, kinds, schemas)
        after_by_name: Dict[tuple, list] = {}
        for obj in after:
            after_by_name.setdefault(obj.identity[:3], []).append(obj)
        identities = [_identity(conn, obj, current, after_by_name) for obj in order]
    finally:
        savepoint.rollback()

    previous = {obj.identity: obj for obj in before}
    normalised = {obj.identity: obj for obj in after}
    changes = []
    for obj, identity in zip(order, identities):
        if identity not in previous:
            changes.append(CreateReplaceableObjectOp(obj))
        elif _changed(previous[identity], normalised[identity], obj):
            changes.append(ReplaceReplaceableObjectOp(obj, previous[identity]))
    kept = set(identities)
    removed = [obj for obj in before if obj.identity not in kept]
    drops = [DropReplaceableObjectOp(obj) for obj in _outermost_first(conn, removed)]
    return drops + _fold_dependents(conn, changes)


def _captured_identity(captured) -> tuple:
    return (captured.kind, captured.schema, captured.name, captured.arguments or "")


def _below(conn, obj) -> List[tuple]:
    found = dependents.find(conn, obj.kind, obj.schema, obj.name, obj.arguments)
    return [_captured_identity(c) for c in dependents.dependents(conn, found)] if found else []


def _outermost_first(conn, removed: list) -> list:
    """Order objects to drop so that each comes before what it depends on."""
    tracked = {obj.oid: obj for obj in removed if getattr(obj, "oid", None)}
    ordered = [tracked[oid] for oid in dependents.drop_order(conn, list(tracked))]
    return ordered + [obj for obj in removed if not getattr(obj, "oid", None)]  # plugin kinds


def _fold_dependents(conn, changes: list) -> list:
    """Fold a replaced object's replaced dependents into its operation.

    Putting back an old dependent after its base changed may no longer
    compile; so the new version takes its place when the base is replaced.
    """
    replaces = [op for op in changes if isinstance(op, ReplaceReplaceableObjectOp)]
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
