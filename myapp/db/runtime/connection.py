"""The only place that opens connections and begins transactions.

`connect` yields a connection to the database a `Settings` names: the
caller's own (left open; an open transaction on it is joined through a
savepoint, never committed), one taken from the caller's engine, or one of
our own to a URL or the embedded server. With ``lock=True`` it holds the
app's migration lock for the whole block (a tenant schema's own, when the
settings name one; see `tenancy`).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import ConfigurationError, ConnectError, first_line
from ..progress import Progress
from ..settings import Settings, masked
from . import lock as migration_lock
from . import session, tenancy


def _connect_error(url: sa.URL, exc: BaseException) -> ConnectError:
    message = first_line(exc)
    if "does not exist" in message and "database" in message:
        hint = f"create it (createdb {url.database}) or fix the URL"
    elif "authentication" in message or "password" in message:
        hint = "check the user name and password in the URL"
    else:
        hint = "check that the server is running and the URL is right"
    return ConnectError(masked(url), message, hint)


def engine_for(settings: Settings, *, application_name: str = "myapp.db") -> sa.Engine:
    """A new engine (no pool) for the URL or the embedded server ``settings`` name.

    Its connections say who they are (``application_name``) and, over TCP,
    send keepalives, so that a dead server or network ends a wait in bounded time.
    """
    url = settings.url
    if url is None:
        from . import embedded

        url = embedded.server_url(settings.embedded_data_dir, settings.app.database_name)
    connect_args = {"application_name": application_name, **session.CLIENT_KEEPALIVES}
    try:
        return sa.create_engine(url, poolclass=sa.NullPool, connect_args=connect_args)
    except ModuleNotFoundError as exc:  # the URL names a driver that is not installed
        package = "psycopg[binary]" if exc.name == "psycopg" else exc.name  # the only optional driver
        raise ConfigurationError(
            f"the URL {masked(url)} names the driver {url.get_driver_name()}, which is not installed "
            f"(no module {exc.name!r}); pip install '{package}', or use postgresql:// (psycopg2)"
        ) from None


@contextlib.contextmanager
def connect(
    settings: Settings,
    progress: Progress,
    *,
    lock: bool = False,
    command: str = "",
) -> Iterator[Connection]:
    """Yield a connection to the database of ``settings``, optionally holding the migration lock.

    The lock is a session-level advisory lock: it outlives the commits a
    ``--step`` migration makes, and is released in ``finally`` (or by the
    server, should this process die).
    """
    progress.database(settings.describe() + (f", schema {settings.schema!r}" if settings.schema else ""))
    engine = None
    if settings.connection is not None:
        conn, owned = settings.connection, False
    else:
        if settings.engine is not None:
            source = settings.engine
        else:
            source = engine = engine_for(settings, application_name=f"myapp.db {command}".strip())
        try:
            conn, owned = source.connect(), True
        except sa.exc.DBAPIError as exc:
            if engine is not None:
                engine.dispose()
            raise _connect_error(source.url, exc) from None
    # A caller's open transaction is the caller's to end; otherwise we end ours.
    ours = owned or not conn.in_transaction()
    try:
        with session.limited(conn, settings, owned=owned) if lock else contextlib.nullcontext(), \
                tenancy.tenant(conn, settings, owned=owned):
            if lock:
                migration_lock.acquire(conn, settings.lock_key, progress, wait=settings.lock_wait)
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
                    migration_lock.release(conn, settings.lock_key, commit=ours, failing=failed)
    finally:
        if owned:
            conn.close()
        if engine is not None:
            engine.dispose()


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """Run the block in a transaction of its own, or in a savepoint of the caller's.

    A savepoint keeps a failure from aborting the caller's transaction, so it
    stays usable, and the lock can be released, after the error.
    """
    with conn.begin_nested() if conn.in_transaction() else conn.begin():
        yield
