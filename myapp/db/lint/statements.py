"""A revision's SQL as the offline renderer writes it, parsed by PostgreSQL's own parser (pglast).

Each `Statement` knows its text, its parse tree, whether it runs inside a
transaction (from the BEGIN / COMMIT around it: an ``atomic = False``
revision and an ``autocommit_block()`` render outside one) and which tables
the revision created before it. The runner's own bookkeeping (the version
table, the records) is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Set

from ..runtime.records import OWN_TABLES

BOOKKEEPING = OWN_TABLES | {"alembic_version"}


@dataclass
class Statement:
    """One SQL statement of a revision."""

    index: int  # 1-based, within the revision
    location: int  # character offset in the rendered SQL
    sql: str
    node: object  # pglast's parse tree
    in_transaction: bool
    new_tables: Set[str] = field(default_factory=set)  # tables created earlier in the revision
    #: What it is when it was not parsed (``CREATE FUNCTION``, ``GRANT``, ...)
    unparsed: Optional[str] = None

    @property
    def kind(self) -> str:
        return self.unparsed or type(self.node).__name__


def relation_name(range_var) -> Optional[str]:
    """``schema.name`` or ``name`` of a pglast RangeVar."""
    if range_var is None:
        return None
    return f"{range_var.schemaname}.{range_var.relname}" if range_var.schemaname else range_var.relname


_CONTROL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK)\b", re.I)
_OPENS = re.compile(r"^\s*(BEGIN|START)", re.I)
_KEEPING = re.compile(
    r"^\s*(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE|CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?)\s+"
    r"(?:\w+\.)?(?:" + "|".join(sorted(BOOKKEEPING)) + r")\b", re.I)


# Statements no built-in rule looks into and that lock nothing an app waits for: not parsed (a long
# generated revision is mostly these); their `node` is None and `kind` says what they are.
_UNPARSED = re.compile(r"^\s*(CREATE\s+(?:FUNCTION|VIEW|TYPE|SCHEMA|SEQUENCE)|GRANT|REVOKE|COMMENT\s+ON)\b", re.I)

_LEADING = re.compile(r"(?:\s*--[^\n]*\n)*\s*")


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.strip().splitlines() if not line.strip().startswith("--")).strip()


def parse(sql: str, start: int = 0, end: Optional[int] = None) -> List[Statement]:
    """Split rendered SQL into statements and parse those between character offsets ``start`` and
    ``end`` (one revision's part; BEGIN and COMMIT anywhere still count); raises pglast's ParseError.

    Statements are split by the scanner and parsed one by one, the runner's bookkeeping (the version
    table, the records) not at all: building pglast's tree for a whole long revision at once is slow.
    """
    from pglast import ast, parse_sql, split

    found: List[Statement] = []
    in_transaction, new_tables = False, set()
    for piece in split(sql, with_parser=False, only_slices=True):
        raw = sql[piece]
        text = _strip_comments(raw)
        if not text:
            continue
        location = piece.start + _LEADING.match(raw).end()  # where the statement itself begins
        if _CONTROL.match(text):
            in_transaction = bool(_OPENS.match(text))
            continue
        if location < start or (end is not None and location >= end) or _KEEPING.match(text):
            continue
        unparsed = _UNPARSED.match(text)
        if unparsed:
            found.append(Statement(len(found) + 1, location, text, None, in_transaction, set(new_tables),
                                   " ".join(unparsed.group(1).upper().split())))
            continue
        for raw in parse_sql(text):
            node = raw.stmt
            found.append(Statement(len(found) + 1, location, text, node, in_transaction, set(new_tables)))
            if isinstance(node, (ast.CreateStmt, ast.CreateTableAsStmt)):
                rel = node.relation if isinstance(node, ast.CreateStmt) else node.into.rel
                new_tables.add(relation_name(rel))
                new_tables.add(rel.relname)
    return found
