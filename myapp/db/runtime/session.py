"""The limits a migrating session runs under, so that it never queues app queries for long.

``lock_timeout`` bounds every lock wait (the executor retries the transaction
that hit it), ``statement_timeout`` every statement, and
``idle_in_transaction_session_timeout`` how long a stalled client may sit on
its locks. TCP keepalives and ``client_connection_check_interval`` (PostgreSQL
14 and later) let the server notice a client that vanished and end its
statement, releasing its locks, within seconds.

On our own connections the limits are set for the session; on a caller's
connection, for our work only, and put back afterwards.
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterator

import sqlalchemy as sa


#: Server-side keepalives: a silent peer is dropped after IDLE + INTERVAL * COUNT seconds.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 2, 3
#: How often the server checks, during a statement, that the client is still there.
CLIENT_CHECK = 1.0

#: Read a setting, and set one (``local``: for the transaction only); values travel as bind parameters.
SHOW = sa.text("SELECT current_setting(CAST(:name AS text))")
SET = sa.text("SELECT set_config(CAST(:name AS text), CAST(:value AS text), CAST(:local AS boolean))")

#: The client-side (libpq) half, for connections we open ourselves.
CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": KEEPALIVE_IDLE,
    "keepalives_interval": KEEPALIVE_INTERVAL,
    "keepalives_count": KEEPALIVE_COUNT,
}


def _set_all(conn, values: Dict[str, str], local: bool) -> None:
    """Set every parameter in one round trip."""
    calls = ", ".join(
        f"set_config(CAST(:n{i} AS text), CAST(:v{i} AS text), CAST(:local AS boolean))" for i in range(len(values))
    )
    params = {"local": local}
    for i, (name, value) in enumerate(values.items()):
        params[f"n{i}"], params[f"v{i}"] = name, value
    conn.execute(sa.text(f"SELECT {calls}"), params)


def _ms(seconds) -> str:
    return f"{int(round((seconds or 0) * 1000))}ms"


def parameters(settings, server_version: int) -> Dict[str, str]:
    """The session parameters for migrating under ``settings``."""
    wanted = {
        "lock_timeout": _ms(settings.lock_timeout),
        "statement_timeout": _ms(settings.statement_timeout),
        "idle_in_transaction_session_timeout": _ms(settings.idle_timeout),
        "tcp_keepalives_idle": str(KEEPALIVE_IDLE),
        "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL),
        "tcp_keepalives_count": str(KEEPALIVE_COUNT),
    }
    if server_version >= 140000:
        wanted["client_connection_check_interval"] = _ms(CLIENT_CHECK)
    return wanted


@contextlib.contextmanager
def limited(conn, settings, *, owned: bool) -> Iterator[None]:
    """Run the block with the migration limits set on ``conn``.

    ``owned``: the connection is ours and closes after the command, so the
    parameters are simply set for the session. Otherwise they are set for the
    session or (inside the caller's transaction) for that transaction, and the
    caller's values are put back after the block.
    """
    local = conn.in_transaction() and not owned  # before any query here autobegins one
    major = (conn.dialect.server_version_info or (0,))[0]
    wanted = parameters(settings, major * 10000)
    previous = {} if owned else {name: conn.scalar(SHOW, {"name": name}) for name in wanted}
    _set_all(conn, wanted, local)
    if owned or not local:
        conn.commit()
    try:
        yield
    finally:
        if previous and not conn.invalidated:
            with contextlib.suppress(sa.exc.DBAPIError):
                if conn.in_transaction() and not local:
                    conn.rollback()
                _set_all(conn, previous, local)
                if not local:
                    conn.commit()
