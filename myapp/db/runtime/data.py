"""Data steps: a revision's optional ``data_upgrade()`` and ``data_downgrade()``, beside its schema steps.

The cookbook's "conditional migration elements" (``-x data=true``) and
Django's RunPython, made first-class. ``migrate`` runs a revision's data step
right after its ``upgrade()``, in the same transaction; ``--no-data`` leaves it
pending (the records say so); ``--data-only`` (`run`) runs the pending data
steps of revisions already applied, and nothing else. On the way down
``data_downgrade()`` runs before ``downgrade()``, when the data step had run.
``bootstrap`` and ``--fake`` run none: they record them as skipped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional

from alembic.runtime.environment import EnvironmentContext

from ..errors import (
    LOCK_NOT_AVAILABLE,
    Interrupted,
    LockRetriesExhausted,
    RevisionFailed,
    caused_by,
    describe_exception,
)
from ..progress import Progress
from . import interrupts, recorder, records, scripts
from .plan import Step, applied_revisions

UPGRADE, DOWNGRADE = "data_upgrade", "data_downgrade"


def function(revision, upgrade: bool = True) -> Optional[Callable]:
    """The revision's (an Alembic `Script`) ``data_upgrade`` (or ``data_downgrade``), None if it has none."""
    fn = getattr(revision.module, UPGRADE if upgrade else DOWNGRADE, None)
    return fn if callable(fn) else None


def initial(revision) -> Optional[str]:
    """What the records say of a data step that a bootstrap or a fake did not run: skipped (None: none)."""
    return records.DATA_SKIPPED if function(revision) is not None else None


def pending(conn, script, heads) -> List:
    """The applied revisions (Scripts) whose data step is pending, oldest first."""
    if not any(function(sc) is not None for sc in script.walk_revisions()):
        return []  # a history without data steps has none pending: no need to read the records
    found = records.read(conn) or {}
    waiting = {r for r, record in found.items() if record.data_pending}
    if not waiting:
        return []
    applied = applied_revisions(script, heads)
    return [sc for sc in reversed(list(script.walk_revisions())) if sc.revision in waiting and sc.revision in applied]


def step(revision) -> Step:
    """The progress step of a revision's data step."""
    return Step(revision.revision, revision.doc or "", True, data=True)


def run(app, migrations_dir: Path, conn, progress: Progress, *, per_step_commit: bool = False,
        lock_retries: int = 10, external: Optional[bool] = None) -> List[Step]:
    """Run the pending data steps on ``conn`` (which holds the migration lock), through the app's env.py.

    One transaction for all (a savepoint of the caller's, if one is open), or
    one per revision with ``per_step_commit``; a lock timeout rolls back and
    runs what is left again after a backoff, as the executor does.
    ``external``: ``conn`` is inside the caller's transaction (default: whether it is in one now).
    """
    from . import executor
    from .connection import transaction

    script = scripts.scripts(migrations_dir)
    external = conn.in_transaction() if external is None else external
    done: List[Step] = []
    attempt, current = 0, []
    while True:
        todo = pending(conn, script, recorder.current_heads(conn))
        if not external and conn.in_transaction():
            conn.commit()  # only reads
        if not todo:
            return done
        try:
            for group in ([sc] for sc in todo) if per_step_commit else [todo]:
                with transaction(conn):
                    _run_env(app, migrations_dir, conn, script, group, progress, current)
                done.extend(step(sc) for sc in group)
                attempt, current[:] = 0, []
            return done
        except KeyboardInterrupt as exc:
            where = _where(done, external)
            if current:
                progress.step_failed(step(current[0]))
                what = f"running the data step of revision {current[0].revision}"
            else:
                what = "running data steps"
            raise Interrupted(interrupts.signal_name(exc), what, where, interrupts.exit_status(exc)) from None
        except Exception as exc:
            if not current:
                raise
            failed = step(current[0])
            progress.step_failed(failed)
            if not caused_by(exc, LOCK_NOT_AVAILABLE):
                raise RevisionFailed(failed.revision, f"data step of {failed.message}", describe_exception(exc),
                                     _where(done, external)) from exc
            attempt += 1
            if attempt > lock_retries:
                raise LockRetriesExhausted(
                    None, [], f"the data step of revision {failed.revision} ({failed.message}) timed out waiting "
                    f"for a lock {attempt} time{'' if attempt == 1 else 's'}; {_where(done, external)}; run again later, "
                    "or raise --lock-timeout or --lock-retries",
                ) from exc
            delay = executor.backoff(attempt)
            progress.retrying(failed, attempt, lock_retries, None, delay)
            current[:] = []
            time.sleep(delay)


def _where(done: List[Step], external: bool) -> str:
    if external or not done:
        return "the data steps not committed were rolled back"
    return f"the data steps up to {done[-1].revision} are committed, the rest rolled back"


def _run_env(app, migrations_dir, conn, script, group, progress: Progress, current: list) -> None:
    from .env import RUN, Run
    from .tenancy import schema_of

    def before(sc) -> None:
        current[:] = [sc]
        progress.step_start(step(sc))

    def after(sc, elapsed_ms: float) -> None:
        progress.step_done(step(sc), elapsed_ms)
        current[:] = []

    cfg = scripts.config(migrations_dir)
    cfg.attributes[RUN] = Run(app=app, connection=conn, schema=schema_of(conn), data_only=tuple(group),
                              before_step=before, after_step=after)
    with EnvironmentContext(cfg, script, fn=lambda rev, context: []):
        script.run_env()
