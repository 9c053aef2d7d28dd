"""A database's schema read from the PostgreSQL catalog, for comparing two databases.

`schema_snapshot` is what "bootstrap equals migrate" is checked with: two
databases built different ways must give equal snapshots.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import sqlalchemy as sa

from .sql import not_extension_member, privileges, user_schema

_USER = user_schema("n")

_QUERIES = {
    # (schema, table, position, column, type, not null, default); the position
    # counts live columns only, since a dropped column keeps its attnum.
    "columns": f"""
        SELECT n.nspname, c.relname,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
          AND {_USER}
        ORDER BY 1, 2, 3""",
    "indexes": f"""
        SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_USER}
        ORDER BY 1, 2""",
    "constraints": f"""
        SELECT n.nspname, t.relname, co.conname, co.contype::text, pg_get_constraintdef(co.oid)
        FROM pg_constraint co
        JOIN pg_class t ON t.oid = co.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {_USER}
        ORDER BY 1, 2, 3""",
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind::text
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER}
        ORDER BY 1, 2""",
    "views": f"""
        SELECT n.nspname, c.relname, c.relkind::text, pg_get_viewdef(c.oid), c.relispopulated
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_USER}
        ORDER BY 1, 2""",
    "functions": f"""
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_functiondef(p.oid)
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind = 'f' AND {_USER} AND {not_extension_member('pg_proc', 'p.oid')}
        ORDER BY 1, 2, 3""",
    # (schema, object, owner, effective privileges, comment)
    "privileges": f"""
        SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner),
               {privileges('c.relacl', 'r', 'c.relowner')}::text,
               obj_description(c.oid, 'pg_class')
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER}
        UNION ALL
        SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_userbyid(p.proowner),
               {privileges('p.proacl', 'f', 'p.proowner')}::text,
               obj_description(p.oid, 'pg_proc')
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind = 'f' AND {_USER} AND {not_extension_member('pg_proc', 'p.oid')}
        ORDER BY 1, 2""",
}


def schema_snapshot(conn) -> Dict[str, List[Tuple]]:
    """Return relations, columns (in order, with types, nullability, defaults), indexes,
    constraints, view and function definitions, owners, privileges and comments."""
    return {
        name: [tuple(row) for row in conn.execute(sa.text(query))]
        for name, query in _QUERIES.items()
    }
