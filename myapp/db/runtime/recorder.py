"""The version table: which revisions a database is at, and recording a new position (stamp).

A connection pointed at a tenant (`tenancy`) reads and writes the version table in the tenant's schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ..catalog import lookup
from .plan import Heads
from .tenancy import schema_of


def _context(conn) -> MigrationContext:
    schema = schema_of(conn)
    return MigrationContext.configure(conn, opts={"version_table_schema": schema} if schema else None)


#: Alembic's version table (``MigrationContext``'s default name), as much of it as reading needs.
VERSION_TABLE = "alembic_version"


def current_heads(conn) -> Heads:
    """Read the applied heads from the version table (empty when there is none).

    What ``MigrationContext.get_current_heads`` reads, without setting up a migration context:
    every command reads this first, and a no-op ``migrate`` little else.
    """
    schema = schema_of(conn)
    if not lookup.table_exists(conn, schema, VERSION_TABLE):
        return ()
    version = sa.table(VERSION_TABLE, sa.column("version_num"), schema=schema)
    return tuple(conn.scalars(sa.select(version.c.version_num)))


def stamp(conn, script: ScriptDirectory, revision: str) -> Heads:
    """Record ``revision`` (``"heads"``, ``"base"`` or an id) as applied, running nothing; return the new heads."""
    _context(conn).stamp(script, revision)
    return current_heads(conn)


def write_heads(conn, heads) -> None:
    """Make the version table say exactly ``heads`` (creating it as Alembic does), running nothing."""
    context = _context(conn)
    table = context.impl.version_table_impl(
        version_table=context.version_table, version_table_schema=context.version_table_schema, version_table_pk=True,
    )
    conn.execute(sa.schema.CreateTable(table, if_not_exists=True))
    conn.execute(table.delete())
    if heads:
        conn.execute(table.insert().values([{"version_num": h} for h in heads]))
