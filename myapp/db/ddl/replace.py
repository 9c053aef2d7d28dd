"""`ReplaceObjects`: replacing views, materialized views and functions, done by the server.

One construct, compiled to a PL/pgSQL ``DO`` block that runs ``replace.sql``
with the replacement's steps as data: the server finds the dependents
through ``pg_depend``, saves what each has, drops, creates and puts back, at
apply time. Online and ``migrate --sql`` send the same block, so SQL that a
DBA applies by hand does exactly what ``migrate`` does. The catalog reads it
makes are the catalog package's own fragments (the closure, the objects'
descriptions), embedded as they are.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import List, Optional, Sequence, Tuple

from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from ..catalog import dependents, objects
from .base import sql_text

@functools.lru_cache(maxsize=None)
def _plain():
    """The dialect statements inside the block are compiled with: no percent doubling (the block
    as a whole is doubled once, like any SQL text). Made on first use, not at every start-up."""
    return postgresql.dialect(paramstyle="named")


@functools.lru_cache(maxsize=None)
def _body() -> str:
    """The block's text, read once, when a replacement is first compiled (not at import)."""
    text = resources.files(__package__).joinpath("replace.sql").read_text(encoding="utf-8")
    text = text[text.index("DECLARE"):]  # the explanation above it is for readers of the file
    nodes = "(SELECT x ->> 'cls' AS cls, CAST(x ->> 'oid' AS oid) AS oid FROM jsonb_array_elements(v_saved) x)"
    return (
        text.replace("/*RELATION*/", objects.RELATION_BY_OID.replace("{oid}", "v_node_oid"))
        .replace("/*FUNCTION*/", objects.FUNCTION_BY_OID.replace("{oid}", "v_node_oid"))
        .replace("/*CLOSURE*/", dependents.CLOSURE.format(cls="v_root_cls", oid="v_root_oid"))
        .replace("/*OTHERS*/", dependents.OTHERS.format(nodes=nodes))
    )



@dataclass
class Target:
    """An object as a replacement finds it: by kind, schema (None: the current one), name and,
    for a function, the ``[name] type`` text of each input argument."""

    label: str
    kind: str
    schema: Optional[str]
    name: str
    arguments: Sequence[str] = ()


@dataclass
class Step:
    """One object to put in place of ``old``: its CREATE (and CREATE INDEX) statements, its
    CREATE OR REPLACE (None when it has none), the grants and index names it declares."""

    new: Target
    old: Target
    create: Sequence[DDLElement]
    or_replace: Optional[DDLElement] = None
    grants: Sequence[Tuple[str, str]] = ()
    indexes: Sequence[str] = field(default_factory=list)


class ReplaceObjects(DDLElement):
    """Replace ``steps[0].old`` by ``steps[0].new``; the later steps are new versions of objects
    that may depend on it (used in place of their catalog definitions), or else replaced after."""

    inherit_cache = False

    def __init__(self, steps: Sequence[Step]):
        self.steps = list(steps)


def _array(items: List[str]) -> str:
    if not items:
        return "'[]'::jsonb"
    chunks = [items[i:i + 50] for i in range(0, len(items), 50)]  # a function takes 100 arguments at most
    return " || ".join("jsonb_build_array(" + ", ".join(chunk) + ")" for chunk in chunks)


@compiles(ReplaceObjects, "postgresql")
def _replace(element, compiler, **kw):
    def literal(value) -> str:
        return "NULL" if value is None else compiler.sql_compiler.render_literal_value(value, Text())

    def obj(indent: str, *pairs) -> str:
        inner = f",\n{indent}    ".join(f"{literal(key)}, {value}" for key, value in pairs)
        return f"jsonb_build_object(\n{indent}    {inner})"

    def target(t: Target) -> str:
        return obj("            ", ("label", literal(t.label)), ("kind", literal(t.kind)),
                   ("schema", literal(t.schema)), ("name", literal(t.name)),
                   ("arguments", _array([literal(a) for a in t.arguments])))

    def statement(s) -> str:
        return literal(str(s.compile(dialect=_plain())))

    steps = [
        obj(
            "        ",
            ("label", literal(step.new.label)), ("kind", literal(step.new.kind)),
            ("schema", literal(step.new.schema)), ("name", literal(step.new.name)),
            ("old", target(step.old)),
            ("create", _array([statement(s) for s in step.create])),
            ("or_replace", "NULL" if step.or_replace is None else statement(step.or_replace)),
            ("grants", _array([f"jsonb_build_array({literal(g)}, {literal(p)})" for g, p in step.grants])),
            ("indexes", _array([literal(name) for name in step.indexes])),
        )
        for step in element.steps
    ]
    body = _body().replace("/*STEPS*/", _array(steps), 1)
    tag = "myapp_replace"
    while f"${tag}$" in body:
        tag += "_"
    return sql_text(compiler, f"DO ${tag}$\n{body}${tag}$")
