"""The only place that opens connections, takes the migration lock and begins transactions."""

from __future__ import annotations

import contextlib
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import embedded, plugins
from .exceptions import CommandError, first_line
from .output import Progress
from .settings import Settings

#: Key of the session-level advisory lock every changing command holds ("myapp.db").
LOCK_KEY = 0x6D796170702E6462


def masked(url: sa.URL) -> str:
    """The URL as text with every password masked, the query string's included."""
    secret = {k: "***" for k in url.query if k in ("password", "sslpassword")}
    return url.update_query_dict(secret).render_as_string(hide_password=True)


def describe(settings: Settings) -> str:
    """Say which database ``settings`` point at, password masked."""
    if settings.connection is not None:
        return "the caller's connection to " + masked(settings.connection.engine.url)
    if settings.url is not None:
        return masked(settings.url)
    data_dir = settings.data_dir or embedded.default_data_dir()
    return f"embedded PostgreSQL, database {embedded.DATABASE!r} in {data_dir}"


def _connect_error(url: sa.URL, exc: sa.exc.DBAPIError) -> CommandError:
    message = first_line(exc)
    where = masked(url)
    if "does not exist" in message and "database" in message:
        hint = f"create it (createdb {url.database}) or fix the URL"
    elif "authentication" in message or "password" in message:
        hint = "check the user name and password in the URL"
    else:
        hint = "check that the server is running and the URL is right"
    return CommandError(f"cannot connect to {where}: {message}; {hint}")


@contextlib.contextmanager
def connection(settings: Settings, progress: Progress, *, lock: bool = False) -> Iterator[Connection]:
    """Yield a connection to the configured database, optionally holding the migration lock.

    The lock is a session-level advisory lock: it outlives the commits a
    ``--step`` migration makes, and is released in ``finally`` (or by the
    server, should this process die).
    """
    plugins.load()  # a broken plugin stops the command before it touches the database
    progress.database(describe(settings))
    if settings.connection is not None:
        conn, owned = settings.connection, False
    else:
        url = settings.url
        if url is None:
            url = embedded.server_url(settings.data_dir or embedded.default_data_dir())
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            conn, owned = engine.connect(), True
        except sa.exc.DBAPIError as exc:
            raise _connect_error(url, exc) from None
    # A caller's open transaction is the caller's to end; otherwise we end ours.
    ours = owned or not conn.in_transaction()
    try:
        if lock:
            _lock(conn, progress)
        failed = False
        try:
            yield conn
        except BaseException:
            failed = True
            raise
        finally:
            if ours and conn.in_transaction() and not conn.invalidated:
                conn.rollback()  # only reads can be left open here
            if lock and not conn.invalidated:  # invalidated: the server dropped the lock
                _unlock(conn, ours, failing=failed)
    finally:
        if owned:
            conn.close()
            conn.engine.dispose()


def _lock(conn: Connection, progress: Progress) -> None:
    external = conn.in_transaction()
    # Lock before reading the version table, so a waiting process sees the
    # winner's work and finds nothing left to do.
    if not conn.scalar(sa.select(sa.func.pg_try_advisory_lock(LOCK_KEY))):
        holder = conn.scalar(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :hi AND objid = :lo"
            ),
            {"hi": LOCK_KEY >> 32, "lo": LOCK_KEY & 0xFFFFFFFF},
        )
        progress.waiting(holder)
        conn.execute(sa.select(sa.func.pg_advisory_lock(LOCK_KEY)))
    if not external:
        conn.commit()  # end the autobegun transaction; the session lock stays


def _unlock(conn: Connection, ours: bool, failing: bool) -> None:
    try:
        conn.execute(sa.select(sa.func.pg_advisory_unlock(LOCK_KEY)))
        if ours:
            conn.commit()
    except sa.exc.DBAPIError:
        # Never hide the error that brought us here; the lock then ends with the session.
        if not failing:
            raise


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """Run the block in a transaction of its own, or in a savepoint of the caller's.

    A savepoint keeps a failure from aborting the caller's transaction, so it
    stays usable, and the lock can be released, after the error.
    """
    with conn.begin_nested() if conn.in_transaction() else conn.begin():
        yield
