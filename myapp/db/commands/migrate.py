"""``migrate``: move the database to a target, upgrading or downgrading; or plan, render, fake, check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

from .. import plugins
from ..errors import UsageError, schema_option
from ..progress import Progress
from ..runtime import connection, index, records, recorder, scripts
from ..runtime.plan import Plan, Step, plan as make_plan
from ..settings import Settings


@dataclass
class MigrateResult:
    """What `migrate` planned and, unless it only planned, did."""

    plan: Plan
    applied: bool = False
    sql: Optional[str] = None
    #: With ``check`` at head: what the models and registry have that no migration does.
    drift: List[Any] = field(default_factory=list)
    #: With ``data_only``: the data steps run (or, with ``plan`` or ``check``, to run).
    data_steps: List[Step] = field(default_factory=list)
    #: The revisions whose data step is left pending (``--no-data``), for ``migrate --data-only``.
    data_pending: List[str] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return bool(self.plan.alembic_steps or self.data_steps)


def migrate(
    database: Any = None,
    target: str = "head",
    *,
    app=None,
    schema: Optional[str] = None,
    plan: bool = False,
    sql: bool = False,
    start: Optional[str] = None,
    fake: bool = False,
    check: bool = False,
    step: bool = False,
    data: bool = True,
    data_only: bool = False,
    progress: Optional[Progress] = None,
    lock_timeout: Optional[float] = None,
    lock_retries: Optional[int] = None,
    lock_wait: Optional[float] = None,
    statement_timeout: Optional[float] = None,
    accept_edited: Sequence[str] = (),
) -> MigrateResult:
    """Move the database to TARGET (default head), upgrading or downgrading as needed.

    :param target: a revision id or unique prefix, ``head``, ``zero``, or relative (``-1``, ``+2``).
    :param schema: the tenant schema to migrate (its own version table, search path and lock);
        default: the database's own default schema.
    :param plan: only work out the steps; change nothing.
    :param sql: render the SQL of the steps without connecting (from ``start``, default base).
    :param fake: record the target as applied without running the revisions.
    :param check: only find out whether any step is pending, or (at head) whether the models
        and the registry differ from the database; change nothing.
    :param step: commit after each revision instead of once for the whole run.
    :param data: run the revisions' data steps (``data_upgrade()``, ``data_downgrade()``) too;
        False (``--no-data``) records them as pending.
    :param data_only: run only the pending data steps of revisions already applied.
    :param lock_timeout: seconds a statement may wait for a lock before its transaction is
        rolled back and retried (default 2, or ``<PREFIX>_DB_LOCK_TIMEOUT``).
    :param lock_retries: how many times (default 10).
    :param lock_wait: seconds to wait for the migration lock (default: as long as it takes).
    :param statement_timeout: seconds a migration statement may run (default: no limit).
    :param accept_edited: applied revisions whose edited files to accept: their new checksums
        are recorded (otherwise an applied revision whose file changed stops the command).
    """
    check_options(target, plan=plan, sql=sql, start=start, fake=fake, check=check, step=step, data=data,
                  data_only=data_only)
    settings = Settings.resolve(database, app).for_schema(schema).limited(
        lock_timeout=lock_timeout, lock_retries=lock_retries, lock_wait=lock_wait,
        statement_timeout=statement_timeout,
    )
    progress = progress or Progress()
    plugins.check(settings.app)  # a broken plugin stops the command before it touches the database
    if sql:
        from ..runtime import executor

        p, text = executor.render_sql(settings.app, settings.migrations_dir, target, start,
                                      schema=settings.schema, data=data)
        return MigrateResult(p, sql=text)
    script = scripts.scripts(settings.migrations_dir)  # lazy: the revision map is built on first use
    read_only = plan or check
    with connection.connect(settings, progress, lock=not read_only, command="migrate") as conn:
        external = conn.in_transaction()  # the caller's: joined, never committed
        if not (read_only or fake or accept_edited or data_only) and target in ("head", "heads"):
            heads = index.at_head_unchanged(conn, settings.migrations_dir / "versions")
            if not external:
                conn.commit()  # only reads
            if heads is not None:  # the common start-up case, decided without loading a revision
                progress.note("No migrations to apply.")
                return MigrateResult(Plan(heads, True, "heads", ()), applied=True)
        from ..runtime import data as data_steps, executor  # past the no-op return, which needs neither

        with connection.transaction(conn):
            records.verify(conn, script, recorder.current_heads(conn), accept=accept_edited,
                           write=not read_only, version=settings.app.package_version())
        if data_only:
            return _data_only(settings, conn, script, progress, read_only=read_only, step=step, external=external)
        if read_only:
            heads = recorder.current_heads(conn)
            result = MigrateResult(make_plan(script, heads, target),
                                   data_pending=[sc.revision for sc in data_steps.pending(conn, script, heads)])
            if check and not result.pending:  # at head: do the models and registry agree too?
                from ..autogenerate.revision import autogenerate, record_in_sync

                result.drift = autogenerate(settings.app, settings.migrations_dir, conn, check=True)[1]
                record_in_sync(conn, commit=not external)
            return result
        if fake:
            with connection.transaction(conn):
                p = executor.fake(settings.migrations_dir, conn, target, progress,
                                  version=settings.app.package_version())
        else:
            p = executor.run(settings.app, settings.migrations_dir, conn, target, progress,
                             per_step_commit=step, lock_retries=settings.lock_retries, external=external,
                             data=data)
        left = [sc.revision for sc in data_steps.pending(conn, script, recorder.current_heads(conn))]
        if not external and conn.in_transaction():
            conn.commit()  # only reads
    if not p.alembic_steps:
        progress.note("No migrations to apply.")
    if left:
        progress.note(f"{len(left)} data step(s) pending ({', '.join(left)}): "
                      f"run 'python -m myapp.db migrate --data-only{schema_option(settings.schema)}'")
    return MigrateResult(p, applied=True, data_pending=left)


def check_options(target: str, *, plan=False, sql=False, start=None, fake=False, check=False, step=False,
                  data=True, data_only=False) -> None:
    """Refuse options that do not go together, before anything connects."""
    if sum(map(bool, (plan, sql, fake, check))) > 1:
        raise UsageError("use only one of --plan, --sql, --fake and --check at a time")
    if start is not None and not sql:
        raise UsageError("--from only goes with --sql; online, the database says where it is")
    if step and (plan or sql or fake or check):
        raise UsageError("--step only goes with a real migration, not --plan, --sql, --fake or --check")
    if data_only and not data:
        raise UsageError("--data-only and --no-data do not go together")
    if data_only and (sql or fake or (target or "head") not in ("head", "heads")):
        raise UsageError("--data-only runs the pending data steps of the applied revisions: "
                         "it takes no target, --sql or --fake")


def _data_only(settings: Settings, conn, script, progress: Progress, *, read_only: bool, step: bool,
               external: bool) -> MigrateResult:
    from ..runtime import data as data_steps

    heads = recorder.current_heads(conn)
    nothing = Plan(heads, True, "heads", ())
    if read_only:
        todo = [data_steps.step(sc) for sc in data_steps.pending(conn, script, heads)]
        return MigrateResult(nothing, data_steps=todo, data_pending=[s.revision for s in todo])
    done = data_steps.run(settings.app, settings.migrations_dir, conn, progress, per_step_commit=step,
                          lock_retries=settings.lock_retries, external=external)
    if not done:
        progress.note("No data steps pending.")
    return MigrateResult(nothing, applied=True, data_steps=done)
