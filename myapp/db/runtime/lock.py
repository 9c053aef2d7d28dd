"""The migration lock: a session-level advisory lock on the app's key, held for a whole run.

Taken before the version table is read, so a process that waited sees the
winner's work and finds nothing left to do. It is never waited for inside
the server: ``pg_try_advisory_lock`` is polled, each try in a transaction of
its own, so a waiting process holds no snapshot (which would deadlock with
the holder's ``CREATE INDEX CONCURRENTLY``) and a role's ``lock_timeout``
cannot fail the wait.
"""

from __future__ import annotations

import time
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import Interrupted, LockWaitTimeout
from ..progress import Progress
from . import interrupts

#: Seconds between tries, and between "still waiting" lines.
POLL = 0.2
REMIND = 30.0


def acquire(conn: Connection, key: int, progress: Progress, *, wait: Optional[float] = None) -> None:
    """Take the lock on ``key``; say who holds it while this waits, at most ``wait`` seconds (None: no limit)."""
    external = conn.in_transaction()
    started = time.monotonic()
    remind = started + REMIND
    announced = False
    try:
        while True:
            got = conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key)))
            holder = None if got else _holder(conn, key)
            if not external:
                conn.commit()  # end the autobegun transaction: no snapshot between tries; the session lock stays
            if got:
                return
            now = time.monotonic()
            if not announced:
                progress.waiting(holder)
                announced = True
            elif now >= remind:
                progress.still_waiting(holder, now - started)
                remind = now + REMIND
            if wait is not None and now - started >= wait:
                raise LockWaitTimeout(
                    holder,
                    f"the migration lock is still held after {wait:g} s, by {holder or 'a session that just ended'}; "
                    "try again later, or raise --lock-wait",
                )
            time.sleep(POLL)
    except KeyboardInterrupt as exc:
        raise Interrupted(interrupts.signal_name(exc), "waiting for the migration lock",
                          "nothing was changed", interrupts.exit_status(exc)) from None


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


def _holder(conn: Connection, key: int):
    from ..catalog import activity  # only when the lock is taken: the common case never waits

    return activity.advisory_lock_holder(conn, key)
