"""The migration lock: a session-level advisory lock on the app's key, held for a whole run.

Taken before the version table is read, so a process that waited sees the
winner's work and finds nothing left to do.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..catalog import activity
from ..progress import Progress


def acquire(conn: Connection, key: int, progress: Progress) -> None:
    """Take the lock on ``key``, saying who holds it if this has to wait."""
    external = conn.in_transaction()
    if not conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key))):
        progress.waiting(activity.advisory_lock_holder(conn, key))
        conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
    if not external:
        conn.commit()  # end the autobegun transaction; the session lock stays


def release(conn: Connection, key: int, *, commit: bool, failing: bool) -> None:
    """Release the lock; while an error is on its way out, never hide it behind another."""
    try:
        conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
        if commit:
            conn.commit()
    except sa.exc.DBAPIError:
        # The lock then ends with the session.
        if not failing:
            raise
