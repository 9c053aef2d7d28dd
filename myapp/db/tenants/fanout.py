"""``migrate_all``: migrate many tenant schemas and databases, ``-j N`` at a time, and report on each.

Each database is first surveyed over one connection (`survey`): its tenant
schemas are named (`targets`) and every version table is read at once, so
targets already where the run would take them are reported without more
work. Every other target is then migrated by the ordinary `migrate` command,
on a connection of its own, holding its own migration lock (a tenant's
sub-key), in the pool (`pool`). A failure stays with its target: the others
go on, the report says what each did, and a run again does only what is left.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence

from .. import plugins
from ..commands.migrate import check_options, migrate
from ..errors import CommandError, Interrupted, UsageError, describe_exception, schema_option
from ..progress import Progress, StreamProgress
from ..runtime import connection, interrupts, scripts
from ..settings import Settings
from . import pool, targets
from .report import APPLIED, FAILED, NOT_STARTED, PENDING, UNCHANGED, Outcome, Report
from .survey import survey


@dataclass
class Job:
    """Everything a task needs, handed to each worker once: the databases and what to do in each target."""

    databases: List[Settings]
    schemas: List[str] = field(default_factory=list)
    all_schemas: bool = False
    query: Optional[str] = None
    target: str = "head"
    #: Passed to `migrate` for each target.
    options: Dict[str, Any] = field(default_factory=dict)

    @property
    def schema_mode(self) -> bool:
        return bool(self.schemas) or self.all_schemas

    def placeholders(self, task) -> List[Outcome]:
        """The outcome of a task that never ran: its database (a survey) or its target, not started."""
        database = targets.describe(self.databases[task[1]])
        if task[0] == "migrate":
            return [Outcome(database, task[2], NOT_STARTED, position=(task[1], task[3]))]
        return [Outcome(database, None, NOT_STARTED, position=(task[1], -1))]


# -- the tasks (run in a worker process, or here with -j 1) ---------------------------

#: This process's engines, one per database (its dialect is set up once; NullPool: no connection kept).
_engines: Dict[int, Any] = {}


def _settings(job: Job, index: int, schema: Optional[str] = None) -> Settings:
    base = job.databases[index]
    if base.engine is None:
        if index not in _engines:
            _engines[index] = connection.engine_for(base, application_name="myapp.db migrate")
        base = replace(base, engine=_engines[index])
    return base.for_schema(schema)


def dispose_engines() -> None:
    while _engines:
        _engines.popitem()[1].dispose()


def perform(job: Job, task, emit: Callable[[str], None]) -> pool.Result:
    """Run one task: ``("survey", database)`` or ``("migrate", database, schema, position)``."""
    if task[0] == "survey":
        return _survey(job, task[1], emit)
    return _migrate(job, task[1], task[2], task[3], emit)


def _survey(job: Job, index: int, emit) -> pool.Result:
    database = targets.describe(job.databases[index])
    started = time.perf_counter()
    try:
        settings = _settings(job, index)
        script = scripts.scripts(settings.migrations_dir)
        with connection.connect(settings, Progress(), command="migrate") as conn:
            names = None
            if job.schema_mode:
                names = targets.schemas(conn, settings.app, job.schemas, all_schemas=job.all_schemas,
                                        query=job.query)
            found = survey(conn, script, names, job.target, data_only=job.options.get("data_only", False))
    except KeyboardInterrupt as exc:
        return pool.Result([Outcome(database, None, FAILED, reason=f"interrupted by {interrupts.signal_name(exc)} "
                                    "while reading where its targets are; nothing was changed",
                                    position=(index, -1))], interrupted=interrupts.signal_name(exc))
    except CommandError as exc:
        return pool.Result([Outcome(database, None, FAILED, reason=str(exc), position=(index, -1))])
    except Exception as exc:  # noqa: BLE001 - a database error: this database fails, the others go on
        return pool.Result([Outcome(database, None, FAILED, reason=describe_exception(exc), position=(index, -1))])
    ms = (time.perf_counter() - started) * 1000
    order = {s: i for i, s in enumerate(found.order)}
    outcomes = [Outcome(database, s, UNCHANGED, detail=detail, position=(index, order[s]))
                for s, detail in found.unchanged.items()]
    outcomes += [Outcome(database, s, FAILED, position=(index, order[s]),
                         reason=f"schema {s!r} does not exist; create the tenant with "
                                f"'python -m myapp.db bootstrap{schema_option(s)}'") for s in found.missing]
    if job.schema_mode:
        emit(f"{database}: {len(found.order)} tenant schema(s) read in {ms:.0f} ms: {len(found.todo)} to do, "
             f"{len(found.unchanged)} unchanged" + (f", {len(found.missing)} missing" if found.missing else ""))
    return pool.Result(outcomes, more=[("migrate", index, s, order[s]) for s in found.todo])


class TargetProgress(StreamProgress):
    """Progress of one target as whole lines, each naming the target, handed to ``emit``; it notes the steps done."""

    def __init__(self, label: str, emit: Callable[[str], None]):
        super().__init__(_Lines(f"[{label}] ", emit))
        self.done: List[str] = []

    def database(self, description):
        pass  # the label says which

    def step_done(self, step, elapsed_ms):
        super().step_done(step, elapsed_ms)
        self.done.append(str(step))


class _Lines(io.StringIO):
    def __init__(self, prefix: str, emit: Callable[[str], None]):
        super().__init__()
        self.prefix, self.emit, self.partial = prefix, emit, ""

    def write(self, text: str) -> int:
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        for line in lines:
            self.emit("  " + self.prefix + line.strip())
        return len(text)


def _migrate(job: Job, index: int, schema: Optional[str], position: int, emit) -> pool.Result:
    database = targets.describe(job.databases[index])
    label = schema if schema is not None else database
    progress = TargetProgress(label, emit)
    outcome = Outcome(database, schema, APPLIED, position=(index, position))
    started = time.perf_counter()
    interrupted = None
    try:
        result = migrate(_settings(job, index, schema), job.target, progress=progress, **job.options)
    except Interrupted as exc:
        outcome.status, outcome.reason, interrupted = FAILED, str(exc), exc.signal
    except KeyboardInterrupt as exc:
        interrupted = interrupts.signal_name(exc)
        outcome.status, outcome.reason = FAILED, f"interrupted by {interrupted}; its transaction was rolled back"
    except CommandError as exc:
        outcome.status, outcome.reason = FAILED, str(exc)
    except Exception as exc:  # noqa: BLE001 - one target's failure is reported, the others go on
        outcome.status, outcome.reason = FAILED, describe_exception(exc)
    else:
        read_only = job.options.get("plan") or job.options.get("check")
        if read_only:
            steps = result.data_steps or result.plan.steps
            outcome.steps = [str(s) for s in steps]
            outcome.status = PENDING if steps else UNCHANGED
        else:
            outcome.steps = progress.done
            outcome.status = APPLIED if progress.done else UNCHANGED
        if outcome.status == UNCHANGED:
            outcome.detail = "no data steps pending" if job.options.get("data_only") else f"already at {job.target}"
        if result.data_pending and not job.options.get("data_only"):
            note = f"data step(s) pending: {', '.join(result.data_pending)}"
            outcome.detail = f"{outcome.detail}; {note}" if outcome.detail else note
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    outcome.steps = outcome.steps or progress.done
    return pool.Result([outcome], interrupted=interrupted)


# -- the command -------------------------------------------------------------------------


def migrate_all(
    database: Any = None,
    target: str = "head",
    *,
    app=None,
    schemas: Sequence[str] = (),
    all_schemas: bool = False,
    schemas_query: Optional[str] = None,
    urls: Sequence[str] = (),
    all_databases: bool = False,
    jobs: int = 1,
    progress: Optional[Progress] = None,
    lock_timeout: Optional[float] = None,
    lock_retries: Optional[int] = None,
    lock_wait: Optional[float] = None,
    statement_timeout: Optional[float] = None,
    **options: Any,
) -> Report:
    """Migrate every target to TARGET: tenant schemas (``schemas``, ``all_schemas``) in each database
    (``database``, or ``urls`` and ``all_databases``), ``jobs`` at a time; return the report.

    :param schemas: tenant schemas by name.
    :param all_schemas: every tenant schema: those ``schemas_query`` (SQL returning names,
        run read-only) returns, else those the ``tenant_schemas`` hook names.
    :param urls: database URLs; ``all_databases`` adds those of the ``database_urls`` hook.
    :param jobs: how many targets at a time, each in a worker process of its own (1: here).
    :param options: as `migrate` takes them: ``plan``, ``check``, ``fake``, ``step``, ``data``,
        ``data_only``, ``accept_edited``.
    """
    unknown = set(options) - {"plan", "check", "fake", "step", "data", "data_only", "accept_edited"}
    if unknown:
        raise TypeError(f"migrate_all() got unexpected option(s) {', '.join(sorted(unknown))}")
    check_options(target, **{k: v for k, v in options.items() if k != "accept_edited"})
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"-j {jobs!r}: give a whole number of jobs, 1 or more")
    if schemas_query is not None and not all_schemas:
        raise UsageError("--schemas-query names the schemas of --all-schemas: give both, or --schema NAME")
    base = Settings.resolve(database, app).limited(
        lock_timeout=lock_timeout, lock_retries=lock_retries, lock_wait=lock_wait,
        statement_timeout=statement_timeout)
    if base.connection is not None:
        raise UsageError("migrating many targets needs a URL or an Engine, not a Connection: "
                         "each target gets a connection of its own")
    if jobs > 1 and base.engine is not None:
        raise UsageError(f"-j {jobs} needs a database URL: each worker process connects on its own")
    for name in schemas:
        base.for_schema(name)  # a bad name is refused before anything runs
    progress = progress or Progress()
    plugins.load(base.app)  # a broken plugin stops the command before it touches a database
    script = scripts.scripts(base.migrations_dir)
    script.get_heads()  # the revision map, built once here (and inherited by forked workers)
    _resolve(script, target)
    job = Job(targets.databases(base, urls, all_databases=all_databases), list(dict.fromkeys(schemas)),
              all_schemas, schemas_query, target, options)
    outcomes: List[Outcome] = []

    def on_result(task, result: pool.Result) -> None:
        outcomes.extend(result.outcomes)

    started = time.perf_counter()
    try:
        interrupted = pool.run(job, [("survey", i) for i in range(len(job.databases))], perform, jobs=jobs,
                               emit=progress.note, on_result=on_result)
    finally:
        dispose_engines()
    outcomes.sort(key=lambda o: o.position)
    return Report(outcomes, jobs, time.perf_counter() - started, interrupted, check=bool(options.get("check")))


def _resolve(script, target: str) -> None:
    """Refuse a target that names no revision before any database is touched."""
    from ..runtime.plan import plan

    name = (target or "head").strip()
    if name not in ("head", "heads", "base", "zero") and not (name[:1] in "+-" and name[1:].isdigit()):
        plan(script, (), name)  # raises TargetError for an unknown or ambiguous revision
