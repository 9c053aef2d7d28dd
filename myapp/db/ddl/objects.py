"""Views, functions and materialized views: create, drop, refresh, index, comment, own."""

from __future__ import annotations

from typing import Optional, Sequence

from sqlalchemy import Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from .base import KEYWORDS, flag, qualified, sql_text


class ObjectDDL(DDLElement):
    """Base for statements about one named object; carries names, not SQL."""

    inherit_cache = False

    def __init__(self, kind: str, schema: Optional[str], name: str, arguments: Optional[str] = None):
        self.kind, self.schema, self.name, self.arguments = kind, schema, name, arguments


def _name(element, compiler) -> str:
    name = qualified(compiler, element.name, element.schema)
    if element.kind == "function":
        return f"{name}({sql_text(compiler, element.arguments or '')})"
    return name


def _target(element, compiler) -> str:
    return f"{KEYWORDS[element.kind]} {_name(element, compiler)}"


class CreateView(ObjectDDL):
    def __init__(self, schema, name, definition: str, *, or_replace=False, materialized=False, with_data=True):
        super().__init__("materialized view" if materialized else "view", schema, name)
        self.definition, self.or_replace, self.with_data = definition, or_replace, with_data


@compiles(CreateView, "postgresql")
def _create_view(element, compiler, **kw):
    head = "CREATE OR REPLACE" if element.or_replace else "CREATE"
    body = sql_text(compiler, element.definition)
    tail = ""
    if element.kind == "materialized view":
        tail = " WITH DATA" if element.with_data else " WITH NO DATA"
    return f"{head} {_target(element, compiler)} AS {body}{tail}"


class CreateFunction(ObjectDDL):
    def __init__(self, schema, name, arguments: str, definition: str, *, or_replace=False):
        super().__init__("function", schema, name, arguments)
        self.definition, self.or_replace = definition, or_replace


@compiles(CreateFunction, "postgresql")
def _create_function(element, compiler, **kw):
    head = "CREATE OR REPLACE" if element.or_replace else "CREATE"
    return f"{head} {_target(element, compiler)} {sql_text(compiler, element.definition)}"


class DropObject(ObjectDDL):
    def __init__(self, kind, schema, name, arguments=None, *, if_exists=False, cascade=False):
        super().__init__(kind, schema, name, arguments)
        self.if_exists, self.cascade = if_exists, cascade


@compiles(DropObject, "postgresql")
def _drop(element, compiler, **kw):
    exists = "IF EXISTS " if element.if_exists else ""
    return f"DROP {KEYWORDS[element.kind]} {exists}{_name(element, compiler)}{flag(element.cascade, ' CASCADE')}"


class RefreshMaterializedView(ObjectDDL):
    def __init__(self, schema, name, *, concurrently=False):
        super().__init__("materialized view", schema, name)
        self.concurrently = concurrently


@compiles(RefreshMaterializedView, "postgresql")
def _refresh(element, compiler, **kw):
    how = "CONCURRENTLY " if element.concurrently else ""
    return f"REFRESH MATERIALIZED VIEW {how}{qualified(compiler, element.name, element.schema)}"


class CreateIndexOn(ObjectDDL):
    """CREATE [UNIQUE] INDEX name ON relation (columns): for materialized views."""

    def __init__(self, schema, relation, index_name, columns: Sequence[str], *, unique=False):
        super().__init__("materialized view", schema, relation)
        self.index_name, self.columns, self.unique = index_name, tuple(columns), unique


@compiles(CreateIndexOn, "postgresql")
def _create_index(element, compiler, **kw):
    preparer = compiler.preparer
    columns = ", ".join(preparer.quote(c) for c in element.columns)
    unique = "UNIQUE " if element.unique else ""
    return (
        f"CREATE {unique}INDEX {preparer.quote(element.index_name)} "
        f"ON {qualified(compiler, element.name, element.schema)} ({columns})"
    )


class SetComment(ObjectDDL):
    def __init__(self, kind, schema, name, comment: Optional[str], arguments=None):
        super().__init__(kind, schema, name, arguments)
        self.comment = comment


@compiles(SetComment, "postgresql")
def _comment(element, compiler, **kw):
    value = "NULL" if element.comment is None else compiler.sql_compiler.render_literal_value(
        element.comment, Text()
    )
    return f"COMMENT ON {_target(element, compiler)} IS {value}"


class SetOwner(ObjectDDL):
    def __init__(self, kind, schema, name, owner: str, arguments=None):
        super().__init__(kind, schema, name, arguments)
        self.owner = owner


@compiles(SetOwner, "postgresql")
def _owner(element, compiler, **kw):
    return f"ALTER {_target(element, compiler)} OWNER TO {compiler.preparer.quote(element.owner)}"
