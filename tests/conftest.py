"""Test fixtures, on the myapp_db pytest plugin (myapp/db/testing/): one server per session, a fresh database per test.

The server is the plugin's: an embedded one in a temporary folder (deleted at
the end), or the server of ``--myapp-db-url`` / ``MYAPP_DATABASE_URL``, where
the tests only create and drop databases of their own. setup.cfg turns on the
plugin's built-in checks and runs every database test once per driver
(``myapp_db_drivers``). The fixtures below are the names the suite has always
used, as thin wrappers over the plugin's. Tests never skip for want of a database.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from myapp.apps import app as myapp_app
from myapp.db.cli import main

URL_VARIABLE = myapp_app.variable("DATABASE_URL")
MIGRATIONS_VARIABLE = myapp_app.variable("MIGRATIONS_DIR")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def sigint_as_from_a_terminal():
    """SIGINT handled (KeyboardInterrupt) in the test process, hence at its default in every command it
    starts. A test run started as a background job (``cmd &`` in a script) has SIGINT ignored; each
    process it starts would inherit that, and the tests that interrupt a command with SIGINT could not."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(scope="session")
def server_url(myapp_db_server) -> sa.URL:
    """A maintenance database on the session's one server (psycopg2; an AUTOCOMMIT engine's target)."""
    return myapp_db_server.url


@pytest.fixture(scope="session")
def admin_url(server_url, myapp_db_driver) -> sa.URL:
    """The server's URL with the driver this round of the suite uses."""
    return server_url.set(drivername=f"postgresql+{myapp_db_driver or 'psycopg2'}")


@pytest.fixture(scope="session")
def admin(myapp_db_server) -> sa.Engine:
    """An AUTOCOMMIT engine on the maintenance database."""
    return myapp_db_server.engine


class Databases:
    """Create and drop test databases on the session's server."""

    def __init__(self, server, admin_url):
        self.server, self.admin, self.admin_url, self.created = server, server.engine, admin_url, []

    def quote(self, name):
        return self.admin.dialect.identifier_preparer.quote(name)

    def create(self, template: str = "template0") -> sa.URL:
        name = self.server.create(template)
        self.created.append(name)
        return self.admin_url.set(database=name)

    def drop(self, name: str) -> None:
        self.server.drop(name)

    def drop_all(self):
        for name in self.created:
            self.drop(name)
        self.created.clear()


@pytest.fixture(scope="session")
def head_template(myapp_db_template) -> str:
    """A database migrated to head, cloned by `head_url`; it never changes after creation."""
    return myapp_db_template


@pytest.fixture
def databases(myapp_db_server, admin_url):
    dbs = Databases(myapp_db_server, admin_url)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def db_url(databases) -> str:
    """A fresh, empty database (made through `databases`, so a test's `databases.drop_all()` drops it too)."""
    return databases.create().render_as_string(hide_password=False)


@pytest.fixture
def head_url(databases, head_template) -> str:
    """A fresh database at head (a clone of the session's migrated template, the plugin's `myapp_db_template`)."""
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


@pytest.fixture(scope="session")
def pytest8_site(tmp_path_factory):
    """pytest 8 and pytest-alembic (which needs pytest below 9), installed in a folder of their own.

    Put it first on PYTHONPATH to run pytest 8 with the suite's other packages (and the
    myapp_db plugin, through the installed package's entry point).
    """
    target = tmp_path_factory.mktemp("pytest8-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", str(target), "pytest>=8,<9", "pytest-alembic==0.13.*", "--no-deps",
                    "iniconfig", "packaging"], check=True, capture_output=True)
    return target


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


@pytest.fixture(autouse=True, scope="session")
def own_cache_folder(tmp_path_factory):
    """The framework's per-user caches (revision index, remembered tables) in a folder of the session's:
    the suite writes thousands and must not fill the user's ``~/.cache``, nor read what it left there.

    Set in os.environ, so subprocesses inherit it.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield
