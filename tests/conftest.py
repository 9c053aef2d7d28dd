"""Test fixtures: one PostgreSQL server per session, a fresh database per test.

The server is the embedded one, private to this OS user as every embedded
server is (in a temporary directory, deleted at the end) unless ``MYAPP_TEST_ADMIN_URL`` names a server where the tests may create and
drop databases. Tests never skip for want of a database.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from myapp.apps import app as myapp_app
from myapp.db.cli import main

URL_VARIABLE = myapp_app.variable("DATABASE_URL")
MIGRATIONS_VARIABLE = myapp_app.variable("MIGRATIONS_DIR")

ROOT = Path(__file__).resolve().parent.parent


#: The suite runs every database test once per driver: psycopg2 and psycopg 3.
DRIVERS = ("psycopg2", "psycopg")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    """A maintenance database on the session's one server (psycopg2; an AUTOCOMMIT engine's target)."""
    configured = os.environ.get("MYAPP_TEST_ADMIN_URL")
    if configured:
        yield sa.make_url(configured).set(drivername="postgresql+psycopg2")
        return
    from myapp.db.runtime import embedded

    data_dir = tmp_path_factory.mktemp("pg") / "data"
    yield embedded.server_url(data_dir, "postgres")
    embedded.stop(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session", params=DRIVERS)
def admin_url(request, server_url):
    """The server's URL with the driver this round of the suite uses."""
    return server_url.set(drivername=f"postgresql+{request.param}")


@pytest.fixture(scope="session")
def admin(server_url):
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    yield engine
    engine.dispose()


class Databases:
    """Create and drop test databases on the session's server."""

    def __init__(self, admin, admin_url):
        self.admin, self.admin_url, self.created = admin, admin_url, []

    def quote(self, name):
        return self.admin.dialect.identifier_preparer.quote(name)

    def create(self, template: str = "template0") -> sa.URL:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {self.quote(name)} TEMPLATE {self.quote(template)}")
        self.created.append(name)
        return self.admin_url.set(database=name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.quote(name)} WITH (FORCE)")

    def drop_all(self):
        for name in self.created:
            self.drop(name)
        self.created.clear()


@pytest.fixture(scope="session")
def head_template(admin, admin_url):
    """A database migrated to head, cloned by `head_url`; it never changes after creation."""
    dbs = Databases(admin, admin_url)
    url = dbs.create()
    assert main(["migrate", "--url", url.render_as_string(hide_password=False)]) == 0
    yield url.database
    dbs.drop_all()


@pytest.fixture
def databases(admin, admin_url):
    dbs = Databases(admin, admin_url)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def db_url(databases) -> str:
    """A fresh, empty database."""
    return databases.create().render_as_string(hide_password=False)


@pytest.fixture
def head_url(databases, head_template) -> str:
    """A fresh database at head (a clone of the session's migrated template)."""
    return databases.create(template=head_template).render_as_string(hide_password=False)


@pytest.fixture
def engine_for():
    engines = []

    def make(url):
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def migrations_copy(tmp_path, monkeypatch):
    """A private copy of the package's migrations, used by every command in the test."""
    target = tmp_path / "migrations"
    shutil.copytree(
        myapp_app.migrations_dir({}), target, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setenv(MIGRATIONS_VARIABLE, str(target))
    return target


class Result:
    def __init__(self, status, out, err):
        self.status, self.out, self.err = status, out, err

    def __repr__(self):
        return f"Result(status={self.status}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def cli(monkeypatch):
    """Run ``python -m myapp.db ARGS`` in this process; return status, stdout and stderr."""
    monkeypatch.delenv(URL_VARIABLE, raising=False)

    def run(*args) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main([str(a) for a in args])
            except SystemExit as exc:  # argparse errors
                status = exc.code
        return Result(status, out.getvalue(), err.getvalue())

    return run


def run_process(*args, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m myapp.db ARGS`` as a separate process."""
    full_env = {k: v for k, v in os.environ.items() if k != URL_VARIABLE}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "myapp.db", *map(str, args)],
        capture_output=True, text=True, env=full_env, **kwargs,
    )


@pytest.fixture(autouse=True, scope="session")
def no_installed_plugins():
    """Load no installed third-party plugin unless a test names it in MYAPP_DB_LOAD_PLUGINS.

    Set in os.environ, so subprocesses (`run_process`) inherit it.
    """
    from myapp.db import plugins

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(plugins.LOAD_VARIABLE, "")
        mp.delenv(plugins.DISABLE_VARIABLE, raising=False)
        yield
