"""Names to oids: the one place a name (and schema; none means the current one) is looked up."""

from __future__ import annotations

from typing import List, Optional, Sequence

import sqlalchemy as sa

_RELATION = sa.text(
    "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = CAST(:name AS text) AND n.nspname = coalesce(CAST(:schema AS text), current_schema())"
    " AND c.relkind::text = CAST(:relkind AS text)"
)

_FUNCTIONS = sa.text(
    "SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE p.proname = CAST(:name AS text) AND n.nspname = coalesce(CAST(:schema AS text), current_schema())"
    " AND p.prokind = 'f'"
    " AND (CAST(:types AS text) IS NULL OR p.proargtypes = CAST(CAST(:types AS text) AS oidvector))"
)

_REGTYPE = sa.text("SELECT CAST(to_regtype(CAST(:t AS text)) AS oid)")


def relation_oid(conn, schema: Optional[str], name: str, relkind: str) -> Optional[int]:
    """The oid of relation ``schema.name`` of ``relkind`` ('v', 'm', 'r', ...), or None."""
    return conn.scalar(_RELATION, {"name": name, "schema": schema, "relkind": relkind})


def table_exists(conn, schema: Optional[str], name: str) -> bool:
    """Whether table ``schema.name`` exists."""
    return relation_oid(conn, schema, name, "r") is not None


def function_oids(conn, schema: Optional[str], name: str, input_types: Optional[Sequence[int]] = None) -> List[int]:
    """The oids of the functions ``schema.name`` (only the one with these input type oids, if given)."""
    types = None if input_types is None else " ".join(map(str, input_types))
    return list(conn.scalars(_FUNCTIONS, {"name": name, "schema": schema, "types": types}))


def type_oid(conn, text: str) -> Optional[int]:
    """The oid of the type ``text`` names, None when it names none or does not parse as a type."""
    # to_regtype() returns NULL for an unknown type but raises on bad syntax
    # ("lat1 double precision"), hence the savepoint.
    savepoint = conn.begin_nested()
    try:
        oid = conn.scalar(_REGTYPE, {"t": text})
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return oid


def database_exists(conn, name: str) -> bool:
    """Whether the server has a database ``name``."""
    return bool(conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = CAST(:name AS text)"), {"name": name}))


_INVALID_INDEX = sa.text(
    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = CAST(:name AS text) AND n.nspname = coalesce(CAST(:schema AS text), current_schema())"
    " AND NOT i.indisvalid"
)


def invalid_index(conn, schema: Optional[str], name: str) -> bool:
    """Whether index ``schema.name`` exists but is INVALID (a concurrent build that failed left it)."""
    return conn.scalar(_INVALID_INDEX, {"name": name, "schema": schema}) is not None


def databases_named(conn, prefix: str) -> List[str]:
    """The server's databases whose names start with ``prefix`` (no wildcards), sorted."""
    query = sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, CAST(:prefix AS text)) ORDER BY 1")
    return list(conn.scalars(query, {"prefix": prefix}))


_COLUMNS = sa.text(
    "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = CAST(:name AS text) AND n.nspname = coalesce(CAST(:schema AS text), current_schema())"
    " AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
)


def column_names(conn, schema: Optional[str], table: str) -> set:
    """The names of table ``schema.table``'s columns; empty when there is no such table."""
    return set(conn.scalars(_COLUMNS, {"name": table, "schema": schema}))
