"""What a statement locks, on what, and whether it rewrites the table: PostgreSQL's rules, as documented.

Lock levels are PostgreSQL's names. What they block for the app:
ACCESS EXCLUSIVE blocks reads and writes; SHARE, SHARE ROW EXCLUSIVE and
EXCLUSIVE block writes; weaker levels block neither (only other DDL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from .statements import Statement, relation_name

BLOCKS = {
    "ACCESS EXCLUSIVE": "reads and writes",
    "EXCLUSIVE": "writes",
    "SHARE ROW EXCLUSIVE": "writes",
    "SHARE": "writes",
}


@dataclass(frozen=True)
class Effect:
    """The locks one statement takes and whether it rewrites a table."""

    locks: Tuple[Tuple[str, str], ...]  # (lock level, relation)
    rewrites: Optional[str] = None  # the table it rewrites, if it does

    def describe(self) -> str:
        parts = [f"{lock} on {on}" for lock, on in self.locks] or ["no lock an app query waits for"]
        text = ", ".join(parts)
        blocked = sorted({BLOCKS[lock] for lock, _ in self.locks if lock in BLOCKS}, key=len, reverse=True)
        if blocked:
            text += f" (blocks {blocked[0]})"
        if self.rewrites:
            text += f"; rewrites {self.rewrites}"
        return text


def coercible(column_types, table: str, cmd) -> bool:
    """varchar(n) to varchar(m >= n) or text, text to text: no rewrite (when the database says the old type)."""
    old = column_types.get(f"{table}.{cmd.name}") or column_types.get(
        f"{table.rpartition('.')[2]}.{cmd.name}")
    names = [n.sval for n in cmd.def_.typeName.names]
    new = names[-1]
    if old is None:
        return False
    if new == "text":
        return old == "text" or old.startswith("character varying")
    if new == "varchar" and old.startswith("character varying"):
        mods = cmd.def_.typeName.typmods or ()
        if not mods:
            return True
        width = mods[0].val.ival
        have = old[old.find("(") + 1:-1] if "(" in old else None
        return have is not None and int(have) <= width
    return False


def _alter_table(node, volatile, column_types) -> Effect:
    from pglast.enums import AlterTableType as A
    from pglast.enums import ConstrType

    table = relation_name(node.relation)
    lock, extra, rewrites = "SHARE UPDATE EXCLUSIVE", [], None
    strongest = ["SHARE UPDATE EXCLUSIVE", "SHARE ROW EXCLUSIVE", "ACCESS EXCLUSIVE"]
    for cmd in node.cmds or ():
        level = "ACCESS EXCLUSIVE"
        if cmd.subtype in (A.AT_ValidateConstraint, A.AT_SetStatistics, A.AT_ClusterOn, A.AT_DropCluster,
                           A.AT_SetOptions, A.AT_ResetOptions):
            level = "SHARE UPDATE EXCLUSIVE"
        elif cmd.subtype == A.AT_AddConstraint and cmd.def_ is not None and cmd.def_.contype == ConstrType.CONSTR_FOREIGN:
            level = "SHARE ROW EXCLUSIVE"
            extra.append(("SHARE ROW EXCLUSIVE", relation_name(cmd.def_.pktable)))
        if cmd.subtype == A.AT_AlterColumnType and not coercible(column_types, table, cmd):
            rewrites = table
        if cmd.subtype == A.AT_AddColumn and column_default_rewrites(cmd.def_, volatile):
            rewrites = table
        if cmd.subtype in (A.AT_SetTableSpace, A.AT_SetLogged, A.AT_SetUnLogged, A.AT_SetAccessMethod):
            rewrites = table
        if strongest.index(level) > strongest.index(lock):
            lock = level
    return Effect(((lock, table), *extra), rewrites)


def column_default_rewrites(column, volatile) -> bool:
    """Whether adding ``column`` (a pglast ColumnDef) fills every row with a computed value (a rewrite)."""
    from pglast import ast
    from pglast.enums import ConstrType

    if column is None:
        return False
    type_names = [n.sval for n in (column.typeName.names if column.typeName else ())]
    if type_names and type_names[-1] in ("serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"):
        return True
    for constraint in column.constraints or ():
        if constraint.contype in (ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED):
            return True
        if constraint.contype == ConstrType.CONSTR_DEFAULT and constraint.raw_expr is not None:
            for node in _walk(constraint.raw_expr):
                if isinstance(node, ast.FuncCall) and node.funcname[-1].sval.lower() in volatile:
                    return True
    return False


def _walk(node):
    from pglast import ast

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Node):
            yield current
            stack.extend(getattr(current, slot) for slot in current.__slots__)
        elif isinstance(current, (list, tuple)):
            stack.extend(current)


def effect(statement: Statement, volatile=frozenset(), column_types=None) -> Effect:
    """What ``statement`` locks and rewrites (``column_types``: "table.column" -> type, when known)."""
    if statement.node is None:  # left unparsed: nothing it locks is one an app waits for
        return Effect(())
    from pglast import ast
    from pglast.enums import ObjectType as O

    node = statement.node
    if isinstance(node, ast.AlterTableStmt):
        return _alter_table(node, volatile, column_types or {})
    if isinstance(node, ast.IndexStmt):
        lock = "SHARE UPDATE EXCLUSIVE" if node.concurrent else "SHARE"
        return Effect(((lock, relation_name(node.relation)),))
    if isinstance(node, ast.CreateStmt):
        refs = [("SHARE ROW EXCLUSIVE", relation_name(c.pktable))
                for c in _walk(node.tableElts or ()) if isinstance(c, ast.Constraint) and c.pktable is not None]
        return Effect(tuple(refs))
    if isinstance(node, ast.DropStmt):
        names = [".".join(p.sval for p in obj) if isinstance(obj, tuple) else str(obj) for obj in node.objects or ()]
        lock = "SHARE UPDATE EXCLUSIVE" if node.concurrent else "ACCESS EXCLUSIVE"
        if node.removeType in (O.OBJECT_FUNCTION, O.OBJECT_SCHEMA, O.OBJECT_TYPE, O.OBJECT_EXTENSION):
            return Effect(())
        return Effect(tuple((lock, name) for name in names))
    if isinstance(node, ast.RenameStmt):
        target = relation_name(node.relation) if node.relation else None
        return Effect((("ACCESS EXCLUSIVE", target),) if target else ())
    if isinstance(node, ast.VacuumStmt):
        full = any(o.defname == "full" for o in node.options or ())
        rels = [relation_name(r.relation) for r in node.rels or ()] or ["every table"]
        lock = "ACCESS EXCLUSIVE" if full else "SHARE UPDATE EXCLUSIVE"
        return Effect(tuple((lock, r) for r in rels), rels[0] if full else None)
    if isinstance(node, ast.ClusterStmt):
        rel = relation_name(node.relation) or "every clustered table"
        return Effect((("ACCESS EXCLUSIVE", rel),), rel)
    if isinstance(node, ast.ReindexStmt):
        concurrently = any(p.defname == "concurrently" for p in node.params or ())
        rel = relation_name(node.relation) or node.name
        return Effect(((("SHARE UPDATE EXCLUSIVE" if concurrently else "ACCESS EXCLUSIVE"), rel),))
    if isinstance(node, ast.RefreshMatViewStmt):
        return Effect(((("EXCLUSIVE" if node.concurrent else "ACCESS EXCLUSIVE"), relation_name(node.relation)),))
    if isinstance(node, ast.ViewStmt) and node.replace:
        return Effect((("ACCESS EXCLUSIVE", relation_name(node.view)),))
    if isinstance(node, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)):
        return Effect((("ROW EXCLUSIVE", relation_name(node.relation)),))
    if isinstance(node, ast.CommentStmt):
        return Effect(())
    if isinstance(node, ast.DoStmt):
        return Effect((("whatever its PL/pgSQL does", "the objects it names"),))
    return Effect(())
