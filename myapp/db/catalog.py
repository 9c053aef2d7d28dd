"""Read views, materialized views and functions back from the catalog as replaceable objects.

One query per kind for all objects in the given schemas (extension members
left out). Each object carries ``fingerprint``: PostgreSQL's own rendering
of it (``pg_get_viewdef``, ``pg_get_functiondef``) with white space folded,
which is what autogenerate compares.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Sequence

import sqlalchemy as sa

from .replaceable import MatviewIndex, ReplaceableFunction, ReplaceableMatview, ReplaceableView

_NOT_EXTENSION = """NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass
                      AND e.objid = {oid} AND e.deptype = 'e')"""

_GRANTS = """(SELECT json_agg(json_build_array(
                     CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                     a.privilege_type))
              FROM aclexplode({acl}) a
              WHERE (a.grantee, a.privilege_type) NOT IN
                    (SELECT d.grantee, d.privilege_type FROM aclexplode(acldefault('{letter}', {owner})) d))"""

_RELATIONS = sa.text(
    f"""
    SELECT c.oid, n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid) AS definition,
           {_GRANTS.format(acl='c.relacl', letter='r', owner='c.relowner')} AS grants,
           (SELECT json_agg(json_build_array(
                       ic.relname, i.indisunique,
                       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                             ORDER BY k.ord),
                       i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) ORDER BY ic.relname)
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid) AS indexes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = :relkind AND n.nspname = ANY(:schemas)
      AND {_NOT_EXTENSION.format(catalog='pg_class', oid='c.oid')}
    ORDER BY 1, 2
    """
)

_FUNCTIONS = sa.text(
    f"""
    SELECT p.oid, n.nspname, p.proname, pg_get_function_arguments(p.oid) AS arguments,
           pg_get_function_identity_arguments(p.oid) AS identity,
           pg_get_functiondef(p.oid) AS functiondef,
           {_GRANTS.format(acl='p.proacl', letter='f', owner='p.proowner')} AS grants
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.prokind = 'f' AND n.nspname = ANY(:schemas)
      AND {_NOT_EXTENSION.format(catalog='pg_proc', oid='p.oid')}
    ORDER BY 1, 2, 4
    """
)


def fold(text: str) -> str:
    """Fold runs of white space outside single-quoted literals into one space."""
    parts = re.split(r"('(?:[^']|'')*')", text.strip())
    return "".join(p if i % 2 else " ".join(p.split()) for i, p in enumerate(parts))


def _grants(value) -> dict:
    grants: dict = {}
    for grantee, privilege in value or []:
        grants.setdefault(grantee, []).append(privilege)
    return grants


def _identify(obj, oid: int, schema: str, identity: str, fingerprint: str):
    obj.oid = oid
    obj.identity = (obj.kind, schema, obj.name, identity)
    obj.fingerprint = fingerprint
    return obj


def views(conn, schemas: Sequence[str], materialized: bool = False) -> List[ReplaceableView]:
    """Every (materialized) view in ``schemas``."""
    found = []
    rows = conn.execute(_RELATIONS, {"relkind": "m" if materialized else "v", "schemas": list(schemas)})
    for row in rows.mappings():
        grants = _grants(row["grants"])
        definition = row["definition"].strip().rstrip(";")
        if materialized:
            indexes = [MatviewIndex(name, columns, unique)
                       for name, unique, columns, partial in row["indexes"] or [] if not partial]
            obj = ReplaceableMatview(row["relname"], definition, schema=row["nspname"],
                                     indexes=indexes, grants=grants)
        else:
            obj = ReplaceableView(row["relname"], definition, schema=row["nspname"], grants=grants)
        found.append(_identify(obj, row["oid"], row["nspname"], "", fold(definition)))
    return found


def functions(conn, schemas: Sequence[str]) -> List[ReplaceableFunction]:
    """Every plain function in ``schemas``."""
    found = []
    for row in conn.execute(_FUNCTIONS, {"schemas": list(schemas)}).mappings():
        header, _, definition = row["functiondef"].partition("\n")
        obj = ReplaceableFunction(
            f"{row['proname']}({row['arguments']})", definition.strip(),
            schema=row["nspname"], grants=_grants(row["grants"]),
        )
        found.append(_identify(obj, row["oid"], row["nspname"], row["identity"], fold(row["functiondef"])))
    return found


def read(conn, kinds: Iterable[type], schemas: Sequence[str]) -> list:
    """Every object of ``kinds`` in ``schemas``, each with ``identity`` and ``fingerprint``."""
    return [obj for kind in kinds for obj in kind.from_database(conn, schemas)]
