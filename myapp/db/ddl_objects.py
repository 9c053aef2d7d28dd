"""DDL constructs for views, functions and materialized views, compiled for PostgreSQL.

Names are quoted by the dialect's `IdentifierPreparer`; definitions (SELECT
text, function argument lists and bodies, catalog definitions read back from
PostgreSQL) are SQL text by design and pass through unchanged.
"""

from __future__ import annotations

from typing import Optional, Sequence

from sqlalchemy import Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.ddl import ExecutableDDLElement

PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
     "EXECUTE", "USAGE", "CREATE", "ALL", "ALL PRIVILEGES", "MAINTAIN"}
)

# The keyword that names each kind of object in DDL.
KEYWORDS = {
    "view": "VIEW",
    "materialized view": "MATERIALIZED VIEW",
    "function": "FUNCTION",
    "table": "TABLE",
}


def sql_text(compiler, text: str) -> str:
    """SQL text as the driver must receive it: '%' doubled for format-style drivers (psycopg2)."""
    text = text.strip().rstrip(";")
    return text.replace("%", "%%") if compiler.preparer._double_percents else text


def qualified(compiler, schema: Optional[str], name: str) -> str:
    """``schema.name``, each part quoted only where PostgreSQL needs it."""
    quoted = compiler.preparer.quote(name)
    return f"{compiler.preparer.quote_schema(schema)}.{quoted}" if schema else quoted


class ObjectDDL(ExecutableDDLElement):
    """Base for statements about one named object; carries names, not SQL."""

    inherit_cache = False

    def __init__(self, kind: str, schema: Optional[str], name: str, arguments: Optional[str] = None):
        self.kind, self.schema, self.name, self.arguments = kind, schema, name, arguments


def _name(element, compiler) -> str:
    name = qualified(compiler, element.schema, element.name)
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
    def __init__(self, kind, schema, name, arguments=None, *, if_exists=False):
        super().__init__(kind, schema, name, arguments)
        self.if_exists = if_exists


@compiles(DropObject, "postgresql")
def _drop(element, compiler, **kw):
    exists = "IF EXISTS " if element.if_exists else ""
    return f"DROP {KEYWORDS[element.kind]} {exists}{_name(element, compiler)}"


class RefreshMaterializedView(ObjectDDL):
    def __init__(self, schema, name, *, concurrently=False):
        super().__init__("materialized view", schema, name)
        self.concurrently = concurrently


@compiles(RefreshMaterializedView, "postgresql")
def _refresh(element, compiler, **kw):
    how = "CONCURRENTLY " if element.concurrently else ""
    return f"REFRESH MATERIALIZED VIEW {how}{qualified(compiler, element.schema, element.name)}"


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
        f"ON {qualified(compiler, element.schema, element.name)} ({columns})"
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


class Privileges(ObjectDDL):
    """GRANT (or REVOKE) privileges ON an object TO (FROM) a role or PUBLIC."""

    def __init__(self, kind, schema, name, privileges: Sequence[str], grantee: str, *,
                 revoke=False, grant_option=False, arguments=None):
        super().__init__(kind, schema, name, arguments)
        privileges = [p.strip().upper() for p in privileges]
        unknown = [p for p in privileges if p not in PRIVILEGES]
        if unknown:
            raise ValueError(f"unknown privilege(s) {', '.join(unknown)}")
        self.privileges, self.grantee = privileges, grantee
        self.revoke, self.grant_option = revoke, grant_option


@compiles(Privileges, "postgresql")
def _privileges(element, compiler, **kw):
    # GRANT has no VIEW keyword: views and materialized views are granted on as tables.
    keyword = "FUNCTION" if element.kind == "function" else "TABLE"
    target = f"{keyword} {_name(element, compiler)}"
    grantee = "PUBLIC" if element.grantee.upper() == "PUBLIC" else compiler.preparer.quote(element.grantee)
    privileges = ", ".join(element.privileges)
    if element.revoke:
        return f"REVOKE {privileges} ON {target} FROM {grantee}"
    option = " WITH GRANT OPTION" if element.grant_option else ""
    return f"GRANT {privileges} ON {target} TO {grantee}{option}"


class CatalogDefinition(ExecutableDDLElement):
    """A complete statement PostgreSQL itself produced (pg_get_functiondef, pg_get_indexdef)."""

    inherit_cache = False

    def __init__(self, statement: str):
        self.statement = statement


@compiles(CatalogDefinition, "postgresql")
def _catalog(element, compiler, **kw):
    return sql_text(compiler, element.statement)


class Comment(ExecutableDDLElement):
    """An SQL comment in offline output, e.g. to say what could not be done without a database."""

    inherit_cache = False

    def __init__(self, text: str):
        self.text = text


@compiles(Comment, "postgresql")
def _sql_comment(element, compiler, **kw):
    return "\n".join(f"-- {line}" for line in element.text.splitlines())
