"""The framework's own record of every applied revision: its checksum, when, how long, by whom, how.

One row per applied revision in ``myapp_db_revisions``, beside the version
table (in its schema). It is written in the revision's own transaction, by
whoever runs it (myapp.db, plain Alembic, offline SQL), and deleted when the
revision is unapplied. ``migrate`` refuses to go on when an applied
revision's file changed since it ran.

The checksum is a hash of the module's syntax tree without docstrings, so
comments, blank lines, formatting and the docstring do not count; the
source hash (of the bytes) is the fast path that avoids parsing unchanged
files.

``data_step`` says what became of a revision's data step (``data_upgrade()``,
see `data`): ``applied``, ``pending`` (applied with ``--no-data``: ``migrate
--data-only`` runs it) or ``skipped`` (bootstrap and ``--fake`` run none, and
none is due); NULL when the revision has none. A table from before that column
gets it the first time a revision is recorded (`ensure`).
"""

from __future__ import annotations

import ast
import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import sqlalchemy as sa

from ..catalog import lookup
from ..ddl import AddColumn
from .tenancy import schema_of

TABLE = "myapp_db_revisions"
#: Every table the framework keeps for itself (never the app's: autogenerate leaves them alone).
OWN_TABLES = frozenset({TABLE})
#: What ``data_step`` says of a revision's data step.
DATA_APPLIED, DATA_PENDING, DATA_SKIPPED = "applied", "pending", "skipped"


def table(schema: Optional[str] = None) -> sa.Table:
    return sa.Table(
        TABLE, sa.MetaData(),
        sa.Column("revision", sa.String(64), primary_key=True),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("applied_by", sa.Text, nullable=False, server_default=sa.text("CURRENT_USER")),
        sa.Column("package_version", sa.Text),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("data_step", sa.String(16)),  # added after the first release: see ensure()
        schema=schema,
    )


@dataclass(frozen=True)
class Record:
    """One applied revision, as recorded."""

    revision: str
    checksum: str
    source_hash: str
    applied_at: datetime.datetime
    duration_ms: Optional[int]
    applied_by: str
    package_version: Optional[str]
    how: str  # migrate, bootstrap, fake, recorded (found applied before records were kept), accepted
    data_step: Optional[str] = None  # applied, pending, skipped; None: no data step (or not known)

    @property
    def data_pending(self) -> bool:
        """Whether the revision's data step waits for ``migrate --data-only``."""
        return self.data_step == DATA_PENDING


def source_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def checksum(path: str) -> str:
    """A hash of the revision's code that comments, blank lines, formatting and docstrings do not change."""
    tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def create(schema: Optional[str] = None):
    """``CREATE TABLE IF NOT EXISTS`` for the records."""
    return sa.schema.CreateTable(table(schema), if_not_exists=True)


#: Columns a table made by an earlier version may lack.
_LATER_COLUMNS = ("data_step",)


def ensure(conn, schema: Optional[str] = None, *, offline: bool = False) -> List[sa.sql.Executable]:
    """The statements that make the records table in ``schema`` complete: create it, or add what it lacks.

    Online the catalog says what is missing, so a complete table is never
    locked by an ALTER; offline both are emitted with IF NOT EXISTS.
    """
    t = table(schema)
    later = [AddColumn(t.c[name], if_not_exists=True) for name in _LATER_COLUMNS]
    if offline:
        return [create(schema), *later]
    columns = lookup.column_names(conn, schema, TABLE)
    if not columns:
        return [create(schema)]
    return [statement for statement in later if statement.column.name not in columns]


def insert(revision: str, path: str, *, how: str, duration_ms: Optional[int], package_version: Optional[str],
           schema: Optional[str] = None, data_step: Optional[str] = None) -> List[sa.sql.Executable]:
    """The statements that record ``revision`` as applied (replacing a record it had)."""
    t = table(schema)
    return [
        t.delete().where(t.c.revision == revision),
        t.insert().values(revision=revision, checksum=checksum(path), source_hash=source_hash(path),
                          duration_ms=duration_ms, package_version=package_version, how=how,
                          data_step=data_step),
    ]


def set_data_step(revision: str, value: str, schema: Optional[str] = None) -> sa.sql.Executable:
    """The statement that records what became of ``revision``'s data step."""
    t = table(schema)
    return t.update().where(t.c.revision == revision).values(data_step=value)


def delete(revision: str, schema: Optional[str] = None) -> sa.sql.Executable:
    t = table(schema)
    return t.delete().where(t.c.revision == revision)


def read(conn, schema: Optional[str] = None) -> Optional[Dict[str, Record]]:
    """Every record, by revision (in the connection's tenant schema by default); None when there is no table."""
    schema = schema or schema_of(conn)
    columns = lookup.column_names(conn, schema, TABLE)
    if not columns:
        return None
    t = table(schema)
    rows = conn.execute(sa.select(*(c for c in t.columns if c.name in columns)))
    return {row.revision: Record(**row._asdict()) for row in rows}


@dataclass(frozen=True)
class Edited:
    """An applied revision whose file changed since it ran."""

    revision: str
    path: str
    record: Record


def edited(records: Dict[str, Record], scripts: Iterable) -> List[Edited]:
    """The applied revisions (``scripts``, Alembic's) whose code differs from what was recorded."""
    found = []
    for sc in scripts:
        record = records.get(sc.revision)
        if record is None or source_hash(sc.path) == record.source_hash:
            continue
        if checksum(sc.path) != record.checksum:
            found.append(Edited(sc.revision, sc.path, record))
    return found


def verify(conn, script, heads, *, accept=(), write: bool, version: Optional[str] = None,
           schema: Optional[str] = None) -> List[Edited]:
    """Refuse an applied revision whose file changed (``HistoryError``), unless ``accept`` names it.

    With ``write``, revisions applied before records were kept are recorded
    (``how = 'recorded'``) and accepted ones get their new checksum; the caller
    commits. Returns the accepted edits.
    """
    from ..errors import HistoryError, UsageError
    from .plan import applied_revisions

    schema = schema or schema_of(conn)
    applied_ids = applied_revisions(script, heads)
    applied = [script.get_revision(r) for r in applied_ids]
    found = read(conn, schema)
    wanted = set()
    for given in accept:
        revision = script.get_revision(given)
        if revision is None or revision.revision not in applied_ids:
            raise UsageError(f"--accept-edited {given}: no applied revision has that id; "
                             "run 'python -m myapp.db showmigrations' to see them")
        wanted.add(revision.revision)
    changed = edited(found or {}, applied)
    refused = [e for e in changed if e.revision not in wanted]
    if refused:
        first = refused[0]
        more = f" (and {len(refused) - 1} more: {', '.join(e.revision for e in refused[1:])})" if refused[1:] else ""
        raise HistoryError(
            f"revision {first.revision}'s file {first.path} changed since it was applied on "
            f"{first.record.applied_at:%Y-%m-%d %H:%M}{more}; restore the file, or, if the change is "
            f"deliberate and the database already matches it, run 'migrate --accept-edited {first.revision}'"
        )
    if write:
        missing = [sc for sc in applied if found is None or sc.revision not in found]
        accepted = [sc for sc in applied if sc.revision in wanted]
        if missing or accepted:
            for statement in ensure(conn, schema):
                conn.execute(statement)
            for sc in dict.fromkeys(missing + accepted):
                how = "accepted" if sc in accepted else "recorded"
                previous = (found or {}).get(sc.revision)
                for statement in insert(sc.revision, sc.path, how=how, duration_ms=None,
                                        package_version=version, schema=schema,
                                        data_step=previous.data_step if previous else None):
                    conn.execute(statement)
    return [e for e in changed if e.revision in wanted]
