"""Turn a target into a plan of revision steps and carry it out, Django-executor style.

The executor never prints: it reports each step to a `Progress` and raises
`CommandError` naming the revision that failed.
"""

from __future__ import annotations

import functools
import io
import re
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError as AlembicCommandError

from . import loader, plugins
from .exceptions import CommandError, first_line
from .output import Progress

Heads = Tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """One revision to apply (``upgrade``) or unapply, as shown to the user."""

    revision: str
    message: str
    upgrade: bool
    fake: bool = False

    @property
    def verb(self) -> str:
        if self.fake:
            return "Faking" if self.upgrade else "Faking unapply of"
        return "Applying" if self.upgrade else "Unapplying"

    def __str__(self) -> str:
        return f"{self.verb} {self.revision} ({self.message})"


@dataclass(frozen=True)
class Plan:
    """The steps that take a database from ``heads`` to a target, and where they end."""

    heads: Heads
    upgrade: bool
    destination: str
    alembic_steps: tuple

    @functools.cached_property  # read once per applied revision: build it once
    def steps(self) -> List[Step]:
        return [
            Step(s.revision.revision, s.revision.doc or "", self.upgrade)
            for s in self.alembic_steps
        ]

    @property
    def end(self) -> Heads:
        """The heads after the plan, as concrete revision ids (empty for base)."""
        if not self.alembic_steps:
            return self.heads
        last = self.alembic_steps[-1].revision
        if self.upgrade:
            return (last.revision,)
        down = last.down_revision
        return () if down is None else tuple(down) if isinstance(down, (tuple, list)) else (down,)


def current_heads(conn) -> Heads:
    """Read the applied heads from the version table (empty when there is none)."""
    return tuple(MigrationContext.configure(conn).get_current_heads())


def _revision_error(target: str, exc: Exception) -> CommandError:
    text = first_line(exc)
    return CommandError(
        f"cannot resolve migration target {target!r}: {text}; "
        "run 'python -m myapp.db showmigrations' to see the revisions"
    )


def plan(script: ScriptDirectory, heads: Heads, target: str) -> Plan:
    """Work out the steps from ``heads`` to ``target``.

    ``target`` is a revision id or unique prefix, ``head``, ``zero`` (or
    ``base``), or relative (``-1``, ``+2``); a target behind the current
    revision means a downgrade.
    """
    target = (target or "head").strip()
    try:
        if target in ("zero", "base"):
            upgrade, destination = False, "base"
        elif target in ("head", "heads"):
            upgrade, destination = True, "heads"
        elif target[:1] in "+-" and target[1:].isdigit():
            upgrade, destination = target[0] == "+", target
        else:
            revision = script.get_revision(target)
            if revision is None:
                raise RevisionError(f"no revision {target!r}")
            applied = applied_revisions(script, heads)
            upgrade = revision.revision not in applied
            destination = revision.revision
        if upgrade:
            steps = script._upgrade_revs(destination, heads)
        else:
            steps = script._downgrade_revs(destination, heads)
    except (RevisionError, AlembicCommandError) as exc:
        raise _revision_error(target, exc) from None
    return Plan(heads, upgrade, destination, tuple(steps))


def applied_revisions(script: ScriptDirectory, heads: Heads) -> set:
    """Every revision that ``heads`` include, themselves and their ancestors."""
    if not heads:
        return set()
    return {r.revision for r in script.iterate_revisions(heads, "base")}


def _db_message(exc: BaseException) -> str:
    """What went wrong: the database's message or ours as is, a Python error with its type."""
    if hasattr(exc, "orig") or isinstance(exc, CommandError):
        return first_line(exc)
    return f"{type(exc).__name__}: {first_line(exc)}"


def run(
    migrations_dir: str,
    conn,
    target: str,
    progress: Progress,
    *,
    per_step_commit: bool = False,
) -> Plan:
    """Apply the plan for ``target`` on ``conn`` through the package's env.py."""
    script = loader.scripts(migrations_dir)
    state = {"plan": None, "done": 0, "started": 0.0}

    def start_next():
        steps = state["plan"].steps
        if state["done"] < len(steps):
            state["started"] = time.perf_counter()
            progress.step_start(steps[state["done"]])

    def migrations_fn(rev, context):
        state["plan"] = plan(script, tuple(rev), target)
        start_next()
        return plugins.hooked_steps(context, state["plan"])

    def on_version_apply(ctx, step, heads, run_args):
        elapsed = (time.perf_counter() - state["started"]) * 1000
        progress.step_done(state["plan"].steps[state["done"]], elapsed)
        state["done"] += 1
        start_next()

    cfg = loader.config(migrations_dir)
    cfg.attributes.update(
        connection=conn,
        transaction_per_migration=per_step_commit,
        on_version_apply=on_version_apply,
    )
    try:
        with EnvironmentContext(cfg, script, fn=migrations_fn):
            script.run_env()
    except Exception as exc:
        p = state["plan"]
        if p is None or state["done"] >= len(p.steps):
            raise
        failed = p.steps[state["done"]]
        progress.step_failed(failed)
        if per_step_commit:
            left = p.steps[state["done"] - 1] if state["done"] else None
            if left is None:
                where = "at " + (", ".join(p.heads) or "base") + ", where it was"
            elif p.upgrade:
                where = f"at {left.revision}, the last revision that succeeded"
            else:
                where = f"just below {left.revision}, the last revision unapplied"
            state_text = f"the database stays {where}"
        else:
            state_text = "every step was rolled back: the database is as it was"
        raise CommandError(
            f"revision {failed.revision} ({failed.message}) failed: {_db_message(exc)}; "
            f"{state_text}"
        ) from exc
    return state["plan"]


def fake(migrations_dir: str, conn, target: str, progress: Progress) -> Plan:
    """Record ``target`` as applied without running any revision."""
    script = loader.scripts(migrations_dir)
    heads = current_heads(conn)
    p = plan(script, heads, target)
    if p.alembic_steps:
        MigrationContext.configure(conn).stamp(script, p.end or "base")
        for step in p.steps:
            s = Step(step.revision, step.message, step.upgrade, fake=True)
            progress.step_start(s)
            progress.step_done(s, 0.0)
    return p


def render_sql(migrations_dir: str, target: str, start: Optional[str] = None) -> Tuple[Plan, str]:
    """Return the plan and the SQL that would move a database at ``start`` to ``target``."""
    plugins.load()
    script = loader.scripts(migrations_dir)
    heads: Heads = ()
    if start and start not in ("base", "zero"):
        try:
            heads = (script.get_revision(start).revision,)
        except (RevisionError, AlembicCommandError, AttributeError) as exc:
            raise CommandError(
                f"cannot resolve --from revision {start!r}: {first_line(exc)}; "
                "run 'python -m myapp.db history' to see the revisions"
            ) from None
    p = plan(script, heads, target)
    buf = io.StringIO()
    cfg = loader.config(migrations_dir, output_buffer=buf)
    cfg.attributes["transaction_per_migration"] = False
    try:
        with EnvironmentContext(
            cfg,
            script,
            fn=lambda rev, context: plugins.hooked_steps(context, p),
            as_sql=True,
            starting_rev=heads[0] if heads else None,
            destination_rev=p.destination,
        ):
            script.run_env()
    except Exception as exc:
        # Alembic writes "-- Running upgrade A -> B" (or "downgrade B -> A") before each step.
        running = re.findall(r"^-- Running (\w+) (\S+) -> (\S+)", buf.getvalue(), re.M)
        where = ""
        if running:
            direction, down, up = running[-1]
            where = f" in revision {up if direction == 'upgrade' else down}"
        raise CommandError(f"rendering the SQL failed{where}: {_db_message(exc)}") from exc
    return p, buf.getvalue()
