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
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import sqlalchemy as sa

from ..catalog import lookup
from ..catalog.sql import dependency_names, row_version
from .tenancy import schema_of

TABLE = "myapp_db_revisions"
OBJECTS = "myapp_db_objects"
#: Every table the framework keeps for itself (never the app's: autogenerate leaves them alone).
OWN_TABLES = frozenset({TABLE, OBJECTS})
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
    from ..ddl import AddColumn

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
    from .index import hashes

    t = table(schema)
    source, summed = hashes(path)
    return [
        t.delete().where(t.c.revision == revision),
        t.insert().values(revision=revision, checksum=summed, source_hash=source,
                          duration_ms=duration_ms, package_version=package_version, how=how,
                          data_step=data_step),
    ]


def insert_all(conn, entries, *, how: str, package_version: Optional[str], schema: Optional[str] = None,
               data_steps=None) -> None:
    """Record every revision of ``entries`` (`myapp.db.runtime.index.Entry`) as applied, in one executemany.

    :param data_steps: ``entry -> data_step`` (what became of its data step), if any.
    """
    rows = [dict(revision=e.revision, checksum=e.checksum, source_hash=e.source_hash, duration_ms=None,
                 package_version=package_version, how=how, data_step=data_steps(e) if data_steps else None)
            for e in entries]
    if rows:
        conn.execute(table(schema).insert(), rows)


def set_data_step(revision: str, value: str, schema: Optional[str] = None) -> sa.sql.Executable:
    """The statement that records what became of ``revision``'s data step."""
    t = table(schema)
    return t.update().where(t.c.revision == revision).values(data_step=value)


def delete(revision: str, schema: Optional[str] = None) -> sa.sql.Executable:
    t = table(schema)
    return t.delete().where(t.c.revision == revision)


def source_hashes(conn, schema: Optional[str] = None) -> Optional[Dict[str, str]]:
    """``{revision: source hash}`` of every record, in one query; None when the table does not exist yet."""
    schema = schema or schema_of(conn)
    if not lookup.table_exists(conn, schema, TABLE):
        return None
    t = sa.table(TABLE, sa.column("revision"), sa.column("source_hash"), schema=schema)  # what it reads
    return dict(conn.execute(sa.select(t.c.revision, t.c.source_hash)).all())


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
    from .index import hashes

    found = []
    for sc in scripts:
        record = records.get(sc.revision)
        if record is None:
            continue
        source, summed = hashes(sc.path)
        if source != record.source_hash and summed != record.checksum:
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


# -- replaceable objects ----------------------------------------------------------------
#
# One row per view, materialized view and function the operations (or bootstrap)
# created: a hash of what was declared, and md5 of PostgreSQL's text of it right
# after. A check compares the declared hash with the first and the catalog with the
# second, and asks PostgreSQL to normalise only what differs. For a view, whose
# text is costly to deparse, ``catalog_row`` also keeps which versions of its
# catalog rows that text was read from (`myapp.db.catalog.sql.ROW_VERSION`): while
# they are the same, so is the text, and a check does not deparse it.

def objects_table(schema: Optional[str] = None) -> sa.Table:
    return sa.Table(
        OBJECTS, sa.MetaData(),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("schema", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("identity", sa.Text, primary_key=True),  # a function's identity arguments, '' otherwise
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("catalog_hash", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("catalog_row", sa.String(32)),  # added after the first release: see ensure_objects()
        schema=schema,
    )


#: Columns of the objects table a table made by an earlier version may lack.
_LATER_OBJECT_COLUMNS = ("catalog_row",)


def ensure_objects(conn, schema: Optional[str] = None, *, offline: bool = False) -> List[sa.sql.Executable]:
    """The statements that make the objects table in ``schema`` complete, as `ensure` does for the records:
    online only what the catalog says is missing (a complete table is never locked by an ALTER)."""
    from ..ddl import AddColumn

    t = objects_table(schema)
    later = [AddColumn(t.c[name], if_not_exists=True) for name in _LATER_OBJECT_COLUMNS]
    if offline:
        return [sa.schema.CreateTable(t, if_not_exists=True), *later]
    columns = lookup.column_names(conn, schema or schema_of(conn), OBJECTS)
    if not columns:
        return [sa.schema.CreateTable(t, if_not_exists=True)]
    return [statement for statement in later if statement.column.name not in columns]


def _relation_row(kind: str, relkind: str) -> str:
    return (f"SELECT '{kind}', n.nspname, c.relname, '', md5(pg_get_viewdef(c.oid)),"
            f" {row_version('c.oid', 'deps.names')}"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" LEFT JOIN LATERAL {dependency_names('r.ev_class = c.oid')} deps ON true"
            f" WHERE c.relkind = '{relkind}' AND c.oid = to_regclass(format('%I.%I',"
            " coalesce(CAST(:schema AS text), current_schema()), CAST(:name AS text)))")


_OBJECT_ROW = {
    # kind -> (SELECT of kind, schema, name, identity, md5 of PostgreSQL's text, its rows' version) for one
    # object, found by name
    "view": _relation_row("view", "v"),
    "materialized view": _relation_row("materialized view", "m"),
    # the function of that name with these identity arguments, or the only one of that name
    "function": "SELECT 'function', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),"
            " md5(pg_get_functiondef(p.oid)), CAST(NULL AS text) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname = CAST(:name AS text) AND p.prokind = 'f'"
            " AND n.nspname = coalesce(CAST(:schema AS text), current_schema())"
            " ORDER BY pg_get_function_identity_arguments(p.oid) = CAST(:identity AS text) DESC LIMIT 1",
}

RECORDED_KINDS = frozenset(_OBJECT_ROW)

_pending: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Forget:
    """An object a revision dropped: its record goes when the revision ends."""

    obj: object


#: A mark a revision leaves when the server recreated views it did not name (a replacement's
#: dependents): when it ends, their records take their new rows' version (`refresh_rows`).
REFRESH = object()


def pending_objects(migration_context) -> list:
    """The objects (or `Forget` marks) a running revision created or dropped, to record when it ends."""
    return _pending.setdefault(migration_context, [])


def flush_objects(migration_context, *, ensure: bool = True) -> List[sa.sql.Executable]:
    """The statements that record (or forget) what the revision just run created (or dropped).

    :param ensure: begin with what makes the objects table complete (`ensure_objects`); a run
        passes False once an earlier revision's statements did.
    """
    found = _pending.pop(migration_context, [])
    if not found:
        return []
    schema = migration_context.version_table_schema
    t = objects_table(schema)
    offline = migration_context.as_sql
    statements = []
    if ensure:
        statements = ensure_objects(None if offline else migration_context.connection, schema, offline=offline)
    for item in found:
        if item is REFRESH:
            continue
        if isinstance(item, Forget):
            statements.append(t.delete().where(_object_key(t, item.obj)))
        else:
            statements += record_object(item, table=t, create=False)
    if any(item is REFRESH for item in found):
        statements.append(refresh_rows(schema))
    return statements


def _object_key(t, obj):
    schema = sa.func.current_schema() if obj.schema is None else sa.literal(obj.schema, sa.Text)
    return sa.and_(t.c.kind == obj.kind, t.c.name == obj.name, t.c.schema == schema)


def record_object(obj, schema: Optional[str] = None, *, table: Optional[sa.Table] = None,
                  create: bool = True) -> List[sa.sql.Executable]:
    """Statements that record ``obj`` (just created) as declared, with PostgreSQL's text of it read at run time."""
    from ..replaceable.base import source_hash

    t = objects_table(schema) if table is None else table
    params = {"schema": obj.schema, "name": obj.name, "source": source_hash(obj)}
    if obj.kind == "function":
        params["identity"] = obj.arguments
    select = sa.text(_OBJECT_ROW[obj.kind].replace("SELECT ", "SELECT CAST(:source AS text), ", 1)).bindparams(**params)
    columns = [t.c.source_hash, t.c.kind, t.c.schema, t.c.name, t.c.identity, t.c.catalog_hash, t.c.catalog_row]
    where = _object_key(t, obj)
    statements = [sa.schema.CreateTable(t, if_not_exists=True)] if create else []
    return statements + [
        t.delete().where(where),
        t.insert().from_select(columns, select.columns(*[sa.column(f"c{i}") for i in range(7)])),
    ]


def refresh_rows(schema: Optional[str] = None) -> sa.sql.Executable:
    """``UPDATE`` the rows' version of every recorded view whose rows moved while its text stayed as
    recorded (the text is deparsed for those only), so that checks need not deparse it again."""
    t = objects_table(schema)
    stored = sa.text(
        "SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END AS kind, n.nspname AS schema,"
        f" c.relname AS name, c.oid AS oid, {row_version('c.oid', 'deps.names')} AS row_version"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" LEFT JOIN {dependency_names()} deps ON deps.ev_class = c.oid WHERE c.relkind IN ('v', 'm')"
    ).columns(sa.column("kind"), sa.column("schema"), sa.column("name"), sa.column("oid"),
              sa.column("row_version")).subquery("stored")
    moved = t.c.catalog_row.is_distinct_from(stored.c.row_version)
    same_text = t.c.catalog_hash == sa.func.md5(sa.func.pg_get_viewdef(stored.c.oid))
    return t.update().values(catalog_row=stored.c.row_version).where(
        t.c.kind == stored.c.kind, t.c.schema == stored.c.schema, t.c.name == stored.c.name,
        sa.case((moved, same_text), else_=sa.false()),  # CASE: deparse only what moved
    )


def forget_object(obj, schema: Optional[str] = None) -> List[sa.sql.Executable]:
    t = objects_table(schema)
    where = _object_key(t, obj)
    return [sa.schema.CreateTable(t, if_not_exists=True), t.delete().where(where)]


def read_objects(conn, schema: Optional[str] = None) -> Optional[Dict[tuple, tuple]]:
    """``{(kind, schema, name, identity): (source hash, catalog hash, rows' version or None)}``; None when
    nothing was recorded yet."""
    schema = schema or schema_of(conn)
    columns = lookup.column_names(conn, schema, OBJECTS)
    if not columns:
        return None
    t = objects_table(schema)
    row = t.c.catalog_row if "catalog_row" in columns else sa.null()  # a table from before the column
    rows = conn.execute(sa.select(t.c.kind, t.c.schema, t.c.name, t.c.identity, t.c.source_hash, t.c.catalog_hash,
                                  row))
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5], r[6]) for r in rows}
