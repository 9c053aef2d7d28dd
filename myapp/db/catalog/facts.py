"""What lint asks the database: its version, its volatile functions, validated NOT NULL checks, column types."""

from __future__ import annotations

from typing import Dict

import sqlalchemy as sa

from .sql import user_schema

_VOLATILE = sa.text("SELECT DISTINCT lower(proname) FROM pg_proc WHERE provolatile = 'v'")

# CHECK (column IS NOT NULL), validated: PostgreSQL 12+ then sets NOT NULL without a scan.
_NOT_NULL_CHECKS = sa.text(
    f"""
    SELECT c.relname, n.nspname, substring(pg_get_constraintdef(co.oid) FROM '^CHECK \\(\\(?"?([^ )"]+)"? IS NOT NULL')
    FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE co.contype = 'c' AND co.convalidated AND pg_get_constraintdef(co.oid) LIKE '%IS NOT NULL%'
      AND {user_schema('n')}
    """
)

_COLUMN_TYPES = sa.text(
    f"""
    SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {user_schema('n')}
    """
)


def lint_facts(conn) -> Dict:
    """The `myapp.db.lint.rules.Context` fields a database can tell."""
    checked = set()
    for table, schema, column in conn.execute(_NOT_NULL_CHECKS):
        if column:
            checked.update({(table, column), (f"{schema}.{table}", column)})
    types = {}
    for schema, table, column, kind in conn.execute(_COLUMN_TYPES):
        types[f"{table}.{column}"] = types[f"{schema}.{table}.{column}"] = kind
    return {
        "server_version": int(conn.scalar(sa.text("SHOW server_version_num"))),
        "volatile": frozenset(conn.scalars(_VOLATILE)),
        "not_null_checked": checked,
        "column_types": types,
    }
