"""What depends on a view, function or materialized view, read from the catalog online.

`find` looks an object up, `dependents` lists every view, materialized view
and function that depends on it, directly or not, each as a `Captured` (what
the catalog says of it). Dropping refuses while there are any; autogenerate
orders its operations by them; ``refresh`` orders materialized views.
Replacing an object does not use this module: the server does it all at
apply time (`myapp.db.ddl.replace`), online and offline alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from ..catalog import dependents as graph
from ..catalog import lookup
from ..catalog import objects as catalog
from .signature import input_arguments


@dataclass
class Captured:
    """One object as the catalog describes it."""

    oid: int
    kind: str
    schema: str
    name: str
    definition: str
    owner: str
    populated: bool = True  # a materialized view's
    arguments: Optional[str] = None  # a function's identity arguments

    @classmethod
    def from_row(cls, row: dict) -> "Captured":
        return cls(
            oid=row["oid"], kind=row["kind"], schema=row["schema"], name=row["name"],
            definition=row["definition"], owner=row["owner"], populated=row.get("populated", True),
            arguments=row.get("identity"),
        )

    @property
    def label(self) -> str:
        args = f"({self.arguments})" if self.kind == "function" else ""
        return f"{self.kind} {self.schema}.{self.name}{args}"


def _load(conn, classes: Dict[int, str]) -> Dict[int, Captured]:
    """Capture the objects ``{oid: 'r' or 'f'}``, one query per class."""
    relations = [oid for oid, cls in classes.items() if cls == "r"]
    functions = [oid for oid, cls in classes.items() if cls == "f"]
    rows = (catalog.relations(conn, oids=relations) if relations else []) + (
        catalog.functions(conn, oids=functions) if functions else []
    )
    return {row["oid"]: Captured.from_row(row) for row in rows}


def find(conn, kind: str, schema: Optional[str], name: str, arguments: Optional[str] = None) -> Optional[Captured]:
    """Look up one view, materialized view or function by name (and, for functions, the
    declared or identity arguments); None when it is not there, or is of a kind whose
    dependents are not tracked."""
    if kind == "function":
        oids = lookup.function_oids(conn, schema, name, input_types(conn, arguments or ""))
        oid, cls = (oids[0] if oids else None), "f"
    else:
        relkind = {"view": "v", "materialized view": "m"}.get(kind)
        if relkind is None:
            return None  # a plugin's kind: its dependents are not tracked
        oid, cls = lookup.relation_oid(conn, schema, name, relkind), "r"
    return _load(conn, {oid: cls}).get(oid) if oid else None


def input_types(conn, arguments: str) -> List[int]:
    """The type oids of a function's input arguments, as PostgreSQL resolves them."""
    oids = []
    for argument in input_arguments(arguments):
        # Either "type" or "name type": let PostgreSQL decide which parses as a type.
        words = argument.split(None, 1)
        oid = lookup.type_oid(conn, argument)
        if oid is None and len(words) > 1:
            oid = lookup.type_oid(conn, words[1])
        if oid is None:
            raise ValueError(f"cannot resolve the type of function argument {argument!r}")
        oids.append(oid)
    return oids


def dependents(conn, root: Captured) -> List[Captured]:
    """Every object that depends on ``root``, directly or not, each after what it reads."""
    cls = "f" if root.kind == "function" else "r"
    below = [(c, oid) for c, oid, depth in graph.closure(conn, cls, root.oid) if depth > 0]
    captured = _load(conn, {oid: c for c, oid in below})
    return [captured[oid] for _, oid in below if oid in captured]


def drop_order(conn, nodes: Sequence[tuple]) -> List[int]:
    """The ``(cls, oid)`` nodes' oids ordered so that each comes before anything among them it depends on."""
    if not nodes:
        return []
    edges = graph.among(conn, nodes)
    edges[0] = {oid for _, oid in nodes}  # a virtual root above them all
    return list(reversed(graph.creation_order(0, edges)))


def materialized_views(conn) -> List[Captured]:
    """Every materialized view in the database, each after the ones it reads from."""
    oids = catalog.materialized_view_oids(conn)
    captured = _load(conn, {oid: "r" for oid in oids})
    edges: Dict[int, set] = {0: set(oids)}  # a virtual root above them all
    for oid in oids:  # through views too: a matview may read another through a view
        below = {o for _, o, depth in graph.closure(conn, "r", oid) if depth > 0}
        edges[oid] = below & set(oids)
    return [captured[oid] for oid in graph.creation_order(0, edges)]
