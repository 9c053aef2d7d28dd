"""Tables, columns, indexes and constraints, with the IF [NOT] EXISTS that SQLAlchemy lacks.

Statements SQLAlchemy already compiles with IF [NOT] EXISTS (`CreateSchema`,
`DropSchema`, `CreateTable`, `CreateIndex`) are used from `sqlalchemy.schema`
as they are.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from .base import flag, qualified


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
    """``DROP INDEX [CONCURRENTLY] [IF EXISTS] schema.name`` (an index lives in its table's schema)."""

    def __init__(self, name: str, schema: Optional[str] = None, *, if_exists: bool = False,
                 concurrently: bool = False):
        self.name, self.schema, self.if_exists, self.concurrently = name, schema, if_exists, concurrently


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
        f"DROP TABLE {flag(element.if_exists, 'IF EXISTS ')}"
        f"{qualified(compiler, element.name, element.schema)}{flag(element.cascade, ' CASCADE')}"
    )


@compiles(AddColumn, "postgresql")
def _add_column(element, compiler, **kw):
    table = element.column.table
    return (
        f"ALTER TABLE {qualified(compiler, table.name, table.schema)} "
        f"ADD COLUMN {flag(element.if_not_exists, 'IF NOT EXISTS ')}"
        f"{compiler.get_column_specification(element.column)}"
    )


@compiles(DropColumn, "postgresql")
def _drop_column(element, compiler, **kw):
    if_exists = flag(element.if_exists, "IF EXISTS ")
    return (
        f"ALTER TABLE {if_exists}{qualified(compiler, element.table, element.schema)} "
        f"DROP COLUMN {if_exists}{compiler.preparer.quote(element.name)}"
    )


@compiles(DropIndex, "postgresql")
def _drop_index(element, compiler, **kw):
    return (
        f"DROP INDEX {flag(element.concurrently, 'CONCURRENTLY ')}{flag(element.if_exists, 'IF EXISTS ')}"
        f"{qualified(compiler, element.name, element.schema)}"
    )


@compiles(DropConstraint, "postgresql")
def _drop_constraint(element, compiler, **kw):
    if_exists = flag(element.if_exists, "IF EXISTS ")
    return (
        f"ALTER TABLE {if_exists}{qualified(compiler, element.table, element.schema)} "
        f"DROP CONSTRAINT {if_exists}{compiler.preparer.quote(element.name)}{flag(element.cascade, ' CASCADE')}"
    )
