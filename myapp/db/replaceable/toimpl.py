"""What the replaceable-object operations do to a database (their data is in `ops`).

Each function takes ``(operations, operation)``, as Alembic's implementations do.
"""

from __future__ import annotations

from .. import ddl
from ..runtime import records
from ..errors import ObjectError
from . import dependents
from .base import ReplaceableObject
from .function import ReplaceableFunction
from .matview import ReplaceableMatview

#: The kinds the server-side replacement handles (`myapp.db.ddl.replace`).
_SERVER_KINDS = ("view", "materialized view", "function")


def _run(operations, statements) -> None:
    for statement in statements:
        operations.execute(statement)


def _declared_grants(obj: ReplaceableObject):
    return [(role, privilege) for role, privileges in obj.grants.items() for privilege in privileges]


def _record(operations, *objects) -> None:
    """Have the revision record what it created when it ends (`myapp.db.runtime.hooks` writes it),
    for checks that need not ask PostgreSQL to normalise it again."""
    records.pending_objects(operations.get_context()).extend(o for o in objects if o.kind in records.RECORDED_KINDS)


def create_replaceable_object(operations, operation):
    obj = operation.target
    _run(operations, [obj.create(), *obj.after_create()])
    _record(operations, obj)


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
    if obj.kind in records.RECORDED_KINDS:
        records.pending_objects(operations.get_context()).append(records.Forget(obj))


def _target(obj: ReplaceableObject) -> ddl.Target:
    arguments = obj.input_arguments if isinstance(obj, ReplaceableFunction) else ()
    return ddl.Target(obj.label, obj.kind, obj.schema, obj.name, arguments)


def _step(new: ReplaceableObject, old: ReplaceableObject) -> ddl.Step:
    return ddl.Step(
        new=_target(new), old=_target(old),
        create=[new.create(), *new.index_statements()], or_replace=new.create_or_replace(),
        grants=_declared_grants(new),
        indexes=[ix.name for ix in new.indexes] if isinstance(new, ReplaceableMatview) else [],
    )


def _plain(new: ReplaceableObject, old: ReplaceableObject) -> list:
    """A kind the server-side replacement does not know (a plugin's): in place if it can be, else
    DROP and CREATE; its dependents are not tracked."""
    in_place = new.create_or_replace()
    if in_place is not None:
        return [in_place, *new.after_create()]
    return [old.drop(), new.create(), *new.after_create()]


def replace_replaceable_object(operations, operation):
    """Replace ``old`` by ``new``: the server does it, reading its catalog when the statement
    runs, so ``migrate --sql`` prints the very statement ``migrate`` executes."""
    new, old, changed = operation.new, operation.old, operation.dependents
    if new.kind not in _SERVER_KINDS or old.kind not in _SERVER_KINDS:
        _run(operations, _plain(new, old))
        _run(operations, [s for d in changed for s in _plain(d, d)])
        _record(operations, new, *changed)
        records.pending_objects(operations.get_context()).append(records.REFRESH)
        return
    if operations.get_context().as_sql:
        operations.execute(ddl.Comment(
            f"Replace {old.label}. The server does it when this runs: CREATE OR REPLACE\n"
            "where compatible; else it finds the dependents in pg_depend, saves their definitions,\n"
            "owners, privileges, comments, indexes, triggers and populated state, drops them,\n"
            "creates the new version and puts them back."
        ))
    operations.execute(ddl.ReplaceObjects([_step(new, old), *(_step(d, d) for d in changed)]))
    _record(operations, new, *changed)
    # the server may have recreated dependents the revision does not name: their rows moved
    records.pending_objects(operations.get_context()).append(records.REFRESH)


def refresh_materialized_view(operations, operation):
    operations.execute(
        ddl.RefreshMaterializedView(operation.schema, operation.name, concurrently=operation.concurrently)
    )
