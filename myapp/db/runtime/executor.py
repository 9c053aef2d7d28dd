"""Carry out a plan through the app's env.py, Django-executor style: in transactions, retried on lock timeouts.

The plan is cut into segments. By default consecutive ordinary revisions share
one transaction; with ``--step`` each has its own. A revision that declares
``atomic = False`` runs outside any transaction (autocommit), and one that
uses ``autocommit_block()`` gets a transaction of its own, which its block
commits; the revisions before either are committed first. When a statement
times out waiting for a lock (``lock_timeout``), the transaction it was in is
rolled back and the work left is planned and run again, after a backoff.

The executor never prints: it reports each step to a `Progress` and raises
`RevisionFailed`, `LockRetriesExhausted` or `Interrupted`, naming the revision
and where the database stays.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from alembic.runtime.environment import EnvironmentContext
from alembic.script.revision import RevisionError
from alembic.util import CommandError as AlembicCommandError

from ..app import App
from ..errors import (
    LOCK_NOT_AVAILABLE,
    CommandError,
    Interrupted,
    LockRetriesExhausted,
    RevisionFailed,
    TargetError,
    UsageError,
    caused_by,
    describe_exception,
    first_line,
)
from ..errors import INTERRUPTS

from ..progress import Progress
from . import data as data_steps
from . import interrupts, recorder, records, scripts
from .env import RUN, Run
from .tenancy import schema_of
from .plan import Heads, Plan, Step, plan
from .watch import Watcher

#: Backoff between lock-timeout retries: BASE * 2**(try - 1) seconds, at most CAP, times a jitter in [0.5, 1).
BACKOFF_BASE, BACKOFF_CAP = 0.5, 30.0

_CONCURRENTLY = re.compile(
    r"postgresql_concurrently\s*=\s*True|\b(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\b[^\n'\"]*?)\s+CONCURRENTLY\b",
    re.IGNORECASE,
)


@dataclass
class Segment:
    """Steps run through env.py in one go: ``transaction`` (one for all), ``per-revision`` or ``autocommit``."""

    steps: list
    mode: str


def _kind(alembic_step) -> str:
    return kind_of_revision(alembic_step.revision)


def kind_of_revision(revision) -> str:
    """``non-atomic`` (declares ``atomic = False``), ``autocommit`` (uses autocommit_block) or ``atomic``."""
    if getattr(revision.module, "atomic", True) is False:
        return "non-atomic"
    if "autocommit_block" in _source(revision):
        return "autocommit"
    return "atomic"


def _source(revision) -> str:
    try:
        return Path(revision.path).read_text()
    except OSError:
        return ""


def preflight(p: Plan, *, external: bool) -> None:
    """Refuse, before anything runs, what cannot work: CONCURRENTLY in a transactional revision,
    and revisions that must run outside a transaction inside a caller's transaction."""
    for step, alembic_step in zip(p.steps, p.alembic_steps):
        kind = _kind(alembic_step)
        if kind == "atomic" and _CONCURRENTLY.search(_source(alembic_step.revision)):
            raise UsageError(
                f"revision {step.revision} ({step.message}) builds or drops an index CONCURRENTLY, which "
                "cannot run inside a transaction; add 'atomic = False' at the top of "
                f"{Path(alembic_step.revision.path).name} (or wrap the statement in op.get_context().autocommit_block())"
            )
        if kind != "atomic" and external:
            raise UsageError(
                f"revision {step.revision} ({step.message}) runs outside a transaction "
                f"({'atomic = False' if kind == 'non-atomic' else 'autocommit_block'}), which the caller's open "
                "transaction does not allow; migrate on a connection with no transaction open"
            )


def kinds(p: Plan) -> List[str]:
    """Each step's kind (``atomic``, ``non-atomic``, ``autocommit``), as ``--plan`` marks them."""
    return [_kind(s) for s in p.alembic_steps]


def segments(p: Plan, per_step_commit: bool) -> List[Segment]:
    found: List[Segment] = []
    batch: list = []
    batch_mode = "per-revision" if per_step_commit else "transaction"
    for alembic_step in p.alembic_steps:
        kind = _kind(alembic_step)
        if kind == "atomic" or (kind == "autocommit" and per_step_commit):
            batch.append(alembic_step)
            continue
        if batch:
            found.append(Segment(batch, batch_mode))
            batch = []
        found.append(Segment([alembic_step], "autocommit" if kind == "non-atomic" else "transaction"))
    if batch:
        found.append(Segment(batch, batch_mode))
    return found


def _destination(p: Plan) -> str:
    """The plan's end as a target that means the same after part of it is done."""
    if p.upgrade and p.destination == "heads":
        return "heads"
    return p.end[0] if p.end else "base"


class _Progress:
    """What a run has done so far, across segments and retries."""

    def __init__(self, first: Plan, progress: Progress, watcher: Optional[Watcher], external: bool):
        self.first, self.progress, self.watcher, self.external = first, progress, watcher, external
        self.plan: Plan = first
        self.segment: Optional[Segment] = None
        self.done: List[Step] = []  # applied (or unapplied), in this attempt's segments
        self.committed: List[Step] = []  # done and committed
        self.current: Optional[Step] = None
        self.started = 0.0

    def step_of(self, alembic_step) -> Step:
        return self.plan.steps[list(self.plan.alembic_steps).index(alembic_step)]

    def before_step(self, alembic_step) -> None:
        self.current = self.step_of(alembic_step)
        self.started = time.perf_counter()
        self.progress.step_start(self.current)
        if self.watcher is not None:
            self.watcher.step_started(self.current)

    def on_version_apply(self, ctx, step, heads, run_args) -> None:
        done = self.current
        self.progress.step_done(done, (time.perf_counter() - self.started) * 1000)
        if self.watcher is not None:
            self.watcher.step_ended()
        self.done.append(done)
        if self.segment.mode != "transaction" and not self.external:
            self.committed.append(done)
        self.current = None

    def segment_committed(self) -> None:
        if not self.external:
            self.committed.extend(s for s in self.done if s not in self.committed)

    def where(self, failed: Optional[Step]) -> str:
        """Where the database stays after ``failed`` failed (None: between steps), in words."""
        mode = self.segment.mode if self.segment and failed else "transaction"
        head = self.committed[-1] if self.committed else None
        if head is None and mode == "autocommit":
            where = "no earlier step was committed"  # but the failed one ran outside a transaction: see below
        elif head is None:
            where = "every step was rolled back: the database is as it was"
        elif self.first.upgrade:
            where = f"the database stays at {head.revision}, the last revision committed"
        else:
            where = f"the database stays just below {head.revision}, the last revision unapplied and committed"
        if mode == "autocommit":
            where += (f"; {failed.revision} ran outside a transaction (atomic = False) and may be partly applied: "
                      "make it safe to run again and run migrate again")
        elif failed is not None and _kind(self.segment.steps[0]) == "autocommit" and mode == "transaction":
            where += f"; {failed.revision}'s autocommit block, if it ran, is committed"
        return where


def run(
    app: App,
    migrations_dir: Path,
    conn,
    target: str,
    progress: Progress,
    *,
    per_step_commit: bool = False,
    lock_retries: int = 10,
    external: Optional[bool] = None,
    data: bool = True,
) -> Plan:
    """Apply the plan for ``target`` on ``conn`` through the app's env.py; return the plan as first made.

    ``conn`` holds the migration lock. When it is inside the caller's own
    transaction (``external``; by default: whether it is in one now) everything
    runs in a savepoint of it; otherwise the executor commits as the segments say.
    ``data``: run the revisions' data steps too (False: ``--no-data``).
    """
    script = scripts.scripts(migrations_dir)
    external = conn.in_transaction() if external is None else external
    first = plan(script, recorder.current_heads(conn), target)
    if not first.alembic_steps:
        return first
    preflight(first, external=external)
    destination = _destination(first)
    with Watcher(conn, progress) as watcher:
        state = _Progress(first, progress, watcher, external)
        attempt, progress_mark = 0, 0
        while True:
            try:
                _run_once(app, migrations_dir, conn, script, destination, state, per_step_commit, external, data)
                return first
            except KeyboardInterrupt as exc:
                failed = state.current
                if failed is None:
                    what, where = "migrating", state.where(None)
                else:
                    progress.step_failed(failed)
                    what = f"{'applying' if failed.upgrade else 'unapplying'} revision {failed.revision} ({failed.message})"
                    where = state.where(failed)
                raise Interrupted(interrupts.signal_name(exc), what, where, interrupts.exit_status(exc)) from None
            except BaseException as exc:  # SystemExit in a revision or hook fails the run too
                if isinstance(exc, INTERRUPTS):
                    raise
                failed = state.current
                if failed is None:
                    raise
                if watcher is not None:
                    watcher.step_ended()
                if not caused_by(exc, LOCK_NOT_AVAILABLE):
                    progress.step_failed(failed)
                    raise RevisionFailed(failed.revision, failed.message, describe_exception(exc),
                                         state.where(failed)) from exc
                if len(state.committed) > progress_mark:  # progress since the last retry: a fresh count
                    attempt, progress_mark = 0, len(state.committed)
                attempt += 1
                wait = watcher.last_wait
                if attempt > lock_retries:
                    progress.step_failed(failed)
                    relation = wait.relation if wait else "a lock"
                    behind = f" behind {'; '.join(map(str, wait.blockers))}" if wait and wait.blockers else ""
                    raise LockRetriesExhausted(
                        wait.relation if wait else None, wait.blockers if wait else [],
                        f"revision {failed.revision} ({failed.message}) timed out waiting for {relation}{behind}, "
                        f"{attempt} time{'' if attempt == 1 else 's'}; {state.where(failed)}; run again when that session is done, "
                        "or raise --lock-timeout or --lock-retries",
                    ) from exc
                delay = backoff(attempt)
                progress.retrying(failed, attempt, lock_retries, wait, delay)
                try:
                    time.sleep(delay)
                except KeyboardInterrupt as interrupt:
                    raise Interrupted(interrupts.signal_name(interrupt), f"waiting to retry {failed.revision}",
                                      state.where(failed), interrupts.exit_status(interrupt)) from None


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...) after a lock timeout."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def _run_once(app, migrations_dir, conn, script, destination, state: _Progress, per_step_commit, external,
              data=True) -> None:
    """Plan what is left from where the database is, and run it segment by segment."""
    state.plan = plan(script, recorder.current_heads(conn), destination)
    state.done = []
    revisions = tuple(s.revision.revision for s in state.first.alembic_steps)
    for segment in segments(state.plan, per_step_commit):
        state.segment = segment
        if not external and conn.in_transaction():
            conn.commit()  # only reads: Alembic must begin (and commit) the segment's transaction itself
        cfg = scripts.config(migrations_dir)
        cfg.attributes[RUN] = Run(
            app=app,
            connection=conn,
            transaction_per_migration=segment.mode == "per-revision",
            on_version_apply=[state.on_version_apply],
            before_step=state.before_step,
            revisions=revisions,
            schema=schema_of(conn),
            data=data,
        )
        steps = segment.steps
        with _isolation(conn, segment, external), \
                (conn.begin_nested() if external else contextlib.nullcontext()):
            with EnvironmentContext(cfg, script, fn=lambda rev, context: list(steps)):
                script.run_env()
        state.segment_committed()


@contextlib.contextmanager
def _isolation(conn, segment: Segment, external: bool):
    """AUTOCOMMIT for a non-atomic revision: each of its statements commits on its own."""
    if segment.mode != "autocommit" or external:
        yield
        return
    level = conn.get_isolation_level()
    conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield
    finally:
        if not conn.invalidated:
            conn.execution_options(isolation_level=level)


def fake(migrations_dir: Path, conn, target: str, progress: Progress, *, version: Optional[str] = None) -> Plan:
    """Record ``target`` as applied without running any revision."""
    script = scripts.scripts(migrations_dir)
    p = plan(script, recorder.current_heads(conn), target)
    if p.alembic_steps:
        recorder.stamp(conn, script, p.end or "base")
        schema = schema_of(conn)
        for statement in records.ensure(conn, schema):
            conn.execute(statement)
        for alembic_step in p.alembic_steps:
            revision = alembic_step.revision
            statements = (records.insert(revision.revision, revision.path, how="fake", duration_ms=None,
                                         package_version=version, schema=schema,
                                         data_step=data_steps.initial(revision))
                          if p.upgrade else [records.delete(revision.revision, schema)])
            for statement in statements:
                conn.execute(statement)
        for step in p.steps:
            s = Step(step.revision, step.message, step.upgrade, fake=True)
            progress.step_start(s)
            progress.step_done(s, 0.0)
    return p


def render_sql(app: App, migrations_dir: Path, target: str, start: Optional[str] = None, *,
               schema: Optional[str] = None, data: bool = True, records: bool = True) -> Tuple[Plan, str]:
    """Return the plan and the SQL that would move a database (or tenant ``schema``) at ``start`` to ``target``
    (``records``: with the statements that keep the framework's records)."""
    script = scripts.scripts(migrations_dir)
    heads: Heads = ()
    if start is not None and not start.strip():
        raise TargetError(start, "--from is empty: give the revision the database is at, or leave it out")
    if start and start not in ("base", "zero"):
        try:
            heads = (script.get_revision(start).revision,)
        except (RevisionError, AlembicCommandError, AttributeError) as exc:
            raise TargetError(
                start,
                f"cannot resolve --from revision {start!r}: {first_line(exc)}; "
                "run 'python -m myapp.db history' to see the revisions",
            ) from None
    p = plan(script, heads, target)
    buf = io.StringIO()
    cfg = scripts.config(migrations_dir, output_buffer=buf)
    cfg.attributes[RUN] = Run(app=app, schema=schema, data=data, records=records)
    try:
        with EnvironmentContext(
            cfg,
            script,
            fn=lambda rev, context: list(p.alembic_steps),
            as_sql=True,
            starting_rev=heads[0] if heads else None,
            destination_rev=p.destination,
        ):
            script.run_env()
    except BaseException as exc:
        if isinstance(exc, INTERRUPTS):
            raise
        # Alembic writes "-- Running upgrade A -> B" (or "downgrade B -> A") before each step.
        running = re.findall(r"^-- Running (\w+) (\S+) -> (\S+)", buf.getvalue(), re.M)
        where = ""
        if running:
            direction, down, up = running[-1]
            where = f" in revision {up if direction == 'upgrade' else down}"
        raise CommandError(f"rendering the SQL failed{where}: {describe_exception(exc)}") from exc
    return p, buf.getvalue()
