"""Carry out a plan through the app's env.py, Django-executor style.

The executor never prints: it reports each step to a `Progress` and raises
`RevisionFailed` naming the revision that failed and where the database stays.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Optional, Tuple

from alembic.runtime.environment import EnvironmentContext
from alembic.script.revision import RevisionError
from alembic.util import CommandError as AlembicCommandError

from ..app import App
from ..errors import INTERRUPTS, CommandError, RevisionFailed, TargetError, describe_exception, first_line
from ..progress import Progress
from . import recorder, scripts
from .env import RUN, Run
from .plan import Heads, Plan, Step, plan


def run(
    app: App,
    migrations_dir: Path,
    conn,
    target: str,
    progress: Progress,
    *,
    per_step_commit: bool = False,
) -> Plan:
    """Apply the plan for ``target`` on ``conn`` through the app's env.py."""
    script = scripts.scripts(migrations_dir)
    state = {"plan": None, "done": 0, "started": 0.0}

    def migrations_fn(rev, context):
        state["plan"] = plan(script, tuple(rev), target)
        return list(state["plan"].alembic_steps)

    def before_step(step):
        state["started"] = time.perf_counter()
        progress.step_start(state["plan"].steps[state["done"]])

    def on_version_apply(ctx, step, heads, run_args):
        elapsed = (time.perf_counter() - state["started"]) * 1000
        progress.step_done(state["plan"].steps[state["done"]], elapsed)
        state["done"] += 1

    cfg = scripts.config(migrations_dir)
    cfg.attributes[RUN] = Run(
        app=app,
        connection=conn,
        transaction_per_migration=per_step_commit,
        on_version_apply=[on_version_apply],
        before_step=before_step,
    )
    try:
        with EnvironmentContext(cfg, script, fn=migrations_fn):
            script.run_env()
    except BaseException as exc:  # SystemExit in a revision or hook fails the run too
        if isinstance(exc, INTERRUPTS):
            raise
        p = state["plan"]
        if p is None or state["done"] >= len(p.steps):
            raise
        failed = p.steps[state["done"]]
        progress.step_failed(failed)
        raise RevisionFailed(failed.revision, failed.message, describe_exception(exc),
                             _where(p, state["done"], per_step_commit)) from exc
    return state["plan"]


def _where(p: Plan, done: int, per_step_commit: bool) -> str:
    if not per_step_commit:
        return "every step was rolled back: the database is as it was"
    left = p.steps[done - 1] if done else None
    if left is None:
        where = "at " + (", ".join(p.heads) or "base") + ", where it was"
    elif p.upgrade:
        where = f"at {left.revision}, the last revision that succeeded"
    else:
        where = f"just below {left.revision}, the last revision unapplied"
    return f"the database stays {where}"


def fake(migrations_dir: Path, conn, target: str, progress: Progress) -> Plan:
    """Record ``target`` as applied without running any revision."""
    script = scripts.scripts(migrations_dir)
    p = plan(script, recorder.current_heads(conn), target)
    if p.alembic_steps:
        recorder.stamp(conn, script, p.end or "base")
        for step in p.steps:
            s = Step(step.revision, step.message, step.upgrade, fake=True)
            progress.step_start(s)
            progress.step_done(s, 0.0)
    return p


def render_sql(app: App, migrations_dir: Path, target: str, start: Optional[str] = None) -> Tuple[Plan, str]:
    """Return the plan and the SQL that would move a database at ``start`` to ``target``."""
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
    cfg.attributes[RUN] = Run(app=app)
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
