"""Who holds what: sessions and their locks, from pg_locks and pg_stat_activity."""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa

_ADVISORY_HOLDER = sa.text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid) AND objsubid = 1"
)


def advisory_lock_holder(conn, key: int) -> Optional[int]:
    """The server process holding the session advisory lock ``key`` (a bigint), if any."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return conn.scalar(_ADVISORY_HOLDER, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF})
