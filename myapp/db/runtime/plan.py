"""From a target to the steps that reach it: `Plan` and `Step`, worked out before anything runs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import List, Tuple

from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError as AlembicCommandError

from .. import compat
from ..errors import TargetError, first_line
from . import revisions

Heads = Tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """One revision to apply (``upgrade``) or unapply, as shown to the user."""

    revision: str
    message: str
    upgrade: bool
    fake: bool = False
    #: Only the revision's data step (``migrate --data-only``).
    data: bool = False

    @property
    def verb(self) -> str:
        if self.data:
            return "Running the data step of"
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
        return [Step(s.revision.revision, s.revision.doc or "", self.upgrade) for s in self.alembic_steps]

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


def applied_revisions(script: ScriptDirectory, heads: Heads) -> set:
    """Every revision that ``heads`` include, themselves and their ancestors."""
    revisions.check_known(script, heads)
    if not heads:
        return set()
    return {r.revision for r in script.iterate_revisions(heads, "base")}


def plan(script: ScriptDirectory, heads: Heads, target: str) -> Plan:
    """Work out the steps from ``heads`` to ``target``.

    ``target`` is a revision id or unique prefix, ``head``, ``zero`` (or
    ``base``), or relative (``-1``, ``+2``); a target behind the current
    revision means a downgrade. With two heads in the history, ``head`` and
    ``+N`` are refused (`DivergentHeads`); a revision named on one branch may
    still be reached, as with Alembic.
    """
    target = "head" if target is None else target.strip()
    if not target:
        raise TargetError(target, "the migration target is empty: give a revision id or prefix, "
                                  "'head', 'zero', '-1' or '+2'")
    revisions.check_known(script, heads)
    if target in ("head", "heads") or (target[:1] == "+" and target[1:].isdigit()):
        revisions.single_head(script, f"migrate to {target}", ", or migrate to one of them by its id")
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
            upgrade = revision.revision not in applied_revisions(script, heads)
            destination = revision.revision
        if upgrade:
            steps = compat.upgrade_steps(script, destination, heads)
        else:
            steps = compat.downgrade_steps(script, destination, heads)
    except (RevisionError, AlembicCommandError) as exc:
        raise TargetError(
            target,
            f"cannot resolve migration target {target!r}: {first_line(exc)}; "
            "run 'python -m myapp.db showmigrations' to see the revisions",
        ) from None
    return Plan(heads, upgrade, destination, tuple(steps))
