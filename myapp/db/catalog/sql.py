"""The SQL fragments every catalog query shares: one schema filter, one extension filter, one ACL explosion.

Fragments are fixed SQL text composed only with each other (never with a
value from outside); values always travel as bind parameters, each cast to a
plain type so that every driver (psycopg2, psycopg 3, asyncpg) binds it alike.
"""

from __future__ import annotations

import json
from typing import Any

#: Schemas that hold the database's own objects, never the app's.
USER_SCHEMA = (
    "{n}.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    " AND {n}.nspname NOT LIKE 'pg_temp\\_%' AND {n}.nspname NOT LIKE 'pg_toast_temp\\_%'"
)

#: An object that belongs to an extension (CREATE EXTENSION made it): never the app's.
NOT_EXTENSION_MEMBER = (
    "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass"
    " AND e.objid = {oid} AND e.deptype = 'e')"
)


#: Which versions of the catalog rows PostgreSQL's text of a view (or materialized view) ``{oid}`` is made
#: from, hashed: its rule's and its columns' (xmin, ctid), and the names of what its rule depends on
#: (relations and their schemas, columns, functions, types, operators, collations), which its text
#: prints and a rename elsewhere changes. Replacing the view, renaming or granting on one of its
#: columns writes new row versions (a new ctid even within one transaction), so an equal value
#: means the same text, without deparsing. VACUUM FULL, a dump and restore, or the server-side
#: replacement of a view's dependents give new values for the same text: then the text is read,
#: and the value recorded again.
ROW_VERSION = (
    "md5((SELECT string_agg(CAST(r.xmin AS text) || CAST(r.ctid AS text), ',') FROM pg_rewrite r"
    " WHERE r.ev_class = {oid} AND r.rulename = '_RETURN') || '/' ||"
    " coalesce((SELECT string_agg(CAST(a.xmin AS text) || CAST(a.ctid AS text), ',' ORDER BY a.attnum)"
    " FROM pg_attribute a WHERE a.attrelid = {oid} AND a.attnum > 0), '') || '/' || coalesce({names}, ''))"
)

#: ``(ev_class, names)``: for each view whose rule ``{where}`` selects, the names of what it depends on,
#: one string (join it to the view for `row_version`'s ``names``); one grouped pass over pg_depend.
DEPENDENCY_NAMES = (
    "(SELECT x.ev_class, string_agg(x.name, ',' ORDER BY x.name) AS names FROM (SELECT r.ev_class, CASE d.refclassid"
    " WHEN 'pg_class'::regclass THEN format('%I.%I.%s', n.nspname, c.relname, coalesce(quote_ident(a.attname), ''))"
    " WHEN 'pg_proc'::regclass THEN CAST(CAST(d.refobjid AS regprocedure) AS text)"
    " WHEN 'pg_type'::regclass THEN format_type(d.refobjid, NULL)"
    " WHEN 'pg_operator'::regclass THEN CAST(CAST(d.refobjid AS regoperator) AS text)"
    " WHEN 'pg_collation'::regclass THEN CAST(CAST(d.refobjid AS regcollation) AS text) END AS name"
    " FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
    " AND d.refobjid <> r.ev_class"
    " LEFT JOIN pg_class c ON d.refclassid = 'pg_class'::regclass AND c.oid = d.refobjid"
    " LEFT JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0"
    " WHERE r.rulename = '_RETURN' AND {where}) x GROUP BY x.ev_class)"
)


def row_version(oid: str, names: str) -> str:
    """`ROW_VERSION` of the view ``oid``, given its `DEPENDENCY_NAMES` row's ``names`` column."""
    return ROW_VERSION.format(oid=oid, names=names)


def dependency_names(where: str = "true") -> str:
    return DEPENDENCY_NAMES.format(where=where)


def user_schema(alias: str = "n") -> str:
    return USER_SCHEMA.format(n=alias)


def not_extension_member(catalog: str, oid: str) -> str:
    return NOT_EXTENSION_MEMBER.format(catalog=catalog, oid=oid)


def privileges(acl: str, letter: str, owner: str) -> str:
    """A JSON array of ``[grantee or 'PUBLIC', privilege, grantable]``, sorted: the effective ACL.

    A NULL ACL means the defaults for the kind (``letter``, as ``acldefault``
    takes it) and owner, so an object whose privileges were never touched and
    one granted and revoked back to the defaults read the same.
    """
    return explode(f"coalesce({acl}, acldefault('{letter}', {owner}))")


def default_privileges(letter: str, owner: str) -> str:
    """As `privileges`, for what a new object of the kind and owner starts with."""
    return explode(f"acldefault('{letter}', {owner})")


def explode(acl: str) -> str:
    return f"""(SELECT coalesce(json_agg(json_build_array(x.grantee, x.privilege, x.grantable)
                                ORDER BY x.grantee, x.privilege, x.grantable), '[]'::json)
              FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                           a.privilege_type AS privilege, a.is_grantable AS grantable
                    FROM aclexplode({acl}) a) x)"""


def loads(value: Any) -> Any:
    """A JSON column's value: psycopg decodes JSON itself, asyncpg hands over the text."""
    return json.loads(value) if isinstance(value, str) else value
