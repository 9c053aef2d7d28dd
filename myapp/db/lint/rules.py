"""The lint rules: what can take a busy site down, each with its kebab-case id and the safe alternative.

A rule is a `Rule` whose ``check(statement, context)`` yields `Finding` messages
for one statement. Plugins add rules through the ``lint_rules`` hook. None
checks for a missing ``lock_timeout``: the runner always sets one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

from .locks import coercible, column_default_rewrites
from .statements import Statement, relation_name

#: Functions whose value differs per row, known without a database (a database is asked when there is one).
VOLATILE = frozenset({
    "random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4",
    "uuidv4", "uuidv7", "nextval", "txid_current", "setseed",
})


@dataclass
class Context:
    """What a rule may know besides the statement: the revision and the database, if there is one."""

    revision: str
    kind: str = "atomic"  # atomic, non-atomic, autocommit
    server_version: Optional[int] = None  # e.g. 180001; None: unknown
    volatile: frozenset = VOLATILE
    #: (table, column) pairs with a validated CHECK (column IS NOT NULL): SET NOT NULL then scans nothing.
    not_null_checked: Set[Tuple[str, str]] = field(default_factory=set)
    #: "table.column" -> its type as format_type() gives it, when a database was asked.
    column_types: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    alternative: str


class Rule:
    """A lint rule: ``id`` (kebab-case), ``summary``, and ``check`` yielding findings for one statement."""

    id: str = ""
    summary: str = ""

    def check(self, statement: Statement, context: Context) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, message: str, alternative: str) -> Finding:
        return Finding(self.id, message, alternative)


def _parsed(check):
    """A built-in rule looks only into parse trees: a statement left unparsed (``node`` None, see
    `Statement.unparsed`) has nothing for it, so it is passed over before pglast is even looked up."""
    @functools.wraps(check)
    def checked(self, statement, context):
        return () if statement.node is None else check(self, statement, context)
    return checked


def _existing(statement: Statement, table: Optional[str]) -> bool:
    return table is not None and table not in statement.new_tables and table.rpartition(".")[2] not in statement.new_tables


def _alter_cmds(statement: Statement, *subtypes) -> Iterator:
    from pglast import ast

    if isinstance(statement.node, ast.AlterTableStmt):
        for cmd in statement.node.cmds or ():
            if cmd.subtype in subtypes:
                yield cmd


class IndexWithoutConcurrently(Rule):
    id = "index-without-concurrently"
    summary = "CREATE INDEX on an existing table blocks its writes for the whole build"

    @_parsed
    def check(self, statement, context):
        from pglast import ast

        node = statement.node
        if isinstance(node, ast.IndexStmt) and not node.concurrent and _existing(statement, relation_name(node.relation)):
            table = relation_name(node.relation)
            yield self.finding(
                f"CREATE INDEX {node.idxname or ''} on {table} takes SHARE, blocking its writes while it builds",
                "build it with op.create_index(..., postgresql_concurrently=True) in a revision with atomic = False",
            )


class VolatileDefault(Rule):
    id = "volatile-default"
    summary = "ADD COLUMN whose default is computed per row rewrites the table"

    @_parsed
    def check(self, statement, context):
        from pglast.enums import AlterTableType as A

        table = relation_name(getattr(statement.node, "relation", None))
        for cmd in _alter_cmds(statement, A.AT_AddColumn):
            if _existing(statement, table) and column_default_rewrites(cmd.def_, context.volatile):
                yield self.finding(
                    f"ADD COLUMN {cmd.def_.colname} to {table} with a per-row default rewrites the table "
                    "under ACCESS EXCLUSIVE",
                    "add the column with no default (or a constant one), then fill it in batches in a data step",
                )


class SetNotNull(Rule):
    id = "set-not-null"
    summary = "SET NOT NULL scans the table under ACCESS EXCLUSIVE, unless a validated CHECK proves it"

    @_parsed
    def check(self, statement, context):
        from pglast.enums import AlterTableType as A

        table = relation_name(getattr(statement.node, "relation", None))
        for cmd in _alter_cmds(statement, A.AT_SetNotNull):
            if _existing(statement, table) and (table, cmd.name) not in context.not_null_checked \
                    and (table.rpartition(".")[2], cmd.name) not in context.not_null_checked:
                yield self.finding(
                    f"SET NOT NULL on {table}.{cmd.name} scans every row under ACCESS EXCLUSIVE",
                    f"ADD CONSTRAINT ... CHECK ({cmd.name} IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL "
                    "(PostgreSQL 12+ uses the check and scans nothing)",
                )


class ConstraintWithoutNotValid(Rule):
    id = "constraint-without-not-valid"
    summary = "ADD FOREIGN KEY or CHECK on an existing table scans it under lock"

    @_parsed
    def check(self, statement, context):
        from pglast.enums import AlterTableType as A
        from pglast.enums import ConstrType

        table = relation_name(getattr(statement.node, "relation", None))
        for cmd in _alter_cmds(statement, A.AT_AddConstraint):
            c = cmd.def_
            if c is None or c.contype not in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK) or c.skip_validation:
                continue
            if _existing(statement, table):
                what = "FOREIGN KEY" if c.contype == ConstrType.CONSTR_FOREIGN else "CHECK"
                yield self.finding(
                    f"ADD {what} {c.conname or ''} on {table} validates every row while holding its lock",
                    "add it NOT VALID, then VALIDATE CONSTRAINT in a later revision (SHARE UPDATE EXCLUSIVE: "
                    "reads and writes go on)",
                )


class ColumnTypeRewrite(Rule):
    id = "column-type-rewrite"
    summary = "ALTER COLUMN TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE"

    @_parsed
    def check(self, statement, context):
        from pglast.enums import AlterTableType as A

        table = relation_name(getattr(statement.node, "relation", None))
        for cmd in _alter_cmds(statement, A.AT_AlterColumnType):
            if not _existing(statement, table) or coercible(context.column_types, table, cmd):
                continue
            yield self.finding(
                f"ALTER COLUMN {cmd.name} TYPE on {table} rewrites the table under ACCESS EXCLUSIVE",
                "add a new column, fill it in batches, switch the code to it, then drop the old one "
                "(widening varchar or changing it to text needs no rewrite)",
            )


class DropColumn(Rule):
    id = "drop-column"
    summary = "DROP COLUMN breaks the app instances still running code that uses it"

    @_parsed
    def check(self, statement, context):
        from pglast.enums import AlterTableType as A

        table = relation_name(getattr(statement.node, "relation", None))
        for cmd in _alter_cmds(statement, A.AT_DropColumn):
            if _existing(statement, table):
                yield self.finding(
                    f"DROP COLUMN {cmd.name} from {table} breaks code that still reads or writes it",
                    "deploy code that no longer uses the column first, then drop it in a later release",
                )


class DropTable(Rule):
    id = "drop-table"
    summary = "DROP TABLE breaks the app instances still running code that uses it"

    @_parsed
    def check(self, statement, context):
        from pglast import ast
        from pglast.enums import ObjectType as O

        node = statement.node
        if isinstance(node, ast.DropStmt) and node.removeType == O.OBJECT_TABLE:
            for obj in node.objects or ():
                name = ".".join(p.sval for p in obj)
                if _existing(statement, name):
                    yield self.finding(
                        f"DROP TABLE {name} breaks code that still uses it",
                        "deploy code that no longer uses the table first, then drop it in a later release",
                    )


class Rename(Rule):
    id = "rename"
    summary = "RENAME of a column or table breaks the running code"

    @_parsed
    def check(self, statement, context):
        from pglast import ast
        from pglast.enums import ObjectType as O

        node = statement.node
        if isinstance(node, ast.RenameStmt) and node.renameType in (O.OBJECT_COLUMN, O.OBJECT_TABLE):
            table = relation_name(node.relation)
            if _existing(statement, table):
                what = f"column {table}.{node.subname}" if node.renameType == O.OBJECT_COLUMN else f"table {table}"
                yield self.finding(
                    f"RENAME of {what} to {node.newname} breaks code that uses the old name",
                    "deploy code that works with both names first (or add the new one, fill it, switch, drop the old)",
                )


class ConcurrentlyInTransaction(Rule):
    id = "concurrently-in-transaction"
    summary = "CONCURRENTLY cannot run inside a transaction"

    @_parsed
    def check(self, statement, context):
        from pglast import ast

        node = statement.node
        concurrent = (
            (isinstance(node, (ast.IndexStmt, ast.DropStmt)) and node.concurrent)
            or (isinstance(node, ast.ReindexStmt) and any(p.defname == "concurrently" for p in node.params or ()))
        )
        if concurrent and statement.in_transaction:
            yield self.finding(
                f"{statement.sql.split('(')[0].strip()[:60]} runs inside the revision's transaction, which "
                "PostgreSQL refuses",
                "add 'atomic = False' to the revision (or wrap it in op.get_context().autocommit_block())",
            )


class BlockingMaintenance(Rule):
    id = "blocking-maintenance"
    summary = "VACUUM FULL, CLUSTER and REINDEX without CONCURRENTLY lock the table for the whole run"

    @_parsed
    def check(self, statement, context):
        from pglast import ast

        node = statement.node
        if isinstance(node, ast.VacuumStmt) and any(o.defname == "full" for o in node.options or ()):
            yield self.finding("VACUUM FULL rewrites the table under ACCESS EXCLUSIVE",
                               "use pg_repack or pg_squeeze outside the migration")
        elif isinstance(node, ast.ClusterStmt):
            yield self.finding("CLUSTER rewrites the table under ACCESS EXCLUSIVE",
                               "use pg_repack outside the migration")
        elif isinstance(node, ast.ReindexStmt) and not any(p.defname == "concurrently" for p in node.params or ()):
            yield self.finding("REINDEX without CONCURRENTLY blocks writes (and reads of the index)",
                               "REINDEX ... CONCURRENTLY in a revision with atomic = False")


class UniqueWithoutIndex(Rule):
    id = "unique-without-index"
    summary = "ADD UNIQUE or PRIMARY KEY builds its index under ACCESS EXCLUSIVE"

    @_parsed
    def check(self, statement, context):
        from pglast.enums import AlterTableType as A
        from pglast.enums import ConstrType

        table = relation_name(getattr(statement.node, "relation", None))
        for cmd in _alter_cmds(statement, A.AT_AddConstraint):
            c = cmd.def_
            if c is not None and c.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) \
                    and not c.indexname and _existing(statement, table):
                what = "UNIQUE" if c.contype == ConstrType.CONSTR_UNIQUE else "PRIMARY KEY"
                yield self.finding(
                    f"ADD {what} on {table} builds its index while holding ACCESS EXCLUSIVE",
                    "CREATE UNIQUE INDEX CONCURRENTLY (atomic = False), then ADD CONSTRAINT ... USING INDEX",
                )


class EnumValueInTransaction(Rule):
    id = "enum-value-in-transaction"
    summary = "ALTER TYPE ... ADD VALUE cannot run in a transaction before PostgreSQL 12"

    @_parsed
    def check(self, statement, context):
        from pglast import ast

        node = statement.node
        if isinstance(node, ast.AlterEnumStmt) and node.newVal and statement.in_transaction \
                and context.server_version is not None and context.server_version < 120000:
            yield self.finding(
                f"ALTER TYPE ... ADD VALUE {node.newVal!r} inside a transaction fails on PostgreSQL "
                f"{context.server_version // 10000}",
                "add 'atomic = False' to the revision",
            )


BUILTIN: List[Rule] = [
    IndexWithoutConcurrently(), VolatileDefault(), SetNotNull(), ConstraintWithoutNotValid(), ColumnTypeRewrite(),
    DropColumn(), DropTable(), Rename(), ConcurrentlyInTransaction(), BlockingMaintenance(), UniqueWithoutIndex(),
    EnumValueInTransaction(),
]
