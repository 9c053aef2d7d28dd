"""`ensure_at_head`: the start-up guard for an app that must not run against an old schema.

The Alembic cookbook's "test current database revision is at head", made
cheap enough for every start-up: one connection, one small query (what the
version table holds), and the history read from the revision files' text
(`history`), without importing Alembic or any revision.
"""

from __future__ import annotations

from typing import Any, Tuple

import sqlalchemy as sa

from ..errors import NotAtHead, sqlstate
from ..progress import Progress
from ..settings import Settings
from . import connection, history

#: Alembic's version table, as the recorder reads it (recorder imports Alembic; this must not).
_VERSION_TABLE = sa.table("alembic_version", sa.column("version_num"))


def current_revisions(conn) -> Tuple[str, ...]:
    """The revisions in the version table; empty when there is none.

    One statement, the table read directly: on a new server session, looking
    it up in the catalog first would cost as much again. A missing table
    (SQLSTATE 42P01) means no revision; in a caller's transaction the read runs
    in a savepoint, so that error cannot abort it.
    """
    savepoint = conn.begin_nested() if conn.in_transaction() else None
    try:
        found = tuple(sorted(conn.scalars(sa.select(_VERSION_TABLE.c.version_num))))
    except sa.exc.DBAPIError as exc:
        if sqlstate(exc) != "42P01":
            raise
        if savepoint is not None:
            savepoint.rollback()
        else:
            conn.rollback()
        return ()
    if savepoint is not None:
        savepoint.commit()
    return found


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
