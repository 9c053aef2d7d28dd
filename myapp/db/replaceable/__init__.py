"""Replaceable objects: views, functions and materialized views, defined by SQL text, replaced whole.

`base` (the `ReplaceableObject` every kind subclasses), one module per kind
(`view`, `function`, `matview`: each reads its own kind back from the
catalog), `registry` (an app's objects, created in dependency order),
`dependents` (what depends on an object, captured and put back), `ops` (the
migration operations, as data) and `toimpl` (what they do to a database).
"""

from .base import ReplaceableObject
from .function import ReplaceableFunction
from .matview import MatviewIndex, ReplaceableMatview
from .registry import Registry
from .view import ReplaceableView

#: The kinds the framework compares itself; plugins add theirs through the replaceable_kinds hook.
KINDS = (ReplaceableView, ReplaceableMatview, ReplaceableFunction)


def stored(connection, relations=(), functions=()) -> list:
    """The framework's kinds of object stored with these oids (views and materialized views by their
    ``pg_class`` oids, functions by their ``pg_proc`` oids), read in full from the catalog."""
    from ..catalog import objects as catalog

    rows = catalog.relations(connection, oids=list(relations)) if relations else []
    return [
        *ReplaceableView.from_rows([r for r in rows if r["relkind"] == "v"]),
        *ReplaceableMatview.from_rows([r for r in rows if r["relkind"] == "m"]),
        *(ReplaceableFunction.from_rows(catalog.functions(connection, oids=list(functions))) if functions else []),
    ]


__all__ = [
    "KINDS", "MatviewIndex", "Registry", "ReplaceableFunction", "ReplaceableMatview",
    "ReplaceableObject", "ReplaceableView", "stored",
]
