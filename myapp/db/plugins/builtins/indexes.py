"""Concurrent index builds that recover from a failed one: ``op.create_index(..., postgresql_concurrently=True)``.

A ``CREATE INDEX CONCURRENTLY`` that fails (a lock timeout, a duplicate key,
an interrupt) leaves an INVALID index behind, which ``IF NOT EXISTS`` then
keeps forever. Online, this implementation of Alembic's ``create_index`` first
drops an INVALID index of the same name (concurrently too), so the revision
can simply run again. It replaces Alembic's implementation and calls it.
"""

from alembic.operations import ops, toimpl

from ... import ddl
from ...catalog import lookup
from ..hookspecs import hookimpl


def create_index(operations, operation):
    if operation.kw.get("postgresql_concurrently") and not operations.get_context().as_sql:
        name = operation.index_name
        if name and lookup.invalid_index(operations.get_bind(), operation.schema, name):
            operations.execute(ddl.DropIndex(name, operation.schema, if_exists=True, concurrently=True))
    toimpl.create_index(operations, operation)


@hookimpl
def register_operations(operations):
    try:
        operations.implementation_for(ops.CreateIndexOp, replace=True)(create_index)
    except TypeError:  # Alembic before 1.17.2 replaces without being asked
        operations.implementation_for(ops.CreateIndexOp)(create_index)
