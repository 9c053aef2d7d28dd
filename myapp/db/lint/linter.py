"""Lint revisions: render each one's SQL offline, parse it, and run every rule on every statement.

A finding is accepted in the revision file by a comment naming the rule and
a reason:

    # myapp.db: allow index-without-concurrently -- the table is created empty in this release
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from .rules import BUILTIN, Context, Finding, Rule
from .statements import Statement, parse, relation_name

_ALLOW = re.compile(r"#\s*myapp\.db:\s*allow\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*(?:--\s*(\S.*))?$", re.M)


@dataclass
class Checked:
    """One finding, and the reason it is accepted (None: it is not)."""

    finding: Finding
    accepted: Optional[str] = None


@dataclass
class StatementReport:
    index: int
    sql: str
    effect: str
    findings: List[Checked] = field(default_factory=list)


@dataclass
class RevisionReport:
    revision: str
    message: str
    path: str
    kind: str
    statements: List[StatementReport] = field(default_factory=list)
    error: Optional[str] = None
    #: allow comments that give no reason (they accept nothing)
    unreasoned: List[str] = field(default_factory=list)

    @property
    def open_findings(self) -> List[Checked]:
        return [c for s in self.statements for c in s.findings if c.accepted is None]


@dataclass
class Report:
    revisions: List[RevisionReport]

    @property
    def open_findings(self) -> int:
        return sum(len(r.open_findings) for r in self.revisions)

    @property
    def errors(self) -> List[RevisionReport]:
        return [r for r in self.revisions if r.error]


def allowances(source: str):
    """``{rule: reason}`` from the revision's allow comments, and the rules allowed without a reason."""
    allowed, unreasoned = {}, []
    for match in _ALLOW.finditer(source):
        for rule in (r.strip() for r in match.group(1).split(",")):
            if match.group(2):
                allowed[rule] = match.group(2).strip()
            else:
                unreasoned.append(rule)
    return allowed, unreasoned


def _section(sql: str, revision: str):
    """The character offsets of the part of rendered SQL that belongs to ``revision``
    (Alembic marks each part with '-- Running upgrade A -> B')."""
    markers = list(re.finditer(r"^-- Running upgrade \S+ -> (\S+)$", sql, flags=re.M))
    for i, marker in enumerate(markers):
        if marker.group(1) == revision:
            return marker.end(), markers[i + 1].start() if i + 1 < len(markers) else None
    return 0, None


def _checks_not_null(statement: Statement, pending: dict, checked: set) -> None:
    """Follow CHECK (col IS NOT NULL) constraints added and validated within the revision."""
    if statement.node is None:
        return
    from pglast import ast
    from pglast.enums import AlterTableType as A
    from pglast.enums import ConstrType, NullTestType

    node = statement.node
    if not isinstance(node, ast.AlterTableStmt):
        return
    table = relation_name(node.relation)
    for cmd in node.cmds or ():
        c = cmd.def_
        if cmd.subtype == A.AT_AddConstraint and c is not None and c.contype == ConstrType.CONSTR_CHECK \
                and isinstance(c.raw_expr, ast.NullTest) and c.raw_expr.nulltesttype == NullTestType.IS_NOT_NULL \
                and isinstance(c.raw_expr.arg, ast.ColumnRef):
            column = c.raw_expr.arg.fields[-1].sval
            if c.skip_validation:
                pending[(table, c.conname)] = column
            else:
                checked.add((table, column))
        elif cmd.subtype == A.AT_ValidateConstraint and (table, cmd.name) in pending:
            checked.add((table, pending[(table, cmd.name)]))


def lint_sql(sql: str, context: Context, rules: Sequence[Rule] = BUILTIN, allowed=None,
             section=(0, None)) -> List[StatementReport]:
    """Lint rendered SQL (the statements within character offsets ``section``): each statement's effect and
    findings (accepted ones carry the reason)."""
    from .locks import effect

    allowed = allowed or {}
    reports, pending = [], {}
    for statement in parse(sql, *section):
        report = StatementReport(statement.index, statement.sql,
                                 effect(statement, context.volatile, context.column_types).describe())
        for rule in rules:
            for finding in rule.check(statement, context):
                report.findings.append(Checked(finding, allowed.get(finding.rule)))
        _checks_not_null(statement, pending, context.not_null_checked)
        reports.append(report)
    return reports


def lint(app, migrations_dir: Path, revisions: Sequence, *, facts: Optional[dict] = None,
         rules: Sequence[Rule] = BUILTIN) -> Report:
    """Lint ``revisions`` (Alembic's `Script` objects) of ``app``, each rendered on its own.

    :param facts: what the database says (``server_version``, ``volatile``,
        ``not_null_checked``, ``column_types``), when there is one.
    """
    from ..errors import CommandError
    from ..runtime import executor

    facts = facts or {}
    found = []
    for sc in revisions:
        source = Path(sc.path).read_text()
        allowed, unreasoned = allowances(source)
        down = sc.down_revision
        start = (down[0] if isinstance(down, (tuple, list)) else down) if down else None
        kind = executor.kind_of_revision(sc)
        report = RevisionReport(sc.revision, sc.doc or "", sc.path, kind, unreasoned=unreasoned)
        try:
            _, sql = executor.render_sql(app, migrations_dir, sc.revision, start, records=False)
            context = Context(sc.revision, kind, **{**facts, "not_null_checked": set(facts.get("not_null_checked", ()))})
            report.statements = lint_sql(sql, context, rules, allowed, _section(sql, sc.revision))
        except CommandError as exc:
            report.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - pglast's ParseError and friends: one line
            report.error = f"cannot parse the SQL of revision {sc.revision}: {type(exc).__name__}: {exc}"
        found.append(report)
    return Report(found)
