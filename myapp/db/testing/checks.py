"""The built-in checks the plugin collects for every app: each a function that raises `CheckFailed`.

* ``single_head``: the history reads, and has one head.
* ``up_down_up[REV]``: each revision applied, unapplied and applied again on a
  database at the revision(s) it follows; the schema after the downgrade is the
  one before the upgrade, and the second upgrade gives the first one's.
* ``bootstrap_equals_migrate``: ``bootstrap`` (the models and the registry) and
  ``migrate`` from empty (the revisions) build the same schema.
* ``models_match``: ``makemigrations --check`` finds nothing at head (tables,
  views, functions, materialized views, grants).
* ``lint``: ``python -m myapp.db lint --all`` passes; collected only once
  `myapp.db.commands.lint` exists.

A failure says which revision and what differs, as a short diff of the catalog
(see `compare`). The checks run through the public commands, as a user would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from typing import Any, List, Optional, Set, Tuple

import sqlalchemy as sa

from ..app import App
from ..errors import CommandError, describe_exception
from . import compare
from .databases import Server, Templates

#: The module whose presence turns the lint check on (the lint command).
LINT_MODULE = "myapp.db.commands.lint"


class CheckFailed(AssertionError):
    """A built-in check found a problem; the message is the whole report."""


def lint_available() -> bool:
    """Whether the lint command exists in this version of the framework."""
    try:
        return importlib.util.find_spec(LINT_MODULE) is not None
    except ImportError:
        return False


def _script(app: App):
    from ..runtime import scripts

    return scripts.scripts(app.migrations_dir())


def revisions(app: App) -> List[Any]:
    """The app's revisions (Alembic `Script`s), each after those it follows; raises if the history is broken."""
    return list(reversed(list(_script(app).walk_revisions())))


def _parents(script) -> Tuple[str, ...]:
    down = script.down_revision
    return () if down is None else (down,) if isinstance(down, str) else tuple(down)


def single_head(app: App) -> None:
    try:
        script = _script(app)
        heads = script.get_heads()
    except Exception as exc:
        raise CheckFailed(f"the history of app {app.label!r} cannot be read: {describe_exception(exc)}") from None
    if len(heads) != 1:
        listed = ", ".join(f"{h} ({script.get_revision(h).doc})" for h in sorted(heads)) or "none"
        raise CheckFailed(
            f"app {app.label!r} has {len(heads)} heads: {listed}; "
            "merge them with a revision whose down_revision names them all (alembic merge)"
        )


class Walker:
    """One database per app and driver, walked through the history one ``up_down_up`` check at a time.

    Run in history order, each check finds the database where the previous one
    left it; in any other order (or after a failure) it is rebuilt up to the
    revision(s) the next one follows.
    """

    def __init__(self, server: Server, app: App, driver: Optional[str]):
        self.server, self.app, self.driver = server, app, driver
        self.name: Optional[str] = None
        self.applied: Optional[Set[str]] = None  # None: not known to be anywhere
        self.engine = self.conn = None

    def rebuild(self, parents: Tuple[str, ...]) -> None:
        self.close()
        self.name = self.server.create(prefix=f"test_{self.app.label[:30]}_walk")
        self.engine = sa.create_engine(self.server.url_for(self.name, self.driver), poolclass=sa.NullPool)
        self.conn = self.engine.connect()
        for parent in parents:
            self.migrate(parent, f"migrating to {parent}, where the next check starts,")

    def migrate(self, target: str, doing: str) -> None:
        from ..commands import migrate

        try:
            migrate(self.conn, target, app=self.app)  # no transaction open: migrate commits its own
        except CommandError as exc:
            text = str(exc)
            # "revision X (msg) failed: ..." already names what failed: say only which step it was.
            raise CheckFailed(f"{doing}: {text}" if text.startswith("revision ") else f"{doing} failed: {text}") from None

    def schema(self) -> compare.Schema:
        try:
            return compare.schema(self.conn)
        finally:
            self.conn.rollback()

    def versions(self) -> Tuple[str, ...]:
        from ..runtime.guard import current_revisions

        try:
            return current_revisions(self.conn)
        finally:
            self.conn.rollback()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.engine.dispose()
            self.conn = self.engine = None
        if self.name:
            self.server.drop(self.name)
            self.name, self.applied = None, None


def up_down_up(walker: Walker, revision: str) -> None:
    from ..runtime.plan import applied_revisions

    script = _script(walker.app)
    sc = script.get_revision(revision)
    name = f"{sc.revision} ({sc.doc})" if sc.doc else sc.revision
    parents = _parents(sc)
    start = applied_revisions(script, parents)
    if walker.applied != start:
        walker.rebuild(parents)
    walker.applied = None
    before = walker.schema()
    walker.migrate(sc.revision, f"the upgrade of {name}")
    if sc.revision not in walker.versions():
        raise CheckFailed(f"after the upgrade of {name} the version table holds {walker.versions()}")
    upgraded = walker.schema()
    walker.migrate(parents[0] if parents else "zero", f"the downgrade of {name}")
    downgraded = walker.schema()
    if downgraded != before:
        raise CheckFailed(
            f"the downgrade of {name} did not restore the schema its upgrade started from:\n"
            + compare.difference(before, downgraded, ("before the upgrade", "after the downgrade"))
        )
    walker.migrate(sc.revision, f"the upgrade of {name} after its downgrade")
    again = walker.schema()
    if again != upgraded:
        raise CheckFailed(
            f"the upgrade of {name} gave another schema after its downgrade:\n"
            + compare.difference(upgraded, again, ("first upgrade", "second upgrade"))
        )
    walker.applied = start | {sc.revision}


@contextlib.contextmanager
def _database(server: Server, template: Optional[str] = None):
    name = server.create(template, prefix="test_check")
    try:
        yield name
    finally:
        server.drop(name)


def _template(templates: Templates, app: App) -> str:
    try:
        return templates.get(app)
    except CommandError as exc:
        raise CheckFailed(f"migrating an empty database of app {app.label!r} to head failed: {exc}") from None


def _read(server: Server, name: str, driver: Optional[str]):
    from ..runtime.guard import current_revisions

    engine = sa.create_engine(server.url_for(name, driver), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return compare.schema(conn), current_revisions(conn)
    finally:
        engine.dispose()


def bootstrap_equals_migrate(server: Server, templates: Templates, app: App, driver: Optional[str]) -> None:
    from ..commands import bootstrap

    template = _template(templates, app)
    with _database(server, template) as migrated, _database(server) as bootstrapped:
        try:
            bootstrap(server.url_for(bootstrapped, driver), app=app)
        except CommandError as exc:
            raise CheckFailed(f"bootstrap of an empty database failed: {exc}") from None
        (by_migrate, at_migrate), (by_bootstrap, at_bootstrap) = (
            _read(server, migrated, driver), _read(server, bootstrapped, driver))
    if by_migrate != by_bootstrap:
        raise CheckFailed(
            "bootstrap (the models and the registry) and migrate (the revisions) build different schemas:\n"
            + compare.difference(by_migrate, by_bootstrap, ("migrate", "bootstrap"))
        )
    if at_migrate != at_bootstrap:
        raise CheckFailed(f"bootstrap stamped {at_bootstrap}, migrate reached {at_migrate}")


def models_match(server: Server, templates: Templates, app: App, driver: Optional[str],
                 spec: Optional[str] = None) -> None:
    """``makemigrations --check`` is clean on a database at head; ``spec`` (the app's import path)
    goes into the command the failure suggests."""
    from ..autogenerate.describe import describe_diff
    from ..commands import makemigrations

    with _database(server, _template(templates, app)) as name:
        try:
            result = makemigrations(server.url_for(name, driver), app=app, check=True)
        except CommandError as exc:
            raise CheckFailed(f"makemigrations --check failed: {exc}") from None
    if result.diffs:
        raise CheckFailed(
            f"the models and the registry of app {app.label!r} differ from the migrations at head "
            f"(run 'python -m myapp.db{' --app ' + spec if spec else ''} makemigrations -m MESSAGE'):\n"
            + "\n".join(f"  {describe_diff(diff)}" for diff in result.diffs)
        )


def lint(spec: str) -> None:
    """``python -m myapp.db lint --all --app SPEC``: exit 0 passes; 1 (findings) or 2 (an error) fails."""
    from ..cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(["lint", "--all", "--app", spec])
        except SystemExit as exc:
            status = exc.code
    if status != 0:
        raise CheckFailed(f"lint --all exited {status}:\n{out.getvalue()}{err.getvalue()}".rstrip())
