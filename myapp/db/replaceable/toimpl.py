"""What the replaceable-object operations do to a database (their data is in `ops`).

Each function takes ``(operations, operation)``, as Alembic's implementations do.
"""

from __future__ import annotations

import sqlalchemy as sa

from .. import ddl
from ..catalog import lookup
from ..errors import ObjectError, first_line
from . import dependents
from .base import ReplaceableObject
from .matview import ReplaceableMatview


def _run(operations, statements) -> None:
    for statement in statements:
        operations.execute(statement)


def _declared_grants(obj: ReplaceableObject):
    return [(role, privilege) for role, privileges in obj.grants.items() for privilege in privileges]


def create_replaceable_object(operations, operation):
    obj = operation.target
    _run(operations, [obj.create(), *obj.after_create()])


def drop_replaceable_object(operations, operation):
    obj = operation.target
    if not operations.get_context().as_sql:
        conn = operations.get_bind()
        found = dependents.find(conn, obj.kind, obj.schema, obj.name, obj.arguments)
        below = dependents.dependents(conn, found) if found else []
        if below:
            raise ObjectError(
                obj.label,
                f"cannot drop {obj.label}: {', '.join(d.label for d in below)} "
                "depend on it; drop or replace them first"
            )
    operations.execute(obj.drop())


def _same(a, b) -> bool:
    """Whether two objects (declared or captured) name the same thing; no schema matches any."""
    return (a.kind, a.name) == (b.kind, b.name) and (not a.schema or not b.schema or a.schema == b.schema)


def _replace_in_place(operations, conn, new: ReplaceableObject, old) -> bool:
    """CREATE OR REPLACE when PostgreSQL accepts it as compatible; True if it did."""
    statement = new.create_or_replace()
    if statement is None or not _same(new, old):
        return False
    def count():
        return len(lookup.function_oids(conn, new.schema, new.name))

    before = count() if new.kind == "function" else None
    savepoint = conn.begin_nested()
    try:
        operations.execute(statement)
    except sa.exc.DBAPIError:
        # Columns renamed, reordered or retyped; a different return type: not compatible.
        savepoint.rollback()
        return False
    if before is not None and count() != before:
        savepoint.rollback()  # other argument types made an overload, not a replacement
        return False
    savepoint.commit()
    _run(operations, new.after_create())
    return True


def _find(conn, obj):
    found = dependents.find(conn, obj.kind, obj.schema, obj.name, obj.arguments)
    if found is None:
        raise ObjectError(obj.label, f"cannot replace {obj.label}: it is not in the database")
    return found


def _create_onto(operations, new: ReplaceableObject, captured) -> None:
    """Create ``new`` where ``captured`` was, with its owner, privileges, comment and extra indexes."""
    _run(operations, [new.create(), *new.index_statements()])
    declared = [ix.name for ix in new.indexes] if isinstance(new, ReplaceableMatview) else []
    _run(operations, captured.restore(new, skip_indexes=declared, grants=_declared_grants(new)))


def _replace(operations, new: ReplaceableObject, old, changed_dependents=()) -> None:
    conn = operations.get_bind()
    if _replace_in_place(operations, conn, new, old):
        for dependent in changed_dependents:
            _replace(operations, dependent, _find(conn, dependent))
        return
    current = old if isinstance(old, dependents.Captured) else _find(conn, old)
    below = dependents.dependents(conn, current)
    _run(operations, [d.drop() for d in reversed(below)])
    operations.execute(current.drop())
    _create_onto(operations, new, current)
    pending = list(changed_dependents)
    for captured in below:
        replacement = next((d for d in pending if _same(d, captured)), None)
        try:
            if replacement is not None:
                pending.remove(replacement)
                _create_onto(operations, replacement, captured)
            else:
                _run(operations, captured.recreate())
        except sa.exc.DBAPIError as exc:
            raise ObjectError(
                captured.label,
                f"cannot recreate {captured.label}, which depends on {new.label}, after replacing it: "
                f"{first_line(exc)}; pass its new version in dependents= of this replacement"
            ) from None
    for dependent in pending:  # changed, but did not depend on the old version
        _replace(operations, dependent, _find(conn, dependent))


def replace_replaceable_object(operations, operation):
    new, old, changed = operation.new, operation.old, operation.dependents
    if operations.get_context().as_sql:
        operations.execute(
            ddl.Comment(
                f"{new.label}: plain DROP and CREATE offline; dependents, privileges, owner\n"
                "and comment are read from the catalog only when migrating online."
            )
        )
        _run(operations, [d.drop() for d in reversed(changed)])
        _run(operations, [old.drop(), new.create(), *new.after_create()])
        _run(operations, [s for d in changed for s in (d.create(), *d.after_create())])
        return
    _replace(operations, new, old, changed)


def refresh_materialized_view(operations, operation):
    operations.execute(
        ddl.RefreshMaterializedView(operation.schema, operation.name, concurrently=operation.concurrently)
    )
