"""DDL constructs for myapp's operations: the only module that assembles SQL.

Each construct carries names only and is rendered by a ``@compiles(...,
"postgresql")`` visitor: every name goes through the dialect's
`IdentifierPreparer` (quoted when it must be, embedded quotes doubled), and
what the caller hands over as SQL text (a function's argument types) is
emitted unchanged. Statements SQLAlchemy already compiles with IF [NOT]
EXISTS (`CreateSchema`, `DropSchema`, `CreateTable`, `CreateIndex`) are used
from `sqlalchemy.schema` as they are.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple, Union

from sqlalchemy import Column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

#: Privileges GRANT and REVOKE accept; they are keywords, so only these are emitted.
PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
     "MAINTAIN", "EXECUTE", "USAGE", "ALL", "ALL PRIVILEGES"}
)
#: The object kinds GRANT and REVOKE handle here, and their keyword (a view is a TABLE to GRANT).
OBJECT_KINDS = {"table": "TABLE", "view": "TABLE", "function": "FUNCTION"}


def _qualified(compiler, name: str, schema: Optional[str]) -> str:
    preparer = compiler.preparer
    return (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(name)


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
