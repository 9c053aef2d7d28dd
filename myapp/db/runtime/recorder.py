"""The version table: which revisions a database is at, and recording a new position (stamp).

A connection pointed at a tenant (`tenancy`) reads and writes the version table in the tenant's schema.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .plan import Heads
from .tenancy import schema_of


def _context(conn) -> MigrationContext:
    schema = schema_of(conn)
    return MigrationContext.configure(conn, opts={"version_table_schema": schema} if schema else None)


def current_heads(conn) -> Heads:
    """Read the applied heads from the version table (empty when there is none)."""
    return tuple(_context(conn).get_current_heads())


def stamp(conn, script: ScriptDirectory, revision: str) -> Heads:
    """Record ``revision`` (``"heads"``, ``"base"`` or an id) as applied, running nothing; return the new heads."""
    _context(conn).stamp(script, revision)
    return current_heads(conn)
