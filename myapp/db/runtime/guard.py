"""`ensure_at_head`: the start-up guard for an app that must not run against an old schema.

The Alembic cookbook's "test current database revision is at head", made
cheap enough for every start-up: one connection, two small queries (is there
a version table, what does it hold), and the history read from the revision
files' text (`history`), without importing Alembic or any revision.
"""

from __future__ import annotations

from typing import Any, Tuple

import sqlalchemy as sa

from ..catalog import lookup
from ..errors import NotAtHead
from ..progress import Progress
from ..settings import Settings
from . import connection, history

#: Alembic's version table, as the recorder reads it (recorder imports Alembic; this must not).
_VERSION_TABLE = sa.table("alembic_version", sa.column("version_num"))


def current_revisions(conn) -> Tuple[str, ...]:
    """The revisions in the version table; empty when there is none."""
    if lookup.relation_oid(conn, None, _VERSION_TABLE.name, "r") is None:
        return ()
    return tuple(sorted(conn.scalars(sa.select(_VERSION_TABLE.c.version_num))))


def ensure_at_head(database: Any = None, *, app=None) -> Tuple[str, ...]:
    """Raise `NotAtHead`, naming the missing revisions, unless the database is at head; return the heads.

    Takes the database as every command does (a URL, an Engine, a Connection,
    a Settings; nothing means the App's ``_DATABASE_URL`` or the embedded
    server). It only reads, takes no lock and loads no plugin. A database at a
    revision the history does not have (migrated by a newer release) is not at
    head either.
    """
    settings = Settings.resolve(database, app)
    revisions = history.read(settings.migrations_dir)
    with connection.connect(settings, Progress(), command="ensure_at_head") as conn:
        current = current_revisions(conn)
    unknown = [rev for rev in current if rev not in revisions.revisions]
    missing = revisions.missing(current)
    if unknown or missing:
        raise NotAtHead(current, revisions.heads, missing, unknown, "run 'python -m myapp.db migrate'")
    return current
