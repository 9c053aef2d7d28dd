"""Read a database's schema from the PostgreSQL catalog, for comparing two databases.

`schema_snapshot` is what "bootstrap equals migrate" is checked with: two
databases built different ways must give equal snapshots.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import sqlalchemy as sa

_USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    " AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'"
)



def _acl(column: str) -> str:
    """SQL for an ACL as a sorted array of 'grantee privilege grantable' (NULL: defaults)."""
    return f"""(SELECT array_agg(a ORDER BY a) FROM (
                   SELECT concat_ws(' ', CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                              ELSE pg_get_userbyid(x.grantee) END,
                                    x.privilege_type, x.is_grantable) AS a
                   FROM aclexplode({column}) x) acl)"""


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
          AND {_USER_SCHEMAS}
        ORDER BY 1, 2, 3""",
    "indexes": f"""
        SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_USER_SCHEMAS}
        ORDER BY 1, 2""",
    "constraints": f"""
        SELECT n.nspname, t.relname, co.conname, co.contype, pg_get_constraintdef(co.oid)
        FROM pg_constraint co
        JOIN pg_class t ON t.oid = co.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {_USER_SCHEMAS}
        ORDER BY 1, 2, 3""",
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER_SCHEMAS}
        ORDER BY 1, 2""",
    "views": f"""
        SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid), c.relispopulated
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_USER_SCHEMAS}
        ORDER BY 1, 2""",
    "functions": f"""
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_functiondef(p.oid)
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind = 'f' AND {_USER_SCHEMAS}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
        ORDER BY 1, 2, 3""",
    # (schema, object, owner, sorted privileges or NULL for the defaults, comment)
    "privileges": f"""
        SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner),
               {_acl('c.relacl')},
               obj_description(c.oid, 'pg_class')
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER_SCHEMAS}
        UNION ALL
        SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_userbyid(p.proowner),
               {_acl('p.proacl')},
               obj_description(p.oid, 'pg_proc')
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind = 'f' AND {_USER_SCHEMAS}
        ORDER BY 1, 2""",
}


def schema_snapshot(conn) -> Dict[str, List[Tuple]]:
    """Return relations, columns (in order, with types, nullability, defaults), indexes,
    constraints, view and function definitions, owners, privileges and comments."""
    return {
        name: [tuple(row) for row in conn.execute(sa.text(query))]
        for name, query in _QUERIES.items()
    }
