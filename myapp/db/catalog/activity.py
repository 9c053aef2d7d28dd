"""Who holds what: sessions and their locks, from pg_locks and pg_stat_activity."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import List, Optional

import sqlalchemy as sa


@dataclass(frozen=True)
class Session:
    """A server session, as messages name it."""

    pid: int
    application_name: str
    client: str  # address, or "local socket"
    connected: Optional[datetime.datetime]
    transaction_start: Optional[datetime.datetime]  # None: not in a transaction
    query_start: Optional[datetime.datetime]
    state: str

    def __str__(self) -> str:
        who = f"pid {self.pid}"
        if self.application_name:
            who += f" ({self.application_name})"
        who += f" from {self.client}"
        if self.transaction_start is not None:
            who += f", in a transaction since {self.transaction_start:%H:%M:%S}"
        elif self.connected is not None:
            who += f", connected since {self.connected:%H:%M:%S}"
        if self.query_start is not None and self.state == "active":
            who += f", its query running since {self.query_start:%H:%M:%S}"
        return who


_SESSION = """
    a.pid, coalesce(a.application_name, '') AS application_name,
    coalesce(host(a.client_addr), 'local socket') AS client,
    a.backend_start, a.xact_start, a.query_start, coalesce(a.state, '') AS state
"""

_ADVISORY_HOLDER = sa.text(
    f"""
    SELECT {_SESSION}
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid)
    """
)

# What a backend waits for (the first lock it has not been granted) and behind whom. pg_locks and
# pg_blocking_pids take the lock manager's shared state; they run only while pg_stat_activity,
# which does not, says the backend waits for a lock (a lateral join is never executed for no row).
_WAIT = sa.text(
    f"""
    SELECT w.relation, {_SESSION}
    FROM pg_stat_activity me
    CROSS JOIN LATERAL (
        SELECT coalesce(CAST(CAST(l.relation AS regclass) AS text), l.locktype) AS relation
        FROM pg_locks l WHERE l.pid = me.pid AND NOT l.granted LIMIT 1) w
    CROSS JOIN LATERAL unnest(pg_blocking_pids(me.pid)) AS b(pid)
    JOIN pg_stat_activity a ON a.pid = b.pid
    WHERE me.pid = CAST(:pid AS integer) AND me.wait_event_type = 'Lock'
    ORDER BY a.pid
    """
)


@dataclass(frozen=True)
class Wait:
    """A backend waiting for a lock: on what, and behind which sessions."""

    relation: str
    blockers: List[Session]

    def __str__(self) -> str:
        return f"a lock on {self.relation}, behind {'; '.join(map(str, self.blockers)) or 'nobody (any more)'}"


# Sessions of this database holding an ACCESS EXCLUSIVE lock on a relation: all a read that only
# needs ACCESS SHARE (a catalog read deparsing a view locks what the view reads) can wait behind.
_EXCLUSIVE = sa.text(
    f"""
    SELECT CAST(CAST(l.relation AS regclass) AS text) AS relation, {_SESSION}
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'relation' AND l.granted AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY relation, a.pid
    """
)


def _session(row) -> Session:
    return Session(row.pid, row.application_name, row.client, row.backend_start, row.xact_start,
                   row.query_start, row.state)


def advisory_lock_holder(conn, key: int) -> Optional[Session]:
    """The session of this database holding the session advisory lock ``key`` (a bigint), if any."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(_ADVISORY_HOLDER, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
    return _session(row) if row is not None else None


def waiting_for(conn, pid: int) -> Optional[Wait]:
    """What backend ``pid`` waits for, or None when it is not waiting for a lock."""
    rows = conn.execute(_WAIT, {"pid": pid}).all()
    if not rows:
        return None
    return Wait(rows[0].relation, [_session(row) for row in rows])


def exclusive_holders(conn) -> List[Wait]:
    """Each relation another session holds an ACCESS EXCLUSIVE lock on, with the sessions holding it."""
    found: dict = {}
    for row in conn.execute(_EXCLUSIVE):
        found.setdefault(row.relation, []).append(_session(row))
    return [Wait(relation, sessions) for relation, sessions in found.items()]


def backend_lock_timeout(conn) -> "tuple[int, float]":
    """The backend's pid and its ``lock_timeout`` in seconds (0: none)."""
    row = conn.execute(sa.text(
        "SELECT pg_backend_pid() AS pid, CAST(setting AS integer) AS ms FROM pg_settings WHERE name = 'lock_timeout'"
    )).one()
    return row.pid, row.ms / 1000


def server_version(conn) -> int:
    """The server's version number, e.g. 180001."""
    return int(conn.scalar(sa.text("SHOW server_version_num")))
