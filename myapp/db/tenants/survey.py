"""The one cheap read that finds which targets of a database have work left, before any is migrated.

For tenant schemas it is three queries over one connection whatever their
number: which of the schemas exist and hold a version table and records (the
catalog), then every version table read in UNION ALLs (in chunks, so that
the locks of one statement stay well inside ``max_locks_per_transaction``),
and for ``--data-only`` the records likewise. A tenant that is already where
the run would take it is skipped without a connection of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..catalog import tenants as catalog
from ..ddl import EachSchema
from ..runtime import data as data_steps
from ..runtime import recorder, records
from ..runtime.plan import Heads, plan

VERSION_TABLE = "alembic_version"
#: Version tables read by one statement (each takes a lock until the statement's transaction ends).
CHUNK = 200


@dataclass
class Survey:
    """What the read found in one database: each target's state, keyed by schema (None: the database's own)."""

    order: List[Optional[str]]
    todo: List[Optional[str]] = field(default_factory=list)
    #: Already where the run would take them, with the words that say so.
    unchanged: Dict[Optional[str], str] = field(default_factory=dict)
    #: Named but not in the database.
    missing: List[str] = field(default_factory=list)


def survey(conn, script, schemas: Optional[Sequence[str]], target: str, *, data_only: bool = False) -> Survey:
    """Find which targets need work: ``schemas`` in the database behind ``conn`` (None: the database itself)."""
    if schemas is None:
        heads = recorder.current_heads(conn)
        found = Survey([None])
        pending = {None: [sc.revision for sc in data_steps.pending(conn, script, heads)]} if data_only else {}
        _decide(found, script, {None: heads}, pending, target, data_only)
        return found
    found = Survey(list(schemas))
    tables = catalog.tenant_tables(conn, schemas, versions=VERSION_TABLE, records=records.TABLE,
                                   data_column="data_step")
    found.missing = [s for s in schemas if s not in tables]
    heads = read_heads(conn, tables)
    pending = read_pending_data(conn, tables) if data_only else {}
    _decide(found, script, heads, pending, target, data_only)
    return found


def _decide(found: Survey, script, heads: Dict[Optional[str], Heads], pending: Dict, target: str,
            data_only: bool) -> None:
    plans: Dict[Heads, int] = {}
    for schema, at in heads.items():
        if data_only:
            left = pending.get(schema)
            if left:
                found.todo.append(schema)
            else:
                found.unchanged[schema] = "no data steps pending"
            continue
        if at not in plans:
            plans[at] = len(plan(script, at, target).alembic_steps)
        if plans[at]:
            found.todo.append(schema)
        else:
            where = "head" if (target or "head") in ("head", "heads") else ", ".join(at) or "base"
            found.unchanged[schema] = f"already at {where}"
    order = {s: i for i, s in enumerate(found.order)}
    found.todo.sort(key=order.__getitem__)


def _chunks(items: list) -> List[list]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def _read(conn, table: str, columns: Sequence[str], chunk: List[catalog.TenantTables]) -> list:
    rows = conn.execute(EachSchema(table, columns, [t.schema for t in chunk])).fetchall()
    if conn.in_transaction():
        conn.commit()  # only reads: let the chunk's locks go
    return rows


def read_heads(conn, tables: Dict[str, catalog.TenantTables]) -> Dict[str, Heads]:
    """Each schema's heads (empty when it has no version table), reading every version table in a few statements."""
    heads: Dict[str, Heads] = {schema: () for schema in tables}
    for chunk in _chunks([t for t in tables.values() if t.versions]):
        by_oid = {t.versions: t.schema for t in chunk}
        for oid, version in _read(conn, VERSION_TABLE, ["version_num"], chunk):
            heads[by_oid[oid]] += (version,)
    return heads


def read_pending_data(conn, tables: Dict[str, catalog.TenantTables]) -> Dict[str, List[str]]:
    """Each schema's revisions whose data step is pending, from its records."""
    pending: Dict[str, List[str]] = {}
    for chunk in _chunks([t for t in tables.values() if t.records and t.data_column]):
        by_oid = {t.records: t.schema for t in chunk}
        for oid, revision, step in _read(conn, records.TABLE, ["revision", "data_step"], chunk):
            if step == records.DATA_PENDING:
                pending.setdefault(by_oid[oid], []).append(revision)
    return pending
