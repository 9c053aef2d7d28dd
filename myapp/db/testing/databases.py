"""Test databases: the session's server, one template per app migrated once, a clone per test.

`Server` is where every test database lives: a throwaway embedded PostgreSQL
(data in RAM where there is room, deleted at the end), the App's own embedded
server (when templates are kept between sessions), or a real server given by
URL, on which databases are only ever created and dropped, never the named one
touched. `Templates` migrates each app's template once, or keeps it between
sessions under a name that holds the `fingerprint` of its history and models.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa

from ..app import App
from ..ddl.databases import AllowConnections, CreateDatabase, DropDatabase, RenameDatabase
from ..errors import CommandError, ConnectError, first_line
from ..settings import Settings, masked, parse_url

#: A RAM-backed folder for the throwaway server, used when it has this much room: cloning a
#: database there is about four times faster than on a disk that syncs.
RAM = Path("/dev/shm")
RAM_NEEDED = 1 << 30


def _folder() -> Path:
    ram = None
    try:
        stat = os.statvfs(RAM)
        if stat.f_bavail * stat.f_frsize >= RAM_NEEDED and os.access(RAM, os.W_OK):
            ram = str(RAM)
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="myapp-db-test-", dir=ram))


class Server:
    """A PostgreSQL server where test databases are created (from a template) and dropped.

    :ivar url: its maintenance database (psycopg2), what CREATE and DROP DATABASE run on.
    """

    def __init__(self, url: sa.URL, stop: Optional[Callable[[], None]] = None, *, where: str = ""):
        self.url, self._stop, self.where = url, stop, where or masked(url)
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self._conn = None  # our own, kept open: a connect per CREATE DATABASE would double its cost

    @classmethod
    def throwaway(cls) -> "Server":
        """A new embedded server in a folder of its own (private to this OS user, as every embedded
        server is), stopped and deleted by `close`."""
        from ..runtime import embedded

        folder = _folder()
        data_dir = folder / "pgdata"
        try:
            url = embedded.server_url(data_dir, "postgres")
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise CommandError(
                f"could not start an embedded PostgreSQL for the tests in {folder}: {exc}; "
                "give a server with --myapp-db-url"
            ) from exc

        def stop():
            embedded.stop(data_dir)
            shutil.rmtree(folder, ignore_errors=True)

        return cls(url.set(drivername="postgresql+psycopg2"), stop, where=f"embedded PostgreSQL in {folder}")

    @classmethod
    def embedded_of(cls, app: App) -> "Server":
        """The App's own embedded server (its per-user data folder), started if needed and left running."""
        from ..runtime import embedded

        settings = Settings.from_env(app=app)
        url = embedded.server_url(settings.embedded_data_dir, app.database_name).set(database="postgres")
        return cls(url, where=f"embedded PostgreSQL in {settings.embedded_data_dir}")

    @classmethod
    def at(cls, url: str) -> "Server":
        """A real server: the URL's database is only connected to, to create and drop others."""
        server = cls(parse_url(url))
        try:
            server.engine.connect().close()
        except sa.exc.DBAPIError as exc:
            server.engine.dispose()
            raise ConnectError(masked(server.url), first_line(exc),
                               "the tests create their databases on this server: check the URL") from None
        return server

    # -- databases -----------------------------------------------------------

    def execute(self, statement) -> None:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect()
        self._conn.execute(statement)

    def url_for(self, name: str, driver: Optional[str] = None) -> sa.URL:
        """The URL of database ``name``, with ``driver`` (``psycopg2``, ``psycopg``) or the server's."""
        url = self.url.set(database=name)
        return url.set(drivername=f"postgresql+{driver}") if driver else url

    def create(self, template: Optional[str] = None, prefix: str = "test") -> str:
        """Create a database, a copy of ``template`` (default: an empty one); return its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(CreateDatabase(name, template or "template0"))
        return name

    def drop(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending the sessions still connected to it."""
        self.execute(DropDatabase(name))

    def names(self, prefix: str) -> List[str]:
        """The databases whose names start with ``prefix``."""
        from ..catalog import lookup

        with self.engine.connect() as conn:
            return lookup.databases_named(conn, prefix)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.engine.dispose()
        if self._stop is not None:
            self._stop()


def fingerprint(app: App, migrations_dir: Path) -> str:
    """A hash of what a template at head is made from: the revision files, env.py, template, models, registry.

    Any change to a revision file, the ORM (as the DDL it compiles to) or a
    declared view, function or materialized view changes it, as does a new
    version of the framework.
    """
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from .. import __version__

    digest = hashlib.sha256(f"myapp.db {__version__}\0{app.label}\0".encode())
    files = sorted((migrations_dir / "versions").glob("*.py"))
    files += [migrations_dir / own for own in ("env.py", "script.py.mako") if (migrations_dir / own).is_file()]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    dialect = postgresql.dialect()
    for table in app.metadata().sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    for obj in app.objects():
        digest.update(obj.render().encode())
    return digest.hexdigest()


class Templates:
    """Each app's template database at head: migrated once per session, or kept between sessions.

    A template nobody may connect to (``ALLOW_CONNECTIONS false``) can always be
    cloned: PostgreSQL refuses to copy a database while anyone is connected.
    With ``reuse``, the template is named after its `fingerprint` and kept; a
    session finds it by name, and builds (then keeps) a new one when the
    history or the models change, dropping the app's older ones.
    """

    def __init__(self, server: Server, *, reuse: bool = False):
        self.server, self.reuse = server, reuse
        self._built: Dict[Tuple[str, Path], object] = {}  # a name, or the error building it raised

    def get(self, app: App) -> str:
        """The name of ``app``'s template at head, built on first use."""
        migrations_dir = app.migrations_dir()
        key = (app.label, migrations_dir.resolve())
        if key not in self._built:
            try:
                self._built[key] = self._build(app, migrations_dir)
            except CommandError as exc:
                self._built[key] = exc
        found = self._built[key]
        if isinstance(found, Exception):
            raise found
        return found

    def _build(self, app: App, migrations_dir: Path) -> str:
        from ..commands import migrate

        label = app.label[:30]
        kept = f"test_{label}_keep_{fingerprint(app, migrations_dir)[:16]}" if self.reuse else None
        if kept and self.server.names(kept):
            return kept
        name = self.server.create(prefix=f"test_{label}_tmpl")
        try:
            migrate(self.server.url_for(name), app=app)
            self.server.execute(AllowConnections(name, False))
        except BaseException:
            self.server.drop(name)
            raise
        if not kept:
            return name
        try:
            self.server.execute(RenameDatabase(name, kept))
        except sa.exc.DBAPIError:  # another session built the same one meanwhile
            self.server.drop(name)
        for stale in self.server.names(f"test_{label}_keep_"):
            if stale != kept:
                try:
                    self.server.execute(DropDatabase(stale, force=False))
                except sa.exc.DBAPIError:
                    pass  # in use by another session: left for a later one
        return kept

    def close(self) -> None:
        """Drop the templates this session built and does not keep."""
        for name in self._built.values():
            if isinstance(name, str) and not (self.reuse and "_keep_" in name):
                self.server.drop(name)
