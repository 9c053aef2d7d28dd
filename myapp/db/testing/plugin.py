"""The pytest plugin (entry point ``pytest11``, name ``myapp_db``): fixtures and checks for any App.

Options (each also an ini option, see `pytest_addoption`): ``--myapp-db-app``,
``--myapp-db-url``, ``--myapp-db-reuse``, ``--myapp-db-checks``,
``--myapp-db-driver``. The server starts on first use, so a session that
uses none of this pays nothing; ``-p no:myapp_db`` turns the plugin off.

Fixtures: ``myapp_db`` (URL of a fresh clone of the app's template at head),
``myapp_db_connection`` (a Connection to it in a transaction rolled back after
the test), ``myapp_db_empty`` (URL of a fresh empty database),
``myapp_db_migrator`` (a `Migrator` on an empty database); and the session
ones they stand on, which a conftest.py may use or override: ``myapp_db_app``,
``myapp_db_driver``, ``myapp_db_server``, ``myapp_db_template``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

_STATE = pytest.StashKey["_State"]()
#: The built-in checks, in the order they run (see `checks`).
CHECKS = ("single_head", "up_down_up", "bootstrap_equals_migrate", "models_match", "lint")


def pytest_addoption(parser) -> None:
    group = parser.getgroup("myapp_db", "myapp.db: test databases and migration checks")
    group.addoption("--myapp-db-app", action="append", dest="myapp_db_app", metavar="MODULE:ATTR",
                    help="the App to test (repeat for several); default: ini myapp_db_app, "
                         "$MYAPP_DB_APP, else myapp's own")
    group.addoption("--myapp-db-url", dest="myapp_db_url", metavar="URL",
                    help="a server where the tests may create and drop databases (the URL's own database "
                         "is never changed); default: the App's _DATABASE_URL variable, else an embedded one")
    group.addoption("--myapp-db-reuse", action="store_true", default=None, dest="myapp_db_reuse",
                    help="keep each template database between sessions while the history and models "
                         "are unchanged")
    group.addoption("--myapp-db-checks", nargs="?", const="all", dest="myapp_db_checks", metavar="NAMES",
                    help="collect the built-in checks (all, or some of: " + ", ".join(CHECKS) + ")")
    group.addoption("--myapp-db-driver", action="append", dest="myapp_db_driver", metavar="DRIVER",
                    help="run the database tests and checks with this driver (psycopg2, psycopg); "
                         "repeat to run them once per driver")
    parser.addini("myapp_db_app", "the App(s) to test, MODULE:ATTR, one per line", type="linelist")
    parser.addini("myapp_db_reuse", "keep template databases between sessions", type="bool", default=False)
    parser.addini("myapp_db_checks", "the built-in checks to collect: all, or names", default="")
    parser.addini("myapp_db_drivers", "drivers to run the database tests with, each in turn", type="args")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "myapp_db_check: a built-in migration check of the myapp_db plugin")
    config.stash[_STATE] = _State(config)


def pytest_unconfigure(config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


class _State:
    """The session's apps, server, templates and check databases, each made on first use."""

    def __init__(self, config):
        self.config = config
        self.drivers: List[Optional[str]] = self._drivers()
        self.checks, self.checks_asked = _requested_checks(config)
        self._apps: Optional[List[Tuple[str, Any]]] = None
        self._server = self._templates = None
        self._error: Optional[str] = None
        self.walkers: Dict[Tuple[str, Optional[str]], Any] = {}
        if config.getoption("myapp_db_app") or config.getini("myapp_db_app"):
            self._apps = self._load_apps()  # named apps are imported now: a wrong one is a usage error

    def _drivers(self) -> List[Optional[str]]:
        from ..settings import SYNC_DRIVERS

        drivers = self.config.getoption("myapp_db_driver") or self.config.getini("myapp_db_drivers") or [None]
        wrong = [d for d in drivers if d is not None and d not in SYNC_DRIVERS]
        if wrong:
            raise pytest.UsageError(f"unknown driver {wrong[0]!r} for --myapp-db-driver: use "
                                    + " or ".join(SYNC_DRIVERS))
        return list(dict.fromkeys(drivers))

    @property
    def reuse(self) -> bool:
        option = self.config.getoption("myapp_db_reuse")
        return bool(option if option is not None else self.config.getini("myapp_db_reuse"))

    @property
    def apps(self) -> List[Tuple[str, Any]]:
        """(spec, App) for each app to test, in the order given."""
        if self._apps is None:
            self._apps = self._load_apps()
        return self._apps

    def _load_apps(self) -> List[Tuple[str, Any]]:
        from ..app import APP_VARIABLE, DEFAULT_APP, load_app
        from ..errors import CommandError

        specs = (self.config.getoption("myapp_db_app") or self.config.getini("myapp_db_app")
                 or [os.environ.get(APP_VARIABLE) or DEFAULT_APP])
        try:
            return [(spec, load_app(spec)) for spec in dict.fromkeys(specs)]
        except CommandError as exc:
            raise pytest.UsageError(f"--myapp-db-app: {exc}") from None

    def server(self):
        """The server, started (or connected to) on first use; a failure is one line, every time."""
        if self._server is None and self._error is None:
            from ..errors import CommandError
            from .databases import Server, Templates

            app = self.apps[0][1]
            url = self.config.getoption("myapp_db_url") or os.environ.get(app.variable("DATABASE_URL"))
            try:
                if url:
                    self._server = Server.at(url)
                elif self.reuse:
                    self._server = Server.embedded_of(app)
                else:
                    self._server = Server.throwaway()
            except CommandError as exc:
                self._error = f"no server for the test databases: {exc}"
            else:
                self._templates = Templates(self._server, reuse=self.reuse)
        if self._error:
            pytest.fail(self._error, pytrace=False)
        return self._server

    @property
    def templates(self):
        self.server()
        return self._templates

    def template(self, app) -> str:
        from ..errors import CommandError

        try:
            return self.templates.get(app)
        except CommandError as exc:
            pytest.fail(f"cannot build the template database of app {app.label!r}: {exc}", pytrace=False)

    def walker(self, app, driver):
        from .checks import Walker

        key = (app.label, driver)
        if key not in self.walkers:
            self.walkers[key] = Walker(self.server(), app, driver)
        return self.walkers[key]

    def close(self) -> None:
        for walker in self.walkers.values():
            walker.close()
        if self._templates is not None:
            self._templates.close()
        if self._server is not None:
            self._server.close()
        self._server = self._templates = None


def _state(config) -> _State:
    return config.stash[_STATE]


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def myapp_db_app(request):
    """The App the fixtures work on: the first one configured (override it to use another)."""
    return _state(request.config).apps[0][1]


@pytest.fixture(scope="session")
def myapp_db_driver(request) -> Optional[str]:
    """The driver of the URLs the fixtures give (None: the server URL's); several with --myapp-db-driver."""
    return getattr(request, "param", _state(request.config).drivers[0])


@pytest.fixture(scope="session")
def myapp_db_server(request):
    """The session's `Server`: embedded (one per session), the App's own with reuse, or --myapp-db-url."""
    return _state(request.config).server()


@pytest.fixture(scope="session")
def myapp_db_template(request, myapp_db_server, myapp_db_app) -> str:
    """The name of the app's template database, migrated to head once per session (or kept)."""
    return _state(request.config).template(myapp_db_app)


def _url(server, name: str, driver: Optional[str]) -> str:
    return server.url_for(name, driver).render_as_string(hide_password=False)


@pytest.fixture
def myapp_db_empty(myapp_db_server, myapp_db_driver) -> str:
    """The URL of a fresh, empty database, dropped after the test."""
    name = myapp_db_server.create()
    yield _url(myapp_db_server, name, myapp_db_driver)
    myapp_db_server.drop(name)


@pytest.fixture
def myapp_db(myapp_db_server, myapp_db_template, myapp_db_driver) -> str:
    """The URL of a fresh database at head (CREATE DATABASE ... TEMPLATE), dropped after the test."""
    name = myapp_db_server.create(myapp_db_template)
    yield _url(myapp_db_server, name, myapp_db_driver)
    myapp_db_server.drop(name)


@pytest.fixture
def myapp_db_connection(myapp_db):
    """A Connection to a fresh database at head, in a transaction rolled back after the test.

    An ORM Session joins it with ``Session(bind=conn, join_transaction_mode="create_savepoint")``.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(myapp_db, poolclass=sa.NullPool)
    conn = engine.connect()
    transaction = conn.begin()
    yield conn
    if transaction.is_active:
        transaction.rollback()
    conn.close()
    engine.dispose()


@pytest.fixture
def myapp_db_migrator(myapp_db_empty, myapp_db_app):
    """A `Migrator` on a fresh, empty database: move it to any revision, insert rows, move on, assert."""
    from .migrator import Migrator

    migrator = Migrator(myapp_db_empty, myapp_db_app)
    yield migrator
    migrator.close()


def pytest_generate_tests(metafunc) -> None:
    """Run every test that uses the database fixtures once per configured driver."""
    drivers = _state(metafunc.config).drivers
    if len(drivers) < 2 or "myapp_db_driver" not in metafunc.fixturenames:
        return
    if any("myapp_db_driver" in str(m.args[0] if m.args else "") for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test chose its drivers itself
    metafunc.parametrize("myapp_db_driver", drivers, indirect=True, scope="session", ids=[str(d) for d in drivers])


# -- the built-in checks -----------------------------------------------------------


def _requested_checks(config) -> Tuple[List[str], bool]:
    """The checks asked for, and whether on the command line (else from the ini file)."""
    option = config.getoption("myapp_db_checks")
    text = option if option is not None else config.getini("myapp_db_checks")
    words = [w for w in str(text or "").replace(",", " ").split() if w.lower() not in ("false", "no", "0", "none")]
    if any(w.lower() in ("all", "true", "yes", "1") for w in words):
        words = list(CHECKS)
    unknown = [w for w in words if w not in CHECKS]
    if unknown:
        raise pytest.UsageError(f"unknown myapp_db check {unknown[0]!r}: choose from {', '.join(CHECKS)} or all")
    return words, option is not None


def _whole_run(config) -> bool:
    """Whether this run collects a folder (a whole suite), not only chosen files or tests."""
    bases = (Path(config.invocation_params.dir), config.rootpath)
    return any((base / str(arg).split("::", 1)[0]).is_dir() for arg in config.args for base in bases)


class CheckItem(pytest.Item):
    """One built-in check; its failure is the check's own report, without a traceback."""

    def __init__(self, *, check, description: str, **kw):
        super().__init__(**kw)
        self.check, self.description = check, description
        self.add_marker("myapp_db_check")

    def runtest(self) -> None:
        self.check()

    def repr_failure(self, excinfo, style=None):
        from ..errors import CommandError
        from .checks import CheckFailed

        if isinstance(excinfo.value, (CheckFailed, CommandError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"[myapp_db] {self.description}"


class AppChecks(pytest.Collector):
    """The checks of one app, as a node of its own: ``myapp_db::LABEL::CHECK[PARAM]``."""

    def __init__(self, *, spec: str, app, checks: List[str], **kw):
        super().__init__(**kw)
        self.spec, self.app, self.checks = spec, app, checks

    def collect(self):
        from . import checks as c

        state = _state(self.config)
        drivers = state.drivers
        app = self.app

        def item(name: str, description: str, check, param: str = "", path=None):
            full = f"{name}[{param}]" if param else name
            return CheckItem.from_parent(self, name=full, check=check, description=description,
                                         **({"path": Path(path)} if path else {}))

        def per_driver(name, description, check):
            for driver in drivers:
                yield item(name, description, (lambda d=driver: check(d)), driver if len(drivers) > 1 else "")

        try:
            history = c.revisions(app)
        except Exception:
            history = None  # single_head says why, collected whichever checks were asked for
        if "single_head" in self.checks or history is None:
            yield item("single_head", f"app {app.label!r} has one head", lambda: c.single_head(app))
        if "up_down_up" in self.checks:
            for driver in drivers:  # one walk through the history per driver
                for sc in history or ():
                    param = "-".join(p for p in (sc.revision, driver if len(drivers) > 1 else "") if p)
                    yield item("up_down_up", f"{sc.revision} up, down, up",
                               lambda d=driver, rev=sc.revision: c.up_down_up(state.walker(app, d), rev),
                               param, sc.path)
        if "bootstrap_equals_migrate" in self.checks:
            yield from per_driver("bootstrap_equals_migrate", "bootstrap builds what migrate builds",
                                  lambda d: c.bootstrap_equals_migrate(state.server(), state.templates, app, d))
        if "models_match" in self.checks:
            yield from per_driver("models_match", "makemigrations --check is clean",
                                  lambda d: c.models_match(state.server(), state.templates, app, d, self.spec))
        if "lint" in self.checks and c.lint_available():
            yield item("lint", "lint --all is clean", lambda: c.lint(self.spec))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    """Put the built-in checks first, before -k, -m and --lf choose among the items."""
    state = _state(config)
    names = state.checks
    if not names or not (state.checks_asked or _whole_run(config)):
        return
    found = []
    for spec, app in state.apps:
        folder = app.migrations_dir()
        node = AppChecks.from_parent(session, name=app.label, nodeid=f"myapp_db::{app.label}",
                                     path=folder, spec=spec, app=app, checks=names)
        # The public hooks pytest's own collection calls, so that the checks are counted,
        # listed by --collect-only, and an error in collecting them is a collection error.
        report = node.ihook.pytest_make_collect_report(collector=node)
        node.ihook.pytest_collectreport(report=report)
        found.extend(x for x in report.result if isinstance(x, pytest.Item))
    items[:0] = found
