"""Views, materialized views and functions as the catalog describes them: one query per kind.

Each reader returns plain rows (dicts), selected either by oid or as every
object of the kind in some schemas (extension members left out). The
replaceable kinds turn rows into objects; dependents are captured from them.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import sqlalchemy as sa

from .sql import (default_privileges, dependency_names, loads, not_extension_member, privileges, row_version,
                  user_schema)

_RELATIONS = f"""
    SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
           format('%I.%I', n.nspname, c.relname) AS ident,
           pg_get_viewdef(c.oid) AS definition, c.relispopulated AS populated,
           coalesce(c.reloptions, '{{}}') AS options,
           pg_get_userbyid(c.relowner) AS owner, c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned_by_me,
           obj_description(c.oid, 'pg_class') AS comment,
           {privileges('c.relacl', 'r', 'c.relowner')} AS privileges,
           {default_privileges('r', 'c.relowner')} AS default_privileges,
           coalesce((SELECT json_agg(json_build_array(
                       ic.relname, i.indisunique,
                       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                             ORDER BY k.ord),
                       i.indexprs IS NOT NULL OR i.indpred IS NOT NULL,
                       pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname)
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid), '[]') AS indexes,
           coalesce((SELECT json_agg(json_build_array(a.attname, d.description) ORDER BY a.attnum)
              FROM pg_description d JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid
             WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid > 0), '[]') AS column_comments,
           coalesce((SELECT json_agg(json_build_array(a.attname, x.grantee, x.privilege, x.grantable)
                            ORDER BY a.attnum, x.grantee, x.privilege)
              FROM pg_attribute a
              CROSS JOIN LATERAL (SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee) END AS grantee,
                                         e.privilege_type AS privilege, e.is_grantable AS grantable
                                  FROM aclexplode(a.attacl) e) x
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL), '[]') AS column_privileges,
           coalesce((SELECT json_agg(json_build_array(a.attname, pg_get_expr(ad.adbin, ad.adrelid)) ORDER BY a.attnum)
              FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
             WHERE ad.adrelid = c.oid), '[]') AS column_defaults,
           coalesce((SELECT json_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname)
              FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '[]') AS triggers,
           coalesce((SELECT json_agg(pg_get_ruledef(r.oid) ORDER BY r.rulename)
              FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'), '[]') AS rules
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm') AND {{where}}
    ORDER BY n.nspname, c.relname
"""

_FUNCTIONS = f"""
    SELECT p.oid, n.nspname AS schema, p.proname AS name,
           format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS ident,
           pg_get_function_arguments(p.oid) AS arguments,
           pg_get_function_identity_arguments(p.oid) AS identity,
           pg_get_functiondef(p.oid) AS definition,
           pg_get_userbyid(p.proowner) AS owner, p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned_by_me,
           obj_description(p.oid, 'pg_proc') AS comment,
           {privileges('p.proacl', 'f', 'p.proowner')} AS privileges,
           {default_privileges('f', 'p.proowner')} AS default_privileges
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.prokind = 'f' AND {{where}}
    ORDER BY n.nspname, p.proname, pg_get_function_arguments(p.oid)
"""

#: What a check needs of every stored object to find the few it must read in full: who it is, md5 of
#: PostgreSQL's text of it (what the records keep) for a function, the version of the rows its text
#: is made from for a view (deparsing hundreds of views is most of the cost: `view_hashes` reads the
#: text of those whose rows moved since they were recorded), its ACL when one was ever set, and a
#: materialized view's indexes. A fraction of the cost of the full rows above.
_SUMMARIES = f"""
    SELECT c.oid, c.relkind::text AS relkind, n.nspname AS schema, c.relname AS name, '' AS identity,
           CAST(NULL AS text) AS stored_hash, {row_version('c.oid', 'deps.names')} AS catalog_row,
           CASE WHEN c.relacl IS NOT NULL THEN {privileges('c.relacl', 'r', 'c.relowner')} END AS privileges,
           CASE WHEN c.relacl IS NOT NULL THEN {default_privileges('r', 'c.relowner')} END AS default_privileges,
           pg_get_userbyid(c.relowner) AS owner, c.relacl IS NULL AS default_acl,
           CASE WHEN c.relkind = 'm' THEN coalesce((SELECT json_agg(json_build_array(
                       ic.relname, i.indisunique,
                       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                             ORDER BY k.ord),
                       i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) ORDER BY ic.relname)
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid), '[]') END AS indexes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN {dependency_names()} deps ON deps.ev_class = c.oid
    WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY(CAST(:schemas AS text[]))
      AND {not_extension_member("pg_class", "c.oid")}
    UNION ALL
    SELECT p.oid, 'f', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
           md5(pg_get_functiondef(p.oid)), NULL,
           CASE WHEN p.proacl IS NOT NULL THEN {privileges('p.proacl', 'f', 'p.proowner')} END,
           CASE WHEN p.proacl IS NOT NULL THEN {default_privileges('f', 'p.proowner')} END,
           pg_get_userbyid(p.proowner), p.proacl IS NULL, NULL
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.prokind = 'f' AND n.nspname = ANY(CAST(:schemas AS text[]))
      AND {not_extension_member("pg_proc", "p.oid")}
"""

_BY_OID = "{table}.oid = ANY(CAST(:oids AS oid[]))"
_IN_SCHEMAS = "n.nspname = ANY(CAST(:schemas AS text[])) AND {not_extension}"

KINDS = {"v": "view", "m": "materialized view", "f": "function"}

#: One relation or function by oid, for the server-side replacement, which reads ``{oid}``.
RELATION_BY_OID = _RELATIONS.replace("{where}", "c.oid = {oid}")
FUNCTION_BY_OID = _FUNCTIONS.replace("{where}", "p.oid = {oid}")


def _rows(conn, query: str, params: dict) -> List[Dict]:
    rows = []
    result = conn.execute(sa.text(query), params)
    keys = list(result.keys())  # once: a RowMapping builds its key view again for every row
    for values in result:
        row = dict(zip(keys, values))
        for key in ("privileges", "default_privileges", "indexes", "column_comments", "column_privileges",
                    "column_defaults", "triggers", "rules"):
            if key in row:
                row[key] = [tuple(item) if isinstance(item, list) else item for item in loads(row[key]) or []]
        row["kind"] = KINDS[row.get("relkind", "f")]
        rows.append(row)
    return rows


def relations(conn, *, oids: Optional[Sequence[int]] = None, schemas: Optional[Sequence[str]] = None,
              relkind: Optional[str] = None) -> List[Dict]:
    """Views (``relkind='v'``) and materialized views (``'m'``) by oid, or all of a kind in ``schemas``."""
    if oids is not None:
        where, params = _BY_OID.format(table="c"), {"oids": list(oids)}
    else:
        where = _IN_SCHEMAS.format(not_extension=not_extension_member("pg_class", "c.oid"))
        where += " AND c.relkind::text = CAST(:relkind AS text)"
        params = {"schemas": list(schemas or ()), "relkind": relkind}
    return _rows(conn, _RELATIONS.replace("{where}", where), params)


def functions(conn, *, oids: Optional[Sequence[int]] = None, schemas: Optional[Sequence[str]] = None) -> List[Dict]:
    """Plain functions by oid, or all of them in ``schemas``."""
    if oids is not None:
        where, params = _BY_OID.format(table="p"), {"oids": list(oids)}
    else:
        where = _IN_SCHEMAS.format(not_extension=not_extension_member("pg_proc", "p.oid"))
        params = {"schemas": list(schemas or ())}
    return _rows(conn, _FUNCTIONS.replace("{where}", where), params)


def summaries(conn, schemas: Sequence[str]) -> List[Dict]:
    """Every view, materialized view and function in ``schemas``, summarised (see ``_SUMMARIES``): rows with
    ``kind``, ``stored_hash`` (a function's; None for a view), ``catalog_row`` (a view's; None for a
    function) and ``default_acl`` (the ACL was never set: ``privileges`` is then empty)."""
    return _rows(conn, _SUMMARIES, {"schemas": list(schemas)})


def view_hashes(conn, oids: Sequence[int]) -> Dict[int, str]:
    """``{oid: md5 of PostgreSQL's text}`` of the views and materialized views among ``oids``."""
    if not oids:
        return {}
    rows = conn.execute(sa.text(
        "SELECT c.oid, md5(pg_get_viewdef(c.oid)) FROM pg_class c"
        " WHERE c.oid = ANY(CAST(:oids AS oid[])) AND c.relkind IN ('v', 'm')"
    ), {"oids": list(oids)})
    return {oid: digest for oid, digest in rows}


def materialized_view_oids(conn) -> List[int]:
    """Every materialized view outside the system schemas, by schema and name."""
    return list(conn.scalars(sa.text(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE c.relkind = 'm' AND {user_schema('n')} ORDER BY n.nspname, c.relname"
    )))


def unique_plain_indexed(conn, oids: Sequence[int]) -> set:
    """The relations among ``oids`` with a unique index on plain columns over all rows
    (what REFRESH ... CONCURRENTLY needs)."""
    return set(conn.scalars(sa.text(
        "SELECT i.indrelid FROM pg_index i WHERE i.indisunique"
        " AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indrelid = ANY(CAST(:oids AS oid[]))"
    ), {"oids": list(oids)}))


def current_schema(conn) -> str:
    return conn.scalar(sa.text("SELECT current_schema()"))
