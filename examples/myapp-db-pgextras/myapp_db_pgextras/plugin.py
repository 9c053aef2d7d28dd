"""The plugin: four Alembic operations, registered through myapp.db's hook.

The operation classes and implementations are exactly what Alembic's
"Operation Plugins" documentation describes; only their registration moves
into the ``register_operations`` hook.
"""

from alembic.operations import MigrateOperation
from sqlalchemy import Sequence
from sqlalchemy.schema import CreateSequence, DropSequence

from myapp.db import hookimpl

from .ddl import CreateExtension, DropExtension


class CreateSequenceOp(MigrateOperation):
    """Create a SEQUENCE."""

    def __init__(self, sequence_name, schema=None, start=None, increment=None):
        self.sequence_name, self.schema = sequence_name, schema
        self.start, self.increment = start, increment

    @classmethod
    def create_sequence(cls, operations, sequence_name, schema=None, start=None, increment=None):
        """Issue ``CREATE SEQUENCE``."""
        return operations.invoke(cls(sequence_name, schema, start, increment))

    def reverse(self):
        return DropSequenceOp(self.sequence_name, schema=self.schema)


class DropSequenceOp(MigrateOperation):
    """Drop a SEQUENCE."""

    def __init__(self, sequence_name, schema=None):
        self.sequence_name, self.schema = sequence_name, schema

    @classmethod
    def drop_sequence(cls, operations, sequence_name, schema=None):
        """Issue ``DROP SEQUENCE``."""
        return operations.invoke(cls(sequence_name, schema))

    def reverse(self):
        return CreateSequenceOp(self.sequence_name, schema=self.schema)


class CreateExtensionIfNotExistsOp(MigrateOperation):
    """Install a PostgreSQL extension unless it is installed."""

    def __init__(self, name, schema=None, version=None):
        self.name, self.schema, self.version = name, schema, version

    @classmethod
    def create_extension_if_not_exists(cls, operations, name, schema=None, version=None):
        """Issue ``CREATE EXTENSION IF NOT EXISTS``."""
        return operations.invoke(cls(name, schema, version))

    def reverse(self):
        return DropExtensionIfExistsOp(self.name)


class DropExtensionIfExistsOp(MigrateOperation):
    """Remove a PostgreSQL extension if it is installed."""

    def __init__(self, name, cascade=False):
        self.name, self.cascade = name, cascade

    @classmethod
    def drop_extension_if_exists(cls, operations, name, cascade=False):
        """Issue ``DROP EXTENSION IF EXISTS``."""
        return operations.invoke(cls(name, cascade))

    def reverse(self):
        return CreateExtensionIfNotExistsOp(self.name)


def create_sequence(operations, operation):
    sequence = Sequence(operation.sequence_name, schema=operation.schema,
                        start=operation.start, increment=operation.increment)
    operations.execute(CreateSequence(sequence))


def drop_sequence(operations, operation):
    operations.execute(DropSequence(Sequence(operation.sequence_name, schema=operation.schema)))


def create_extension_if_not_exists(operations, operation):
    operations.execute(CreateExtension(operation.name, operation.schema, operation.version))


def drop_extension_if_exists(operations, operation):
    operations.execute(DropExtension(operation.name, operation.cascade))


@hookimpl
def register_operations(operations):
    operations.register_operation("create_sequence")(CreateSequenceOp)
    operations.implementation_for(CreateSequenceOp)(create_sequence)
    operations.register_operation("drop_sequence")(DropSequenceOp)
    operations.implementation_for(DropSequenceOp)(drop_sequence)
    operations.register_operation("create_extension_if_not_exists")(CreateExtensionIfNotExistsOp)
    operations.implementation_for(CreateExtensionIfNotExistsOp)(create_extension_if_not_exists)
    operations.register_operation("drop_extension_if_exists")(DropExtensionIfExistsOp)
    operations.implementation_for(DropExtensionIfExistsOp)(drop_extension_if_exists)
