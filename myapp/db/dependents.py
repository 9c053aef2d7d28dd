"""What depends on a view, function or materialized view, read from pg_depend, and how to put it back.

`capture` finds an object and, transitively, every view, materialized view
and function that depends on it, with what PostgreSQL knows of each: its
definition, owner, privileges, comment and (materialized views) indexes.
`Captured.recreate()` turns one back into DDL constructs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from . import ddl

_KINDS = {"v": "view", "m": "materialized view", "f": "function"}


def _acl_json(acl: str) -> str:
    """SQL for an ACL as a JSON array of [grantee or 'PUBLIC', privilege, grantable]."""
    return f"""(SELECT json_agg(json_build_array(
                       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                       a.privilege_type, a.is_grantable))
              FROM aclexplode({acl}) a)"""


_RELATION = sa.text(
    f"""
    SELECT c.oid, n.nspname, c.relname, c.relkind,
           pg_get_viewdef(c.oid) AS definition, c.relispopulated,
           pg_get_userbyid(c.relowner) AS owner,
           obj_description(c.oid, 'pg_class') AS comment,
           c.relacl IS NOT NULL AS has_acl,
           {_acl_json('c.relacl')} AS acl,
           {_acl_json("acldefault('r', c.relowner)")} AS default_acl,
           c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned_by_me,
           (SELECT json_agg(json_build_array(ic.relname, pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname)
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid) AS indexes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = ANY(:oids) AND c.relkind IN ('v', 'm')
    """
)

_FUNCTION = sa.text(
    f"""
    SELECT p.oid, n.nspname, p.proname, 'f' AS relkind,
           pg_get_functiondef(p.oid) AS definition, true AS relispopulated,
           pg_get_userbyid(p.proowner) AS owner,
           obj_description(p.oid, 'pg_proc') AS comment,
           p.proacl IS NOT NULL AS has_acl,
           {_acl_json('p.proacl')} AS acl,
           {_acl_json("acldefault('f', p.proowner)")} AS default_acl,
           p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned_by_me,
           NULL::json AS indexes,
           pg_get_function_identity_arguments(p.oid) AS arguments
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.oid = ANY(:oids) AND p.prokind = 'f'
    """
)

# Direct dependents of objects: views and materialized views through their
# rewrite rules, functions directly (SQL-standard bodies, argument and result
# types). A relation's row type stands for the relation.
_DEPENDENTS = sa.text(
    """
    WITH refs AS (
        SELECT unnest(:oids) AS oid, unnest(:oids) AS owner
        UNION ALL
        SELECT c.reltype, c.oid FROM pg_class c WHERE c.oid = ANY(:oids)
    )
    SELECT DISTINCT 'r' AS cls, r.ev_class AS oid, refs.owner AS parent
    FROM pg_depend d
    JOIN refs ON d.refobjid = refs.oid
    JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
    JOIN pg_class c ON c.oid = r.ev_class AND c.relkind IN ('v', 'm')
    WHERE r.ev_class <> refs.owner
    UNION
    SELECT DISTINCT 'f', d.objid, refs.owner
    FROM pg_depend d
    JOIN refs ON d.refobjid = refs.oid
    JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid AND p.prokind = 'f'
    WHERE d.deptype = 'n' AND d.objid <> refs.owner
    """
)


@dataclass
class Captured:
    """One object as the catalog describes it, enough to recreate it exactly."""

    oid: int
    kind: str
    schema: str
    name: str
    definition: str
    populated: bool
    owner: str
    comment: Optional[str]
    acl: Optional[List[Tuple[str, str, bool]]]  # None: default privileges
    default_acl: List[Tuple[str, str, bool]]  # what None means, for this kind and owner
    owned_by_me: bool  # owned by the role running the migration: no ALTER OWNER needed
    indexes: List[Tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX ...)
    arguments: Optional[str] = None

    @property
    def label(self) -> str:
        args = f"({self.arguments})" if self.kind == "function" else ""
        return f"{self.kind} {self.schema}.{self.name}{args}"

    def drop(self):
        return ddl.DropObject(self.kind, self.schema, self.name, self.arguments)

    def create(self) -> list:
        if self.kind == "function":
            return [ddl.CatalogDefinition(self.definition)]
        return [
            ddl.CreateView(
                self.schema, self.name, self.definition,
                materialized=self.kind == "materialized view", with_data=self.populated,
            )
        ]

    def restore(self, onto=None, *, skip_indexes: Sequence[str] = (), grants=()) -> list:
        """Owner, privileges, comment and indexes, after a (re)creation.

        :param onto: the object to restore them onto (kind, schema, name,
            arguments), when it is a replacement rather than this object.
        :param skip_indexes: index names the replacement declares itself.
        :param grants: ``(grantee, privilege)`` pairs to grant as well.
        """
        kind, schema, name, arguments = (
            (onto.kind, onto.schema or self.schema, onto.name, onto.arguments) if onto
            else (self.kind, self.schema, self.name, self.arguments)
        )
        target = dict(schema=schema, kind=kind, arguments=arguments)
        statements = [ddl.CatalogDefinition(sql) for ix, sql in self.indexes if ix not in skip_indexes]
        if not self.owned_by_me:
            statements.append(ddl.SetOwner(kind, schema, name, self.owner, arguments))
        # A new object starts with the default privileges: revoke and grant only the difference.
        defaults = set(self.default_acl)
        wanted = set(defaults if self.acl is None else self.acl)
        wanted |= {(grantee, privilege, False) for grantee, privilege in grants}
        for (grantee, _), privileges in _by_grantee(defaults - wanted).items():
            statements.append(ddl.Revoke(privileges, name, grantee, **target))
        for (grantee, option), privileges in _by_grantee(wanted - defaults).items():
            statements.append(ddl.Grant(privileges, name, grantee, grant_option=option, **target))
        if self.comment is not None:
            statements.append(ddl.SetComment(kind, schema, name, self.comment, arguments))
        return statements

    def recreate(self) -> list:
        """Everything that puts this object back after a drop."""
        return self.create() + self.restore()


def _by_grantee(entries) -> Dict[Tuple[str, bool], List[str]]:
    grouped: Dict[Tuple[str, bool], List[str]] = {}
    for grantee, privilege, option in sorted(entries):
        grouped.setdefault((grantee, bool(option)), []).append(privilege)
    return grouped


def _load(conn, kind_oids: Dict[str, List[int]]) -> Dict[int, Captured]:
    found = {}
    for query, oids in ((_RELATION, kind_oids.get("r")), (_FUNCTION, kind_oids.get("f"))):
        if not oids:
            continue
        for row in conn.execute(query, {"oids": list(oids)}).mappings():
            found[row["oid"]] = Captured(
                oid=row["oid"],
                kind=_KINDS[row["relkind"]],
                schema=row["nspname"],
                name=row["proname"] if "proname" in row else row["relname"],
                definition=row["definition"],
                populated=row["relispopulated"],
                owner=row["owner"],
                comment=row["comment"],
                acl=[tuple(a) for a in row["acl"] or []] if row["has_acl"] else None,
                default_acl=[tuple(a) for a in row["default_acl"] or []],
                owned_by_me=row["owned_by_me"],
                indexes=[tuple(i) for i in row["indexes"] or []],
                arguments=row.get("arguments"),
            )
    return found


def find(conn, kind: str, schema: Optional[str], name: str, arguments: Optional[str] = None) -> Optional[Captured]:
    """Look up one view, materialized view or function by name (and, for functions, argument
    types); None when it is not there, or is of a kind whose dependents are not tracked."""
    if kind == "function":
        oid = _function_oid(conn, schema, name, arguments or "")
        return _load(conn, {"f": [oid]}).get(oid) if oid else None
    relkind = {"view": "v", "materialized view": "m"}.get(kind)
    if relkind is None:
        return None  # a plugin's kind: its dependents are not tracked
    oid = conn.scalar(
        sa.text(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())"
            " AND c.relkind = :relkind"
        ),
        {"name": name, "schema": schema, "relkind": relkind},
    )
    return _load(conn, {"r": [oid]}).get(oid) if oid else None


def _split_arguments(text: str) -> List[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


def _regtype(conn, text: str) -> Optional[int]:
    # to_regtype() returns NULL for an unknown type but raises on bad syntax
    # ("lat1 double precision"), hence the savepoint.
    savepoint = conn.begin_nested()
    try:
        oid = conn.scalar(sa.text("SELECT to_regtype(:t)::oid"), {"t": text})
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return oid


def input_types(conn, arguments: str) -> List[int]:
    """The type oids of a function's input arguments, as PostgreSQL resolves them."""
    oids = []
    for argument in _split_arguments(arguments):
        words = argument.split()
        lowered = [w.lower() for w in words]
        for stop in ("default", "="):
            if stop in lowered:
                words = words[: lowered.index(stop)]
                lowered = lowered[: len(words)]
        mode = lowered[0] if lowered and lowered[0] in ("in", "out", "inout", "variadic") else None
        if mode:
            words = words[1:]
        if mode == "out":
            continue
        # Either "type" or "name type": let PostgreSQL decide which parses as a type.
        oid = _regtype(conn, " ".join(words))
        if oid is None and len(words) > 1:
            oid = _regtype(conn, " ".join(words[1:]))
        if oid is None:
            raise ValueError(f"cannot resolve the type of function argument {argument!r}")
        oids.append(oid)
    return oids


def _function_oid(conn, schema, name, arguments) -> Optional[int]:
    types = input_types(conn, arguments)
    return conn.scalar(
        sa.text(
            "SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname = :name AND n.nspname = coalesce(:schema, current_schema())"
            " AND p.proargtypes = CAST(:types AS oidvector)"
        ),
        {"name": name, "schema": schema, "types": " ".join(map(str, types))},
    )


def dependents(conn, root: Captured) -> List[Captured]:
    """Every object that depends on ``root``, directly or not, in creation order."""
    edges: Dict[int, set] = {}  # parent oid -> child oids
    seen, frontier, kinds = {root.oid}, [root.oid], {}
    while frontier:
        rows = conn.execute(_DEPENDENTS, {"oids": frontier}).all()
        frontier = []
        for cls, oid, parent in rows:
            edges.setdefault(parent, set()).add(oid)
            if oid not in seen:
                seen.add(oid)
                kinds[oid] = cls
                frontier.append(oid)
    by_kind: Dict[str, List[int]] = {}
    for oid, cls in kinds.items():
        by_kind.setdefault(cls, []).append(oid)
    captured = _load(conn, by_kind)
    return [captured[oid] for oid in _creation_order(root.oid, edges) if oid in captured]


def drop_order(conn, oids: Sequence[int]) -> List[int]:
    """``oids`` ordered so that each comes before anything among them it depends on.

    One catalog query for the direct edges among them, then a topological sort.
    """
    wanted = set(oids)
    if not wanted:
        return []
    edges: Dict[int, set] = {0: set(wanted)}
    for _, child, parent in conn.execute(_DEPENDENTS, {"oids": list(wanted)}):
        if child in wanted and parent in wanted:
            edges.setdefault(parent, set()).add(child)
    created = _creation_order(0, edges)  # a virtual root above them all
    return [oid for oid in reversed(created)]


def _creation_order(root: int, edges: Dict[int, set]) -> List[int]:
    """Topological order of everything below ``root``: parents before children."""
    indegree: Dict[int, int] = {}
    for parent, children in edges.items():
        for child in children:
            indegree[child] = indegree.get(child, 0) + 1
    ready, order = [root], []
    while ready:
        node = ready.pop(0)
        if node != root:
            order.append(node)
        for child in sorted(edges.get(node, ())):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order


def materialized_views(conn) -> List[Captured]:
    """Every materialized view in the database, each after the ones it reads from."""
    oids = conn.scalars(
        sa.text(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'm' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY n.nspname, c.relname"
        )
    ).all()
    captured = _load(conn, {"r": oids})
    edges = {
        oid: {d.oid for d in dependents(conn, captured[oid]) if d.oid in captured}
        for oid in oids
    }
    # A virtual root above them all gives one topological order.
    edges[0] = set(oids)
    return [captured[oid] for oid in _creation_order(0, edges)]
