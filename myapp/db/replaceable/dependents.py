"""What depends on a view, function or materialized view, and how to put it back after a replacement.

`capture` finds an object and `dependents` every view, materialized view and
function that depends on it, directly or not, each as a `Captured`: what
PostgreSQL knows of it (definition, owner, privileges, comment, indexes,
populated state). `Captured.recreate()` turns one back into DDL constructs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .. import ddl
from ..catalog import dependents as graph
from ..catalog import lookup
from ..catalog import objects as catalog

Privilege = Tuple[str, str, bool]  # (grantee or 'PUBLIC', privilege, grantable)


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
    privileges: List[Privilege]  # the effective ACL
    default_privileges: List[Privilege]  # what a new object of this kind and owner starts with
    owned_by_me: bool  # owned by the role running the migration: no ALTER OWNER needed
    indexes: List[Tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX ...)
    arguments: Optional[str] = None

    @classmethod
    def from_row(cls, row: dict) -> "Captured":
        return cls(
            oid=row["oid"], kind=row["kind"], schema=row["schema"], name=row["name"],
            definition=row["definition"], populated=row.get("populated", True), owner=row["owner"],
            comment=row["comment"], privileges=row["privileges"], default_privileges=row["default_privileges"],
            owned_by_me=row["owned_by_me"], indexes=[(ix[0], ix[4]) for ix in row.get("indexes", ())],
            arguments=row.get("identity"),
        )

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
        defaults = set(self.default_privileges)
        wanted = set(self.privileges) | {(grantee, privilege, False) for grantee, privilege in grants}
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


def _load(conn, classes: Dict[int, str]) -> Dict[int, Captured]:
    """Capture the objects ``{oid: 'r' or 'f'}``, one query per class."""
    relations = [oid for oid, cls in classes.items() if cls == "r"]
    functions = [oid for oid, cls in classes.items() if cls == "f"]
    rows = (catalog.relations(conn, oids=relations) if relations else []) + (
        catalog.functions(conn, oids=functions) if functions else []
    )
    return {row["oid"]: Captured.from_row(row) for row in rows}


def find(conn, kind: str, schema: Optional[str], name: str, arguments: Optional[str] = None) -> Optional[Captured]:
    """Look up one view, materialized view or function by name (and, for functions, argument
    types); None when it is not there, or is of a kind whose dependents are not tracked."""
    if kind == "function":
        oids = lookup.function_oids(conn, schema, name, input_types(conn, arguments or ""))
        oid, cls = (oids[0] if oids else None), "f"
    else:
        relkind = {"view": "v", "materialized view": "m"}.get(kind)
        if relkind is None:
            return None  # a plugin's kind: its dependents are not tracked
        oid, cls = lookup.relation_oid(conn, schema, name, relkind), "r"
    return _load(conn, {oid: cls}).get(oid) if oid else None


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
        oid = lookup.type_oid(conn, " ".join(words))
        if oid is None and len(words) > 1:
            oid = lookup.type_oid(conn, " ".join(words[1:]))
        if oid is None:
            raise ValueError(f"cannot resolve the type of function argument {argument!r}")
        oids.append(oid)
    return oids


def dependents(conn, root: Captured) -> List[Captured]:
    """Every object that depends on ``root``, directly or not, in creation order."""
    edges, classes = graph.closure(conn, root.oid)
    captured = _load(conn, classes)
    return [captured[oid] for oid in graph.creation_order(root.oid, edges) if oid in captured]


def drop_order(conn, oids: Sequence[int]) -> List[int]:
    """``oids`` ordered so that each comes before anything among them it depends on."""
    if not oids:
        return []
    edges = graph.among(conn, oids)
    edges[0] = set(oids)  # a virtual root above them all
    return list(reversed(graph.creation_order(0, edges)))


def materialized_views(conn) -> List[Captured]:
    """Every materialized view in the database, each after the ones it reads from."""
    oids = catalog.materialized_view_oids(conn)
    captured = _load(conn, {oid: "r" for oid in oids})
    edges: Dict[int, set] = {0: set(oids)}  # a virtual root above them all
    for oid in oids:  # through views too: a matview may read another through a view
        below, _ = graph.closure(conn, oid)
        edges[oid] = set().union(*below.values()) & set(oids) if below else set()
    return [captured[oid] for oid in graph.creation_order(0, edges)]
