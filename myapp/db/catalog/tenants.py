"""The catalog queries of a fan-out over tenant schemas: which exist, and which hold our tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import sqlalchemy as sa

_TENANTS = sa.text(
    "SELECT n.nspname AS schema, v.oid AS versions, r.oid AS records,"
    " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid"
    "         AND a.attname = CAST(:data_column AS text) AND NOT a.attisdropped) AS data_column"
    " FROM pg_namespace n"
    " LEFT JOIN pg_class v ON v.relnamespace = n.oid AND v.relname = CAST(:versions AS text) AND v.relkind IN ('r', 'p')"
    " LEFT JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = CAST(:records AS text) AND r.relkind IN ('r', 'p')"
    " WHERE n.nspname = ANY(CAST(:names AS text[]))"
)


@dataclass(frozen=True)
class TenantTables:
    """One existing schema, with the oids of its version table and records (None: it has none)."""

    schema: str
    versions: Optional[int]
    records: Optional[int]
    #: Whether the records have the column ``data_column`` (tables from an older version may not).
    data_column: bool


def tenant_tables(conn, names: Sequence[str], *, versions: str, records: str,
                  data_column: str) -> Dict[str, TenantTables]:
    """The schemas among ``names`` that exist, by name, with their version table and records, in one query."""
    rows = conn.execute(_TENANTS, {"names": list(names), "versions": versions, "records": records,
                                   "data_column": data_column})
    return {row.schema: TenantTables(row.schema, row.versions, row.records, bool(row.data_column)) for row in rows}
