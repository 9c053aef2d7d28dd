"""pg_depend: which views, materialized views and functions depend on which, directly.

Views and materialized views depend through their rewrite rules, functions
directly (SQL-standard bodies, argument and result types); a relation's row
type stands for the relation.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import sqlalchemy as sa

_DIRECT = sa.text(
    """
    WITH refs AS (
        SELECT unnest(CAST(:oids AS oid[])) AS oid, unnest(CAST(:oids AS oid[])) AS owner
        UNION ALL
        SELECT c.reltype, c.oid FROM pg_class c WHERE c.oid = ANY(CAST(:oids AS oid[]))
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


def direct(conn, oids: Sequence[int]) -> List[Tuple[str, int, int]]:
    """``(class, oid, parent)`` for each object depending directly on one of ``oids``:
    class ``'r'`` for a (materialized) view, ``'f'`` for a function."""
    return [tuple(row) for row in conn.execute(_DIRECT, {"oids": list(oids)})]


def closure(conn, root: int) -> Tuple[Dict[int, set], Dict[int, str]]:
    """Everything below ``root``: the parent -> children edges and each object's class."""
    edges: Dict[int, set] = {}
    seen, frontier, classes = {root}, [root], {}
    while frontier:
        rows = direct(conn, frontier)
        frontier = []
        for cls, oid, parent in rows:
            edges.setdefault(parent, set()).add(oid)
            if oid not in seen:
                seen.add(oid)
                classes[oid] = cls
                frontier.append(oid)
    return edges, classes


def among(conn, oids: Sequence[int]) -> Dict[int, set]:
    """The parent -> children edges between ``oids`` only, in one query."""
    wanted = set(oids)
    edges: Dict[int, set] = {}
    for _, child, parent in direct(conn, list(wanted)):
        if child in wanted and parent in wanted:
            edges.setdefault(parent, set()).add(child)
    return edges


def creation_order(root: int, edges: Dict[int, set]) -> List[int]:
    """Topological order of everything below ``root``: parents before children."""
    indegree: Dict[int, int] = {}
    for children in edges.values():
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
