"""DDL constructs for myapp's operations: the only module that assembles SQL.

Each construct carries names only and is rendered by a ``@compiles(...,
"postgresql")`` visitor: every name goes through the dialect's
`IdentifierPreparer` (quoted when it must be, embedded quotes doubled), and
what the caller hands over as SQL text (view and function definitions, a function's argument types) is
emitted unchanged. Statements SQLAlchemy already compiles with IF [NOT]
EXISTS (`CreateSchema`, `DropSchema`, `CreateTable`, `CreateIndex`) are used
from `sqlalchemy.schema` as they are.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple, Union

from sqlalchemy import Column, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

#: Privileges GRANT and REVOKE accept; they are keywords, so only these are emitted.
PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
     "MAINTAIN", "EXECUTE", "USAGE", "ALL", "ALL PRIVILEGES"}
)
#: The object kinds GRANT and REVOKE handle here, and their keyword (a view is a TABLE to GRANT).
OBJECT_KINDS = {"table": "TABLE", "view": "TABLE", "materialized view": "TABLE", "function": "FUNCTION"}


def _qualified(compiler, name: str, schema: Optional[str]) -> str:
    preparer = compiler.preparer
    return (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(name)


def sql_text(compiler, text: str) -> str:
    """SQL text as the driver must receive it: '%' doubled for format-style drivers (psycopg2)."""
    text = text.strip().rstrip(";")
    return text.replace("%", "%%") if compiler.preparer._double_percents else text


def _flag(on: bool, text: str) -> str:
    return text if on else ""


# -- roles -------------------------------------------------------------------


class SetRole(DDLElement):
    """``SET ROLE name``: act as ``name`` for the rest of the session (or until RESET ROLE)."""

    def __init__(self, name: str):
        self.name = name


class ResetRole(DDLElement):
    """``RESET ROLE``: act as the session's own user again."""


@compiles(SetRole, "postgresql")
def _set_role(element, compiler, **kw):
    return f"SET ROLE {compiler.preparer.quote(element.name)}"


@compiles(ResetRole, "postgresql")
def _reset_role(element, compiler, **kw):
    return "RESET ROLE"


# -- tables, columns, indexes, constraints -----------------------------------


class DropTable(DDLElement):
    """``DROP TABLE [IF EXISTS] schema.name [CASCADE]``."""

    def __init__(self, name: str, schema: Optional[str] = None, *, if_exists: bool = False, cascade: bool = False):
        self.name, self.schema, self.if_exists, self.cascade = name, schema, if_exists, cascade


class AddColumn(DDLElement):
    """``ALTER TABLE ... ADD COLUMN [IF NOT EXISTS] <column>``; ``column`` belongs to a `Table`."""

    def __init__(self, column: Column, *, if_not_exists: bool = False):
        self.column, self.if_not_exists = column, if_not_exists


class DropColumn(DDLElement):
    """``ALTER TABLE [IF EXISTS] ... DROP COLUMN [IF EXISTS] name``: if_exists tolerates a missing table too."""

    def __init__(self, table: str, name: str, schema: Optional[str] = None, *, if_exists: bool = False):
        self.table, self.name, self.schema, self.if_exists = table, name, schema, if_exists


class DropIndex(DDLElement):
    """``DROP INDEX [IF EXISTS] schema.name`` (an index lives in its table's schema)."""

    def __init__(self, name: str, schema: Optional[str] = None, *, if_exists: bool = False):
        self.name, self.schema, self.if_exists = name, schema, if_exists


class DropConstraint(DDLElement):
    """``ALTER TABLE [IF EXISTS] ... DROP CONSTRAINT [IF EXISTS] name [CASCADE]``; as `DropColumn`."""

    def __init__(
        self, table: str, name: str, schema: Optional[str] = None, *,
        if_exists: bool = False, cascade: bool = False,
    ):
        self.table, self.name, self.schema = table, name, schema
        self.if_exists, self.cascade = if_exists, cascade


@compiles(DropTable, "postgresql")
def _drop_table(element, compiler, **kw):
    return (
        f"DROP TABLE {_flag(element.if_exists, 'IF EXISTS ')}"
        f"{_qualified(compiler, element.name, element.schema)}{_flag(element.cascade, ' CASCADE')}"
    )


@compiles(AddColumn, "postgresql")
def _add_column(element, compiler, **kw):
    table = element.column.table
    return (
        f"ALTER TABLE {_qualified(compiler, table.name, table.schema)} "
        f"ADD COLUMN {_flag(element.if_not_exists, 'IF NOT EXISTS ')}"
        f"{compiler.get_column_specification(element.column)}"
    )


@compiles(DropColumn, "postgresql")
def _drop_column(element, compiler, **kw):
    if_exists = _flag(element.if_exists, "IF EXISTS ")
    return (
        f"ALTER TABLE {if_exists}{_qualified(compiler, element.table, element.schema)} "
        f"DROP COLUMN {if_exists}{compiler.preparer.quote(element.name)}"
    )


@compiles(DropIndex, "postgresql")
def _drop_index(element, compiler, **kw):
    return f"DROP INDEX {_flag(element.if_exists, 'IF EXISTS ')}{_qualified(compiler, element.name, element.schema)}"


@compiles(DropConstraint, "postgresql")
def _drop_constraint(element, compiler, **kw):
    if_exists = _flag(element.if_exists, "IF EXISTS ")
    return (
        f"ALTER TABLE {if_exists}{_qualified(compiler, element.table, element.schema)} "
        f"DROP CONSTRAINT {if_exists}{compiler.preparer.quote(element.name)}{_flag(element.cascade, ' CASCADE')}"
    )


# -- privileges --------------------------------------------------------------


class _Privileges(DDLElement):
    def __init__(
        self,
        privileges: Union[str, Iterable[str]],
        name: str,
        roles: Union[str, Iterable[str]],
        *,
        schema: Optional[str] = None,
        kind: str = "table",
        arguments: Optional[str] = None,
        grant_option: bool = False,
    ):
        self.privileges = _upper_list(privileges)
        unknown = [p for p in self.privileges if p not in PRIVILEGES]
        if unknown or not self.privileges:
            raise ValueError(f"unknown privilege(s) {unknown}: use some of {sorted(PRIVILEGES)}")
        if kind not in OBJECT_KINDS:
            raise ValueError(f"unknown object kind {kind!r}: use one of {sorted(OBJECT_KINDS)}")
        if arguments is not None and kind != "function":
            raise ValueError("arguments only go with kind='function'")
        self.roles = [roles] if isinstance(roles, str) else list(roles)
        if not self.roles:
            raise ValueError("name at least one role to grant to or revoke from")
        self.name, self.schema, self.kind = name, schema, kind
        self.arguments, self.grant_option = arguments, grant_option


class Grant(_Privileges):
    """``GRANT privileges ON {TABLE|FUNCTION} name TO roles [WITH GRANT OPTION]``; ``PUBLIC`` is the keyword."""


class Revoke(_Privileges):
    """``REVOKE privileges ON {TABLE|FUNCTION} name FROM roles``."""


def _upper_list(value: Union[str, Iterable[str]]) -> List[str]:
    items = [value] if isinstance(value, str) else list(value)
    return [" ".join(item.upper().split()) for item in items]


def _privileges_clause(element, compiler) -> Tuple[str, str]:
    target = _qualified(compiler, element.name, element.schema)
    if element.arguments is not None:
        target += f"({element.arguments})"  # argument types are SQL text, emitted as given
    roles = ", ".join(
        "PUBLIC" if role.upper() == "PUBLIC" else compiler.preparer.quote(role) for role in element.roles
    )
    return f"{', '.join(element.privileges)} ON {OBJECT_KINDS[element.kind]} {target}", roles


@compiles(Grant, "postgresql")
def _grant(element, compiler, **kw):
    what, roles = _privileges_clause(element, compiler)
    return f"GRANT {what} TO {roles}{_flag(element.grant_option, ' WITH GRANT OPTION')}"


@compiles(Revoke, "postgresql")
def _revoke(element, compiler, **kw):
    what, roles = _privileges_clause(element, compiler)
    return f"REVOKE {what} FROM {roles}"


# -- views, functions and materialized views (replaceable objects) -----------

# The keyword that names each kind of object in DDL.
KEYWORDS = {
    "view": "VIEW",
    "materialized view": "MATERIALIZED VIEW",
    "function": "FUNCTION",
    "table": "TABLE",
}


class ObjectDDL(DDLElement):
    """Base for statements about one named object; carries names, not SQL."""

    inherit_cache = False

    def __init__(self, kind: str, schema: Optional[str], name: str, arguments: Optional[str] = None):
        self.kind, self.schema, self.name, self.arguments = kind, schema, name, arguments


def _name(element, compiler) -> str:
    name = _qualified(compiler, element.name, element.schema)
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
    return f"DROP {KEYWORDS[element.kind]} {exists}{_name(element, compiler)}{_flag(element.cascade, ' CASCADE')}"


class RefreshMaterializedView(ObjectDDL):
    def __init__(self, schema, name, *, concurrently=False):
        super().__init__("materialized view", schema, name)
        self.concurrently = concurrently


@compiles(RefreshMaterializedView, "postgresql")
def _refresh(element, compiler, **kw):
    how = "CONCURRENTLY " if element.concurrently else ""
    return f"REFRESH MATERIALIZED VIEW {how}{_qualified(compiler, element.name, element.schema)}"


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
        f"ON {_qualified(compiler, element.name, element.schema)} ({columns})"
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


class CatalogDefinition(DDLElement):
    """A complete statement PostgreSQL itself produced (pg_get_functiondef, pg_get_indexdef)."""

    inherit_cache = False

    def __init__(self, statement: str):
        self.statement = statement


@compiles(CatalogDefinition, "postgresql")
def _catalog(element, compiler, **kw):
    return sql_text(compiler, element.statement)


class Comment(DDLElement):
    """An SQL comment in offline output, e.g. to say what could not be done without a database."""

    inherit_cache = False

    def __init__(self, text: str):
        self.text = text


@compiles(Comment, "postgresql")
def _sql_comment(element, compiler, **kw):
    return "\n".join(f"-- {line}" for line in element.text.splitlines())
