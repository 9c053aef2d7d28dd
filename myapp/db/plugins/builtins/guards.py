"""IF [NOT] EXISTS variants of Alembic's schema operations, safe to run twice.

``op.create_schema_if_not_exists``, ``op.drop_schema_if_exists``,
``op.create_table_if_not_exists``, ``op.drop_table_if_exists``,
``op.add_column_if_not_exists``, ``op.drop_column_if_exists``,
``op.create_index_if_not_exists``, ``op.drop_index_if_exists`` and
``op.drop_constraint_if_exists``.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

from alembic.operations import MigrateOperation
from sqlalchemy import Column
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable, DropSchema

from ... import ddl
from ..hookspecs import hookimpl
from . import register


@dataclass(eq=False)
class CreateSchemaIfNotExistsOp(MigrateOperation):
    """Create a schema unless one of that name exists."""

    schema_name: str

    @classmethod
    def create_schema_if_not_exists(cls, operations, schema_name):
        """Issue ``CREATE SCHEMA IF NOT EXISTS schema_name``."""
        return operations.invoke(cls(schema_name))

    def reverse(self):
        return DropSchemaIfExistsOp(self.schema_name)


@dataclass(eq=False)
class DropSchemaIfExistsOp(MigrateOperation):
    """Drop a schema if it exists."""

    schema_name: str
    cascade: bool = False

    @classmethod
    def drop_schema_if_exists(cls, operations, schema_name, cascade=False):
        """Issue ``DROP SCHEMA IF EXISTS schema_name [CASCADE]``.

        :param cascade: also drop every object in the schema.
        """
        return operations.invoke(cls(schema_name, cascade))

    def reverse(self):
        return CreateSchemaIfNotExistsOp(self.schema_name)


@dataclass(eq=False)
class CreateTableIfNotExistsOp(MigrateOperation):
    """Create a table (and its indexes) unless a table of that name exists."""

    table_name: str
    columns: Sequence[Any]
    schema: Optional[str] = None
    kw: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create_table_if_not_exists(cls, operations, table_name, *columns, schema=None, **kw):
        """Issue ``CREATE TABLE IF NOT EXISTS``, as ``op.create_table`` takes it; return the `Table`.

        Indexes declared on the columns are created with IF NOT EXISTS too.
        """
        return operations.invoke(cls(table_name, columns, schema, kw))

    def reverse(self):
        return DropTableIfExistsOp(self.table_name, self.schema)


@dataclass(eq=False)
class DropTableIfExistsOp(MigrateOperation):
    """Drop a table if it exists."""

    table_name: str
    schema: Optional[str] = None
    cascade: bool = False

    @classmethod
    def drop_table_if_exists(cls, operations, table_name, schema=None, cascade=False):
        """Issue ``DROP TABLE IF EXISTS table_name [CASCADE]``.

        :param cascade: also drop the views and foreign keys that depend on the table.
        """
        return operations.invoke(cls(table_name, schema, cascade))


@dataclass(eq=False)
class AddColumnIfNotExistsOp(MigrateOperation):
    """Add a column unless the table has one of that name."""

    table_name: str
    column: Column
    schema: Optional[str] = None

    @classmethod
    def add_column_if_not_exists(cls, operations, table_name, column, schema=None):
        """Issue ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``.

        Only the column's own definition (type, nullability, server default)
        is added: create its indexes and constraints with their own operations.
        """
        return operations.invoke(cls(table_name, column, schema))

    def reverse(self):
        return DropColumnIfExistsOp(self.table_name, self.column.name, self.schema)


@dataclass(eq=False)
class DropColumnIfExistsOp(MigrateOperation):
    """Drop a column if the table has it."""

    table_name: str
    column_name: str
    schema: Optional[str] = None

    @classmethod
    def drop_column_if_exists(cls, operations, table_name, column_name, schema=None):
        """Issue ``ALTER TABLE IF EXISTS ... DROP COLUMN IF EXISTS column_name``."""
        return operations.invoke(cls(table_name, column_name, schema))


@dataclass(eq=False)
class CreateIndexIfNotExistsOp(MigrateOperation):
    """Create an index unless one of that name exists."""

    index_name: str
    table_name: str
    columns: Sequence[Any]
    schema: Optional[str] = None
    unique: bool = False
    kw: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create_index_if_not_exists(cls, operations, index_name, table_name, columns, schema=None, unique=False, **kw):
        """Issue ``CREATE [UNIQUE] INDEX IF NOT EXISTS``, as ``op.create_index`` takes it."""
        return operations.invoke(cls(index_name, table_name, columns, schema, unique, kw))

    def reverse(self):
        return DropIndexIfExistsOp(self.index_name, self.schema)


@dataclass(eq=False)
class DropIndexIfExistsOp(MigrateOperation):
    """Drop an index if it exists."""

    index_name: str
    schema: Optional[str] = None

    @classmethod
    def drop_index_if_exists(cls, operations, index_name, schema=None):
        """Issue ``DROP INDEX IF EXISTS index_name``.

        :param schema: the schema of the index's table.
        """
        return operations.invoke(cls(index_name, schema))


@dataclass(eq=False)
class DropConstraintIfExistsOp(MigrateOperation):
    """Drop a table's constraint if it exists."""

    constraint_name: str
    table_name: str
    schema: Optional[str] = None
    cascade: bool = False

    @classmethod
    def drop_constraint_if_exists(cls, operations, constraint_name, table_name, schema=None, cascade=False):
        """Issue ``ALTER TABLE IF EXISTS table_name DROP CONSTRAINT IF EXISTS constraint_name [CASCADE]``."""
        return operations.invoke(cls(constraint_name, table_name, schema, cascade))


def create_schema_if_not_exists(operations, operation):
    operations.execute(CreateSchema(operation.schema_name, if_not_exists=True))


def drop_schema_if_exists(operations, operation):
    operations.execute(DropSchema(operation.schema_name, cascade=operation.cascade, if_exists=True))


def create_table_if_not_exists(operations, operation):
    table = operations.schema_obj.table(
        operation.table_name, *operation.columns, schema=operation.schema, **operation.kw
    )
    operations.execute(CreateTable(table, if_not_exists=True))
    for index in sorted(table.indexes, key=lambda index: index.name or ""):
        operations.execute(CreateIndex(index, if_not_exists=True))
    return table


def drop_table_if_exists(operations, operation):
    operations.execute(
        ddl.DropTable(operation.table_name, operation.schema, if_exists=True, cascade=operation.cascade)
    )


def add_column_if_not_exists(operations, operation):
    table = operations.schema_obj.table(operation.table_name, operation.column, schema=operation.schema)
    operations.execute(ddl.AddColumn(table.c[operation.column.name], if_not_exists=True))


def drop_column_if_exists(operations, operation):
    operations.execute(
        ddl.DropColumn(operation.table_name, operation.column_name, operation.schema, if_exists=True)
    )


def create_index_if_not_exists(operations, operation):
    index = operations.schema_obj.index(
        operation.index_name, operation.table_name, operation.columns,
        schema=operation.schema, unique=operation.unique, **operation.kw,
    )
    operations.execute(CreateIndex(index, if_not_exists=True))


def drop_index_if_exists(operations, operation):
    operations.execute(ddl.DropIndex(operation.index_name, operation.schema, if_exists=True))


def drop_constraint_if_exists(operations, operation):
    operations.execute(
        ddl.DropConstraint(
            operation.table_name, operation.constraint_name, operation.schema,
            if_exists=True, cascade=operation.cascade,
        )
    )


@hookimpl
def register_operations(operations):
    register(
        operations,
        ("create_schema_if_not_exists", CreateSchemaIfNotExistsOp, create_schema_if_not_exists),
        ("drop_schema_if_exists", DropSchemaIfExistsOp, drop_schema_if_exists),
        ("create_table_if_not_exists", CreateTableIfNotExistsOp, create_table_if_not_exists),
        ("drop_table_if_exists", DropTableIfExistsOp, drop_table_if_exists),
        ("add_column_if_not_exists", AddColumnIfNotExistsOp, add_column_if_not_exists),
        ("drop_column_if_exists", DropColumnIfExistsOp, drop_column_if_exists),
        ("create_index_if_not_exists", CreateIndexIfNotExistsOp, create_index_if_not_exists),
        ("drop_index_if_exists", DropIndexIfExistsOp, drop_index_if_exists),
        ("drop_constraint_if_exists", DropConstraintIfExistsOp, drop_constraint_if_exists),
    )
