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
#: from: its rule's and its columns' (xmin, ctid), hashed. Replacing the view, renaming or granting on a
#: column writes new row versions (a new ctid even within one transaction), so an equal value means
#: the rows, and so ``pg_get_viewdef``, are as they were, without deparsing. VACUUM FULL, a dump and
#: restore, or the server-side replacement of a view's dependents give new values for the same text:
#: then the text is read, and the value recorded again.
ROW_VERSION = (
    "md5((SELECT string_agg(CAST(r.xmin AS text) || CAST(r.ctid AS text), ',') FROM pg_rewrite r"
    " WHERE r.ev_class = {oid} AND r.rulename = '_RETURN') || '/' ||"
    " coalesce((SELECT string_agg(CAST(a.xmin AS text) || CAST(a.ctid AS text), ',' ORDER BY a.attnum)"
    " FROM pg_attribute a WHERE a.attrelid = {oid} AND a.attnum > 0), ''))"
)


def row_version(oid: str) -> str:
    return ROW_VERSION.format(oid=oid)


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
