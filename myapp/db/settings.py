"""Where the database is and where the migrations are, resolved once into a `Settings`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .exceptions import CommandError

URL_VARIABLE = "MYAPP_DATABASE_URL"
DATA_DIR_VARIABLE = "MYAPP_DATA_DIR"
MIGRATIONS_VARIABLE = "MYAPP_MIGRATIONS_DIR"

#: The Alembic environment, script template and revisions shipped in the package.
PACKAGE_MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


def parse_url(text: str) -> URL:
    """Parse a database URL; a psycopg2 driver is implied for plain ``postgresql://``."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise CommandError(
            f"malformed database URL {text!r}: {exc}; "
            "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    if url.get_backend_name() != "postgresql":
        raise CommandError(
            f"unsupported database {url.get_backend_name()!r} in the URL: "
            "myapp needs PostgreSQL (postgresql://...)"
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    elif url.drivername != "postgresql+psycopg2":
        raise CommandError(
            f"unsupported driver {url.drivername!r} in the URL: myapp uses psycopg2; "
            "write postgresql:// or postgresql+psycopg2://"
        )
    if not url.database:
        raise CommandError(
            "the database URL names no database: add one, as in postgresql://HOST/DATABASE"
        )
    return url


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know before it touches a database.

    Exactly one source of the database is used, in this order: ``connection``
    (a caller's open SQLAlchemy connection, left open and in the caller's
    hands), ``url``, else the embedded PostgreSQL in ``data_dir``.
    """

    url: Optional[URL] = None
    connection: Any = None
    data_dir: Optional[Path] = None
    migrations_dir: str = PACKAGE_MIGRATIONS

    @classmethod
    def from_env(
        cls,
        url: Optional[str] = None,
        *,
        connection: Any = None,
        environ: Optional[dict] = None,
    ) -> "Settings":
        """Resolve settings from arguments first, then ``MYAPP_*`` environment variables."""
        environ = os.environ if environ is None else environ
        if url is not None and not url.strip():
            raise CommandError("--url is empty: give a database URL, or leave the option out")
        text = url if url is not None else environ.get(URL_VARIABLE) or None
        data_dir = environ.get(DATA_DIR_VARIABLE)
        return cls(
            url=parse_url(text) if text and connection is None else None,
            connection=connection,
            data_dir=Path(data_dir).expanduser() if data_dir else None,
            migrations_dir=environ.get(MIGRATIONS_VARIABLE) or PACKAGE_MIGRATIONS,
        )

    @property
    def embedded(self) -> bool:
        return self.connection is None and self.url is None
