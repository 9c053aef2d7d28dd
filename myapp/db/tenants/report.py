"""What a fan-out did to each target, `Outcome`, and the whole run's `Report`, as text lines or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import List, Optional

#: An outcome's status.
APPLIED, UNCHANGED, PENDING, FAILED, NOT_STARTED = "applied", "unchanged", "pending", "failed", "not_started"


@dataclass
class Outcome:
    """One target (a database, or a tenant schema in one) after the run.

    :ivar database: the database, password masked.
    :ivar schema: the tenant schema, or None for the database's own.
    :ivar status: ``applied`` (it changed), ``unchanged`` (already there: ``detail`` says
        where), ``pending`` (``--plan``/``--check``: ``steps`` would run), ``failed``
        (``reason`` says why, in one line) or ``not_started`` (the run was interrupted first).
    :ivar steps: the steps run (or, when pending, to run), as progress names them.
    """

    database: str
    schema: Optional[str]
    status: str
    steps: List[str] = field(default_factory=list)
    detail: str = ""
    reason: Optional[str] = None
    duration_ms: Optional[float] = None
    #: Where the target sits in the run's order (database, then schema): the report's order.
    position: tuple = field(default=(), repr=False, compare=False)

    def label(self, many_databases: bool) -> str:
        if self.schema is None:
            return self.database
        return f"{self.database} schema {self.schema}" if many_databases else self.schema

    def describe(self) -> str:
        """The status in words, one line."""
        took = f" in {self.duration_ms:.0f} ms" if self.duration_ms is not None else ""
        if self.status == APPLIED:
            note = f" ({self.detail})" if self.detail else ""
            return f"{_count(self.steps, 'step')} done{took}: {'; '.join(self.steps)}{note}"
        if self.status == UNCHANGED:
            return self.detail
        if self.status == PENDING:
            return f"{_count(self.steps, 'step')} to do: {'; '.join(self.steps)}"
        if self.status == FAILED:
            return f"FAILED: {self.reason}"
        return "not started (interrupted)"


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


@dataclass
class Report:
    """Every target's outcome, in order, and how the run ended."""

    outcomes: List[Outcome]
    jobs: int
    elapsed_s: float
    #: The signal that interrupted the run (``"SIGINT"``, ``"SIGTERM"``), if one did.
    interrupted: Optional[str] = None
    #: A ``--check`` run: pending work is a finding (exit status 1).
    check: bool = False

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def exit_status(self) -> int:
        """130/143 if interrupted, 2 if any target failed, 1 if ``--check`` found one pending, else 0."""
        if self.interrupted:
            return 143 if self.interrupted == "SIGTERM" else 130
        if self.failed:
            return 2
        return 1 if self.check and self.count(PENDING) else 0

    def summary(self) -> str:
        parts = [f"{self.count(s)} {word}" for s, word in (
            (APPLIED, "applied"), (UNCHANGED, "unchanged"), (PENDING, "pending"),
            (FAILED, "failed"), (NOT_STARTED, "not started")) if self.count(s)]
        end = f"; interrupted by {self.interrupted}" if self.interrupted else ""
        return (f"{_count(self.outcomes, 'target')} in {self.elapsed_s:.1f} s with -j {self.jobs}: "
                f"{', '.join(parts) or 'nothing to do'}{end}")

    def lines(self) -> List[str]:
        """One line per target, then the summary."""
        many = len({o.database for o in self.outcomes}) > 1
        labels = [o.label(many) for o in self.outcomes]
        width = min(max(map(len, labels), default=0), 40)
        return [f"{label:<{width}}  {o.describe()}" for label, o in zip(labels, self.outcomes)] + [self.summary()]

    def to_json(self) -> str:
        outcomes = [{k: v for k, v in asdict(o).items() if k != "position"} for o in self.outcomes]
        return json.dumps({
            "targets": outcomes,
            "summary": {s: self.count(s) for s in (APPLIED, UNCHANGED, PENDING, FAILED, NOT_STARTED)},
            "jobs": self.jobs,
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
            "exit_status": self.exit_status,
        }, indent=2)
