"""One plain function per command; the CLI in ``__main__`` is a thin layer over them.

Each takes the database first: a `Settings`, a URL string, or a caller's open
SQLAlchemy `Connection` (the cookbook's "sharing a connection"; it is left
open, and an open transaction on it is joined, through a savepoint, rather
than committed: the caller decides). None
of them prints: they return results and report progress to a `Progress`.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from alembic.util import rev_id
from sqlalchemy.engine import Connection

from . import ddl, dependents, executor, loader, registry, runner
from . import embedded as embedded_server
from . import plugins as plugin_manager
from .exceptions import CommandError, first_line
from .executor import Plan
from .ops import DropReplaceableObjectOp
from .output import Progress
from .settings import Settings

Database = Union[Settings, str, Connection, None]


def _settings(database: Database) -> Settings:
    if isinstance(database, Settings):
        return database
    if isinstance(database, Connection):
        return Settings.from_env(connection=database)
    return Settings.from_env(url=database)


def _metadata():
    from myapp.models import metadata

    return metadata


def _objects():
    """The app's registry, then what plugins contribute."""
    from myapp.db.objects import registry as app_registry

    return [*app_registry, *plugin_manager.load().objects]


# -- bootstrap ---------------------------------------------------------------


def bootstrap(database: Database = None, *, progress: Optional[Progress] = None) -> Tuple[str, ...]:
    """Create the whole schema on an empty database with create_all and stamp it at head.

    Runs in one transaction under the migration lock. Refuses a database that
    has a migration history or holds any table the app would create.

    :return: the heads the database was stamped with.
    """
    settings, progress = _settings(database), progress or Progress()
    script = loader.scripts(settings.migrations_dir)
    metadata = _metadata()
    with runner.connection(settings, progress, lock=True) as conn, runner.transaction(conn):
        heads = executor.current_heads(conn)
        if heads:
            raise CommandError(
                f"the database already has a migration history (at {', '.join(heads)}); "
                "use 'python -m myapp.db migrate' to bring it up to date"
            )
        inspector = sa.inspect(conn)
        found = [
            table.fullname
            for table in metadata.sorted_tables
            if inspector.has_table(table.name, schema=table.schema)
        ]
        if found:
            raise CommandError(
                f"the database is not empty: it already has table(s) {', '.join(found)}; "
                "use 'python -m myapp.db migrate' for an existing database"
            )
        started = time.perf_counter()
        metadata.create_all(conn)
        created = registry.create_all(conn, _objects())
        MigrationContext.configure(conn).stamp(script, "heads")
        new_heads = executor.current_heads(conn)
        progress.note(
            f"Created {len(metadata.tables)} tables and {len(created)} views, functions and "
            f"materialized views; stamped {', '.join(new_heads)} (head) "
            f"in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    return new_heads


# -- migrate -----------------------------------------------------------------


@dataclass
class MigrateResult:
    """What `migrate` planned and, unless it only planned, did."""

    plan: Plan
    applied: bool = False
    sql: Optional[str] = None
    #: With ``check`` at head: what the models and registry have that no migration does.
    drift: List[Any] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return bool(self.plan.alembic_steps)


def migrate(
    database: Database = None,
    target: str = "head",
    *,
    plan: bool = False,
    sql: bool = False,
    start: Optional[str] = None,
    fake: bool = False,
    check: bool = False,
    step: bool = False,
    progress: Optional[Progress] = None,
) -> MigrateResult:
    """Move the database to TARGET (default head), upgrading or downgrading as needed.

    :param target: a revision id or unique prefix, ``head``, ``zero``, or relative (``-1``, ``+2``).
    :param plan: only work out the steps; change nothing.
    :param sql: render the SQL of the steps without connecting (from ``start``, default base).
    :param fake: record the target as applied without running the revisions.
    :param check: only find out whether any step is pending, or (at head) whether the models
        and the registry differ from the database; change nothing.
    :param step: commit after each revision instead of once for the whole run.
    """
    settings, progress = _settings(database), progress or Progress()
    if sum(map(bool, (plan, sql, fake, check))) > 1:
        raise CommandError("use only one of --plan, --sql, --fake and --check at a time")
    if start is not None and not sql:
        raise CommandError("--from only goes with --sql; online, the database says where it is")
    if step and (plan or sql or fake or check):
        raise CommandError("--step only goes with a real migration, not --plan, --sql, --fake or --check")
    if sql:
        p, text = executor.render_sql(settings.migrations_dir, target, start)
        return MigrateResult(p, sql=text)
    script = loader.scripts(settings.migrations_dir)
    read_only = plan or check
    with runner.connection(settings, progress, lock=not read_only) as conn:
        if read_only:
            result = MigrateResult(executor.plan(script, executor.current_heads(conn), target))
            if check and not result.pending:  # at head: do the models and registry agree too?
                result.drift = _autogenerate(settings, conn)[1]
            return result
        if fake:
            with runner.transaction(conn):
                p = executor.fake(settings.migrations_dir, conn, target, progress)
        elif step:
            p = executor.run(settings.migrations_dir, conn, target, progress, per_step_commit=True)
        else:
            with runner.transaction(conn):
                p = executor.run(settings.migrations_dir, conn, target, progress)
    if not p.alembic_steps:
        progress.note("No migrations to apply.")
    return MigrateResult(p, applied=True)


# -- listings ----------------------------------------------------------------


@dataclass(frozen=True)
class MigrationRow:
    """A revision as `showmigrations` lists it."""

    revision: str
    message: str
    applied: bool
    head: bool
    current: bool


def showmigrations(database: Database = None, *, progress: Optional[Progress] = None) -> List[MigrationRow]:
    """List every revision, oldest first, marking which are applied, the head and the current one."""
    settings, progress = _settings(database), progress or Progress()
    script = loader.scripts(settings.migrations_dir)
    with runner.connection(settings, progress) as conn:
        current = executor.current_heads(conn)
    applied = executor.applied_revisions(script, current)
    heads = set(script.get_heads())
    return [
        MigrationRow(sc.revision, sc.doc or "", sc.revision in applied, sc.revision in heads, sc.revision in current)
        for sc in reversed(list(script.walk_revisions()))
    ]


def current(database: Database = None, *, progress: Optional[Progress] = None) -> List[Script]:
    """Show the revision(s) the database is at; an empty list means no revision (base)."""
    settings, progress = _settings(database), progress or Progress()
    script = loader.scripts(settings.migrations_dir)
    with runner.connection(settings, progress) as conn:
        heads = executor.current_heads(conn)
    return [script.get_revision(h) for h in heads]


def heads(database: Database = None) -> List[Script]:
    """Show the head revision(s) of the migration history."""
    script = loader.scripts(_settings(database).migrations_dir)
    return [script.get_revision(h) for h in script.get_heads()]


def history(database: Database = None) -> List[Script]:
    """Show the migration history, newest first."""
    script = loader.scripts(_settings(database).migrations_dir)
    return list(script.walk_revisions())


# -- makemigrations ----------------------------------------------------------


@dataclass
class MakeMigrationsResult:
    """The revision file written (if any) and the differences autogenerate found."""

    path: Optional[str] = None
    diffs: List[Any] = field(default_factory=list)


def _installed(path: Path) -> bool:
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    roots.update(getattr(site, "getsitepackages", lambda: [])())
    roots.add(site.getusersitepackages())
    resolved = path.resolve()
    for root in roots:
        try:
            resolved.relative_to(Path(root).resolve())
            return True
        except ValueError:
            continue
    return False


def _check_writable(versions: Path) -> None:
    if _installed(versions):
        raise CommandError(
            f"the migrations folder {versions} belongs to an installed package; "
            "run makemigrations in a source checkout (pip install -e .)"
        )
    if not os.access(versions, os.W_OK):
        raise CommandError(f"cannot write a revision into {versions}: the folder is not writable")


def makemigrations(
    database: Database = None,
    message: Optional[str] = None,
    *,
    empty: bool = False,
    check: bool = False,
    progress: Optional[Progress] = None,
) -> MakeMigrationsResult:
    """Write a new revision, autogenerated from the ORM against the database at head.

    :param message: what the revision does; becomes its docstring and file name.
    :param empty: write a revision with empty upgrade() and downgrade() to fill in by hand.
    :param check: write nothing; report the operations a new revision would hold.
    """
    settings, progress = _settings(database), progress or Progress()
    script = loader.scripts(settings.migrations_dir)
    if check and empty:
        raise CommandError("--check and --empty do not go together")
    if not check:
        if not (message and message.strip()):
            raise CommandError("makemigrations needs a message: -m 'what this revision does'")
        _check_writable(Path(script.versions))
    if empty:
        sc = script.generate_revision(rev_id(), message.strip(), head="head")
        return MakeMigrationsResult(path=sc.path)

    with runner.connection(settings, progress) as conn:
        at, head = executor.current_heads(conn), tuple(script.get_heads())
        if set(at) != set(head):
            raise CommandError(
                f"the database is at {', '.join(at) or 'base (no revision)'}, not at head "
                f"({', '.join(head)}); run 'python -m myapp.db migrate' first"
            )
        context, diffs = _autogenerate(settings, conn, message)
    if check or not diffs:
        if not diffs:
            progress.note("No changes detected.")
        return MakeMigrationsResult(diffs=diffs)
    from . import autogen

    revision = context.generated_revisions[-1]
    autogen.prepare(context.template_args, revision.upgrade_ops.ops, revision.downgrade_ops.ops)
    written = [sc for sc in context.generate_scripts() if sc is not None]
    return MakeMigrationsResult(path=written[0].path, diffs=diffs)


def _autogenerate(settings: Settings, conn, message: Optional[str] = None):
    """Run Alembic's autogenerate for the tables, then compare the replaceable objects.

    Changes nothing in the end: what it does to compare happens in a savepoint
    that is rolled back (it does hold locks on the objects it drops meanwhile).
    :return: the `RevisionContext` (holding the new revision's operations) and its differences.
    """
    from alembic.autogenerate import RevisionContext  # only makemigrations and checks need these

    from . import autogen

    script = loader.scripts(settings.migrations_dir)
    cfg = loader.config(settings.migrations_dir)
    command_args = dict(
        message=message, autogenerate=True, sql=False, head="head", splice=False,
        branch_label=None, version_path=None, rev_id=None, depends_on=None,
    )
    context = RevisionContext(cfg, script, command_args)

    def retrieve(rev, ctx):
        context.run_autogenerate(rev, ctx)
        revision = context.generated_revisions[-1]
        objects = autogen.compare(ctx.connection, _objects(), _metadata(), revision.upgrade_ops.ops)
        # Objects removed go before the table changes (they may use a column that goes),
        # the rest after (they may use a new one); the downgrade mirrors it.
        drops = [op for op in objects if isinstance(op, DropReplaceableObjectOp)]
        rest = [op for op in objects if not isinstance(op, DropReplaceableObjectOp)]
        revision.upgrade_ops.ops[:0] = drops
        revision.upgrade_ops.ops.extend(rest)
        revision.downgrade_ops.ops[:0] = [op.reverse() for op in reversed(rest)]
        revision.downgrade_ops.ops.extend(op.reverse() for op in reversed(drops))
        return []

    cfg.attributes["connection"] = conn
    comparing = conn.begin_nested()  # a caller's transaction outlives the comparison
    try:
        with EnvironmentContext(
            cfg, script, fn=retrieve, as_sql=False,
            template_args=context.template_args, revision_context=context,
        ):
            script.run_env()
    finally:
        comparing.rollback()
    diffs = [d for ops in context.generated_revisions[-1].upgrade_ops_list for d in ops.as_diffs()]
    return context, diffs


def describe_diff(diff) -> str:
    """One readable line for an Alembic autogenerate difference."""
    if isinstance(diff, list):  # modify_* come as a list of tuples for one column
        return "; ".join(describe_diff(d) for d in diff)
    kind, *args = diff
    if kind in ("add_table", "remove_table"):
        return f"{kind.replace('_', ' ')} {args[0].fullname}"
    if kind in ("add_column", "remove_column"):
        schema, table, column = args
        return f"{kind.replace('_', ' ')} {table}.{column.name}"
    if kind in ("add_index", "remove_index"):
        return f"{kind.replace('_', ' ')} {args[0].name} on {args[0].table.fullname}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        c = args[0]
        return f"{kind.replace('_', ' ')} {c.name or type(c).__name__} on {c.table.fullname}"
    if kind.endswith("_replaceable_object"):
        return f"{kind[: -len('_replaceable_object')]} {args[0]}"
    if kind.startswith("modify_"):
        schema, table, column, _kw, old, new = args
        return f"change {kind[len('modify_'):]} of {table}.{column}: {old!r} -> {new!r}"
    return repr(diff)


# -- refresh -----------------------------------------------------------------


@dataclass(frozen=True)
class RefreshStep:
    """One materialized view to refresh, as progress shows it."""

    name: str
    concurrently: bool

    def __str__(self) -> str:
        return f"Refreshing {self.name}{' concurrently' if self.concurrently else ''}"


def refresh(
    database: Database = None,
    names: Sequence[str] = (),
    *,
    concurrently: bool = False,
    progress: Optional[Progress] = None,
) -> List[RefreshStep]:
    """Refresh materialized views (all, or NAMEs) in dependency order, in one transaction.

    :param names: views to refresh, as ``name`` or ``schema.name``; default all.
    :param concurrently: use REFRESH ... CONCURRENTLY for views whose unique index allows it.
    """
    settings, progress = _settings(database), progress or Progress()
    done = []
    with runner.connection(settings, progress, lock=True) as conn, runner.transaction(conn):
        views = dependents.materialized_views(conn)
        if names:
            wanted = set(names)
            chosen = [v for v in views if {v.name, f"{v.schema}.{v.name}"} & wanted]
            missing = wanted - {n for v in chosen for n in (v.name, f"{v.schema}.{v.name}")}
            if missing:
                known = ", ".join(f"{v.schema}.{v.name}" for v in views) or "none"
                raise CommandError(
                    f"no materialized view named {', '.join(sorted(missing))}; the database has: {known}"
                )
            views = chosen
        # CONCURRENTLY needs a populated view with a unique index on plain columns, for all rows.
        can = set(conn.scalars(sa.text(
            "SELECT i.indrelid FROM pg_index i WHERE i.indisunique"
            " AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indrelid = ANY(:oids)"
        ), {"oids": [v.oid for v in views]}))
        for view in views:
            step = RefreshStep(f"{view.schema}.{view.name}", concurrently and view.oid in can and view.populated)
            progress.step_start(step)
            started = time.perf_counter()
            try:
                conn.execute(ddl.RefreshMaterializedView(view.schema, view.name, concurrently=step.concurrently))
            except sa.exc.DBAPIError as exc:
                progress.step_failed(step)
                raise CommandError(
                    f"refreshing {step.name} failed: {first_line(exc)}; every refresh was rolled back"
                ) from None
            progress.step_done(step, (time.perf_counter() - started) * 1000)
            done.append(step)
    if not done:
        progress.note("No materialized views to refresh.")
    return done


# -- embedded server ---------------------------------------------------------


def embedded(action: str = "status", *, data_dir: Optional[Path] = None) -> str:
    """Show (status) or stop (stop) the embedded PostgreSQL server."""
    data_dir = data_dir or Settings.from_env().data_dir or embedded_server.default_data_dir()
    if action == "stop":
        stopped = embedded_server.stop(data_dir)
        return f"stopped the embedded PostgreSQL in {stopped}" if stopped else f"not running ({data_dir})"
    if action == "status":
        running = (data_dir / "postmaster.pid").exists()
        return f"{'running' if running else 'not running'}: data directory {data_dir}"
    raise CommandError(f"unknown action {action!r} for embedded: use 'status' or 'stop'")


# -- plugins -----------------------------------------------------------------


def plugins() -> List[plugin_manager.Plugin]:
    """List every plugin: distribution and version, entry point, hooks and operations.

    Built-ins come first, then the ``myapp.db.plugins`` entry points by name;
    disabled ones are listed too. A broken plugin raises `CommandError`.
    """
    return plugin_manager.load().plugins
