"""pg_depend: which views, materialized views and functions depend on which, and what else does.

Views and materialized views depend through their rewrite rules, functions
directly (SQL-standard bodies, argument and result types); a relation's row
type (and its array type) stands for the relation. A node is ``(cls, oid)``:
``'r'`` a relation (pg_class), ``'f'`` a function (pg_proc).

The fragments here are fixed SQL text that the server-side replacement
(``ddl/replace.sql``) embeds as they are, so online and offline find the
same dependents in the same order.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

#: What a node is referred to by in pg_depend: itself, and a relation's row and array types.
_REFERENCES = """
    SELECT CASE WHEN {node}.cls = 'r' THEN 'pg_class'::regclass ELSE 'pg_proc'::regclass END AS refclassid,
           {node}.oid AS refobjid
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid
    FROM pg_class c JOIN pg_type t ON t.oid IN (c.reltype, (SELECT typarray FROM pg_type WHERE oid = c.reltype))
    WHERE {node}.cls = 'r' AND c.oid = {node}.oid AND t.oid <> 0"""

#: The views, materialized views and functions that depend directly on the node ``{node}``
#: (a FROM item with columns ``cls`` and ``oid``), as rows ``(cls, oid)``.
DIRECT = f"""
    SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'r' ELSE 'f' END AS cls,
           coalesce(r.ev_class, p.oid) AS oid
    FROM ({_REFERENCES}) ref
    JOIN pg_depend d ON d.refclassid = ref.refclassid AND d.refobjid = ref.refobjid
    LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
    LEFT JOIN pg_class c ON c.oid = r.ev_class
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid AND d.deptype = 'n'
    WHERE (c.relkind IN ('v', 'm') AND NOT ({{node}}.cls = 'r' AND r.ev_class = {{node}}.oid))
       OR (p.prokind = 'f' AND NOT ({{node}}.cls = 'f' AND p.oid = {{node}}.oid))"""

#: Everything below the root ``({cls}, {oid})``, the root itself at depth 0, each once at its
#: longest distance from the root: ordered by depth, every object comes after what it reads.
CLOSURE = """
    WITH RECURSIVE below(cls, oid, depth) AS (
        SELECT CAST({cls} AS text), CAST({oid} AS oid), 0
        UNION
        SELECT e.cls, e.oid, b.depth + 1
        FROM below b CROSS JOIN LATERAL (""" + DIRECT.format(node="b") + """) e
        WHERE b.depth < 100
    )
    SELECT cls, oid, max(depth) AS depth FROM below GROUP BY cls, oid"""

#: What depends on the nodes ``{nodes}`` (a FROM item with columns ``cls`` and ``oid``) that
#: a replacement cannot put back: not one of the nodes themselves (rewrite rules of views
#: among them, functions among them), nor an index, trigger, rule or column default on a
#: relation among them (those are saved and put back). One description per object.
OTHERS = """
    SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid) AS description
    FROM {nodes} n
    CROSS JOIN LATERAL (""" + _REFERENCES.format(node="n") + """) ref
    JOIN pg_depend d ON d.refclassid = ref.refclassid AND d.refobjid = ref.refobjid AND d.deptype IN ('n', 'a')
    WHERE NOT EXISTS (SELECT 1 FROM {nodes} m WHERE (m.cls = 'f' AND d.classid = 'pg_proc'::regclass AND d.objid = m.oid)
                         OR (m.cls = 'r' AND d.classid = 'pg_rewrite'::regclass
                             AND d.objid IN (SELECT oid FROM pg_rewrite WHERE ev_class = m.oid))
                         OR (m.cls = 'r' AND d.classid = 'pg_trigger'::regclass
                             AND d.objid IN (SELECT oid FROM pg_trigger WHERE tgrelid = m.oid))
                         OR (m.cls = 'r' AND d.classid = 'pg_class'::regclass
                             AND d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = m.oid))
                         OR (m.cls = 'r' AND d.classid = 'pg_attrdef'::regclass
                             AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = m.oid)))
    ORDER BY 1"""

_CLOSURE = sa.text(CLOSURE.format(cls=":cls", oid=":root") + " ORDER BY depth, cls, oid")

_AMONG = sa.text(
    "SELECT node.oid AS parent, e.oid AS child"
    " FROM unnest(CAST(:classes AS text[]), CAST(:oids AS oid[])) AS node(cls, oid)"
    " CROSS JOIN LATERAL (" + DIRECT.format(node="node") + ") e"
    " WHERE e.oid = ANY(CAST(:oids AS oid[]))"
)


_ON_COLUMNS = sa.text("""
    SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'r' ELSE 'f' END AS cls,
           coalesce(r.ev_class, p.oid) AS oid
    FROM unnest(CAST(:schemas AS text[]), CAST(:tables AS text[]), CAST(:columns AS text[])) AS t(nsp, tbl, col)
    JOIN pg_namespace n ON n.nspname = coalesce(t.nsp, current_schema())
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tbl
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = t.col
    JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                    AND (t.col IS NULL OR d.refobjsubid = a.attnum)
    LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
    LEFT JOIN pg_class v ON v.oid = r.ev_class
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    WHERE (v.relkind IN ('v', 'm') AND v.oid <> c.oid) OR p.prokind = 'f'
""")


def on_columns(conn, columns: Sequence[Tuple[Optional[str], str, Optional[str]]]) -> List[Tuple[str, int]]:
    """``(cls, oid)`` of the views, materialized views and functions that read one of
    ``columns``, each ``(schema or None, table, column or None for the whole table)``."""
    if not columns:
        return []
    params = {"schemas": [s for s, _, _ in columns], "tables": [t for _, t, _ in columns],
              "columns": [c for _, _, c in columns]}
    return [tuple(row) for row in conn.execute(_ON_COLUMNS, params)]


def closure(conn, cls: str, root: int) -> List[Tuple[str, int, int]]:
    """``(cls, oid, depth)`` for ``root`` (depth 0) and everything that depends on it, parents first."""
    return [tuple(row) for row in conn.execute(_CLOSURE, {"cls": cls, "root": root})]


def among(conn, nodes: Sequence[Tuple[str, int]]) -> Dict[int, set]:
    """The parent -> children edges between the ``(cls, oid)`` nodes only, in one query."""
    edges: Dict[int, set] = {}
    params = {"classes": [cls for cls, _ in nodes], "oids": [oid for _, oid in nodes]}
    for parent, child in conn.execute(_AMONG, params):
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
