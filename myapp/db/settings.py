"""What one command works on, resolved once into a `Settings`: the App, the database, the folders.

A command accepts its database as a URL (``str`` or `sqlalchemy.URL`), an
`Engine`, a caller's `Connection` (an `AsyncConnection`'s, through
``run_sync``), a `Settings`, or nothing: then ``<PREFIX>_DATABASE_URL``, else
the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .app import App, load_app
from .errors import ConfigurationError

#: Drivers that work from a URL: psycopg2 (the default for plain postgresql://) and psycopg 3.
SYNC_DRIVERS = ("psycopg2", "psycopg")
ACCEPTED = "a URL (str or sqlalchemy.URL), an Engine, a Connection, or a Settings"


#: Passwords seen in this process (from URLs and engines), masked wherever they appear.
_secrets: set = set()


def remember_secret(value: Optional[str]) -> None:
    """Mask ``value`` in every message from now on (too short a value would mask ordinary words)."""
    from urllib.parse import quote, unquote

    if value and len(value) >= 4:
        _secrets.update({value, quote(value, safe=""), unquote(value)})


#: "user:password@" anywhere, also where a URL lost its "//".
_USER_PASSWORD = re.compile(r"([\w.%+-]+):([^\s@/]+)@")


def mask(text: str) -> str:
    """``text`` with every password in it masked: in URLs, ``password=`` pairs, SQL, and every one seen."""
    text = str(text)
    text = re.sub(r"(://[^:/@\s]*:)\S*@", r"\1***@", text)
    # A URL cut short before its '@' (as some messages quote one): what follows "user:" is no port.
    text = re.sub(r"(://[^:/@\s'\"]*:)(?!\d*(?:[/?'\"\s]|$))[^/@\s'\"]+(?=['\"\s]|$)", r"\1***", text)
    text = re.sub(r"(?i)((?:ssl)?password\s*=\s*)('[^']*'|\"[^\"]*\"|[^&\s'\";]*)", r"\1***", text)
    # A URL mistyped before its '//' ("postgres//me:secret@db"): still "user:password@".
    text = _USER_PASSWORD.sub(lambda m: m.group(0) if m.group(2) == "***" else f"{m.group(1)}:***@", text)
    text = re.sub(r"(?i)(\bpassword\s+)'(?:[^']|'')*'", r"\1'***'", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def masked(url) -> str:
    """The URL as text with every password masked, the query string's included."""
    secret = {k: "***" for k in url.query if k.lower() in ("password", "sslpassword")}
    return url.update_query_dict(secret).render_as_string(hide_password=True)


def _remember_passwords(url) -> None:
    remember_secret(url.password)
    for key, value in url.query.items():
        if key.lower() in ("password", "sslpassword"):
            for one in (value,) if isinstance(value, str) else value:
                remember_secret(one)


def parse_url(text: Any):
    """Parse a database URL; plain ``postgresql://`` means psycopg2."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    if isinstance(text, URL):
        url = text
    else:
        match = re.match(r"[^:/]*://[^:/@]*:(.*)@", str(text))
        if match:
            remember_secret(match.group(1))
        else:
            mistyped = _USER_PASSWORD.search(str(text))
            if mistyped:
                remember_secret(mistyped.group(2))
        try:
            url = make_url(text)
        except (ArgumentError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"malformed database URL {mask(str(text))!r}: {mask(str(exc))}; "
                "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            ) from None
    _remember_passwords(url)
    if "@" in (url.host or "") or "@" in (url.username or ""):
        raise ConfigurationError(
            f"the database URL {masked(url)!r} has an '@' in its user name or password: "
            "write it percent-encoded, as %40"
        )
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"unsupported database {url.get_backend_name()!r} in the URL: "
            "myapp.db needs PostgreSQL (postgresql://...)"
        )
    driver = url.get_driver_name() if "+" in url.drivername else "psycopg2"
    if driver not in SYNC_DRIVERS:
        hint = (
            "an async driver: open your AsyncConnection and pass the Connection that "
            "run_sync gives, or write postgresql+psycopg://"
            if driver in ("asyncpg", "psycopg_async")
            else "write postgresql://, postgresql+psycopg2:// or postgresql+psycopg://"
        )
        raise ConfigurationError(f"unsupported driver {url.drivername!r} in the URL: {hint}")
    url = url.set(drivername=f"postgresql+{driver}")
    if not url.database:
        raise ConfigurationError("the database URL names no database: add one, as in postgresql://HOST/DATABASE")
    return url


#: (Settings field, variable suffix, type): ``<PREFIX>_DB_LOCK_TIMEOUT`` and its siblings.
_LIMIT_VARIABLES = (
    ("lock_timeout", "DB_LOCK_TIMEOUT", float),
    ("lock_retries", "DB_LOCK_RETRIES", int),
    ("lock_wait", "DB_LOCK_WAIT", float),
    ("statement_timeout", "DB_STATEMENT_TIMEOUT", float),
    ("idle_timeout", "DB_IDLE_TIMEOUT", float),
)


def _limit(where: str, value: Any, kind: type):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < 0 or number != number or number in (float("inf"),):
        unit = "a whole number of retries" if kind is int else "a number of seconds"
        raise ConfigurationError(f"{where} is {value!r}: give {unit}, 0 or more")
    return number


#: PostgreSQL truncates longer names (NAMEDATALEN - 1 bytes), so two long tenant names could meet.
MAX_NAME_BYTES = 63


def schema_name(value: Any, app: App) -> str:
    """A tenant schema's name as given, or a one-line error saying what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"tenant schema {value!r} is not a schema name: give a non-empty name")
    if len(value.encode()) > MAX_NAME_BYTES:
        raise ConfigurationError(
            f"tenant schema {value[:20]!r}... is longer than PostgreSQL's {MAX_NAME_BYTES} bytes, "
            "which would cut it short; choose a shorter name"
        )
    if value.startswith("pg_") or value == "information_schema":
        raise ConfigurationError(f"{value!r} is one of PostgreSQL's own schemas, not a tenant")
    if value in app.shared_schemas:
        raise ConfigurationError(
            f"{value!r} is a shared schema of app {app.label!r}, not a tenant: "
            "migrate it without --schema"
        )
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know before it touches a database.

    Exactly one source of the database is used, in this order: ``connection``
    (a caller's open connection, left open and in the caller's hands),
    ``engine`` (a caller's engine: a connection of its own is taken from it),
    ``url``, else the embedded PostgreSQL in ``data_dir``.
    """

    app: App
    url: Any = None
    connection: Any = None
    engine: Any = None
    data_dir: Optional[Path] = None
    migrations_dir: Optional[Path] = None
    #: Seconds a migration statement may wait for a lock before its transaction is retried.
    lock_timeout: float = 2.0
    #: How many times a transaction that hit the lock timeout is retried.
    lock_retries: int = 10
    #: Seconds to wait for the migration lock (None: as long as it takes).
    lock_wait: Optional[float] = None
    #: Seconds a migration statement may run (None: no limit).
    statement_timeout: Optional[float] = None
    #: Seconds a migrating session may sit idle inside its transaction before the server ends it.
    idle_timeout: float = 60.0
    #: The tenant schema to work in (None: the database's own default schema).
    schema: Optional[str] = None

    @classmethod
    def from_env(
        cls,
        url: Any = None,
        *,
        app: Union[App, str, None] = None,
        connection: Any = None,
        engine: Any = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> "Settings":
        """Resolve settings from the arguments first, then the App's environment variables."""
        environ = os.environ if environ is None else environ
        app = load_app(app, environ)
        if isinstance(url, str) and not url.strip():
            raise ConfigurationError("--url is empty: give a database URL, or leave the option out")
        if connection is None and engine is None:
            url = url if url is not None else environ.get(app.variable("DATABASE_URL")) or None
        else:
            _remember_passwords((connection.engine if engine is None else engine).url)
            url = None
        data_dir = environ.get(app.variable("DATA_DIR"))
        limits = {}
        for field_name, name, kind in _LIMIT_VARIABLES:
            text = environ.get(app.variable(name))
            if text:
                limits[field_name] = _limit(app.variable(name), text, kind)
        return cls(
            app=app,
            url=parse_url(url) if url is not None else None,
            connection=connection,
            engine=engine,
            data_dir=Path(data_dir).expanduser() if data_dir else None,
            migrations_dir=app.migrations_dir(environ),
            **limits,
        )

    def limited(self, **limits: Any) -> "Settings":
        """These settings with the given limits (``lock_timeout=5``, ...); None leaves one as it is."""
        given = {}
        for field_name, name, kind in _LIMIT_VARIABLES:
            value = limits.pop(field_name, None)
            if value is not None:
                given[field_name] = _limit(f"--{field_name.replace('_', '-')}", value, kind)
        if limits:
            raise TypeError(f"unknown limit(s) {', '.join(limits)}")
        return replace(self, **given) if given else self

    def for_schema(self, schema: Optional[str]) -> "Settings":
        """These settings for tenant schema ``schema`` (None leaves them as they are)."""
        return self if schema is None else replace(self, schema=schema_name(schema, self.app))

    @property
    def lock_key(self) -> int:
        """The migration lock's key: the app's, or the tenant schema's own."""
        return self.app.lock_key_for(self.schema)

    @classmethod
    def resolve(cls, database: Any = None, app: Union[App, str, None] = None) -> "Settings":
        """Settings for whatever a command was given as its database (see the module docstring)."""
        from sqlalchemy.engine import URL, Connection, Engine

        if isinstance(database, Settings):
            return database if app is None else replace(database, app=load_app(app))
        if isinstance(database, Connection):
            return cls.from_env(app=app, connection=database)
        if isinstance(database, Engine):
            return cls.from_env(app=app, engine=database)
        if database is None or isinstance(database, (str, URL)):
            return cls.from_env(database, app=app)
        kind = type(database).__name__
        hint = ""
        if kind in ("AsyncConnection", "AsyncEngine"):
            hint = "; for an async one, call the command inside 'await conn.run_sync(...)'"
        raise ConfigurationError(f"cannot use a {kind} as the database: give {ACCEPTED}{hint}")

    @property
    def embedded(self) -> bool:
        return self.connection is None and self.engine is None and self.url is None

    @property
    def embedded_data_dir(self) -> Path:
        return self.data_dir or self.app.default_data_dir()

    def describe(self) -> str:
        """Say which database these settings point at, password masked."""
        if self.connection is not None:
            return "the caller's connection to " + masked(self.connection.engine.url)
        if self.engine is not None:
            return "the caller's engine for " + masked(self.engine.url)
        if self.url is not None:
            return masked(self.url)
        return f"embedded PostgreSQL, database {self.app.database_name!r} in {self.embedded_data_dir}"
