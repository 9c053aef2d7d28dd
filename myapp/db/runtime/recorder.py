"""The version table: which revisions a database is at, and recording a new position (stamp)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .plan import Heads


def current_heads(conn) -> Heads:
    """Read the applied heads from the version table (empty when there is none)."""
    return tuple(MigrationContext.configure(conn).get_current_heads())


def stamp(conn, script: ScriptDirectory, revision: str) -> Heads:
    """Record ``revision`` (``"heads"``, ``"base"`` or an id) as applied, running nothing; return the new heads."""
    MigrationContext.configure(conn).stamp(script, revision)
    return current_heads(conn)
