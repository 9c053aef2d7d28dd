"""A revision's SQL as the offline renderer writes it, parsed by PostgreSQL's own parser (pglast).

Each `Statement` knows its text, its parse tree, whether it runs inside a
transaction (from the BEGIN / COMMIT around it: an ``atomic = False``
revision and an ``autocommit_block()`` render outside one) and which tables
the revision created before it. The runner's own bookkeeping (the version
table, the records) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Set

from ..runtime.records import OWN_TABLES

BOOKKEEPING = OWN_TABLES | {"alembic_version"}


@dataclass
class Statement:
    """One SQL statement of a revision."""

    index: int  # 1-based, within the revision
    location: int  # byte offset in the rendered SQL
    sql: str
    node: object  # pglast's parse tree
    in_transaction: bool
    new_tables: Set[str] = field(default_factory=set)  # tables created earlier in the revision

    @property
    def kind(self) -> str:
        return type(self.node).__name__


def relation_name(range_var) -> Optional[str]:
    """``schema.name`` or ``name`` of a pglast RangeVar."""
    if range_var is None:
        return None
    return f"{range_var.schemaname}.{range_var.relname}" if range_var.schemaname else range_var.relname


def _bookkeeping(node) -> bool:
    relation = getattr(node, "relation", None)
    return relation is not None and getattr(relation, "relname", None) in BOOKKEEPING


def parse(sql: str, start: int = 0, end: Optional[int] = None) -> List[Statement]:
    """Split and parse rendered SQL into statements, keeping those between byte offsets ``start`` and
    ``end`` (one revision's part; BEGIN and COMMIT anywhere still count); raises pglast's ParseError."""
    from pglast import ast, parse_sql
    from pglast.enums import TransactionStmtKind

    found: List[Statement] = []
    in_transaction, new_tables = False, set()
    for raw in parse_sql(sql):
        node = raw.stmt
        if isinstance(node, ast.TransactionStmt):
            if node.kind in (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START):
                in_transaction = True
            elif node.kind in (TransactionStmtKind.TRANS_STMT_COMMIT, TransactionStmtKind.TRANS_STMT_ROLLBACK):
                in_transaction = False
            continue
        if _bookkeeping(node) or raw.stmt_location < start or (end is not None and raw.stmt_location >= end):
            continue
        text = sql.encode()[raw.stmt_location:raw.stmt_location + raw.stmt_len].decode() if raw.stmt_len \
            else sql.encode()[raw.stmt_location:].decode()
        text = "\n".join(line for line in text.strip().splitlines() if not line.strip().startswith("--")).strip()
        found.append(Statement(len(found) + 1, raw.stmt_location, text, node, in_transaction, set(new_tables)))
        if isinstance(node, ast.CreateStmt) or isinstance(node, ast.CreateTableAsStmt):
            rel = node.relation if isinstance(node, ast.CreateStmt) else node.into.rel
            new_tables.add(relation_name(rel))
            new_tables.add(rel.relname)
    return found
