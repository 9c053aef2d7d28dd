"""``op.set_role(name)`` and ``op.reset_role()``; a role set in a revision ends with it.

After a revision succeeds, a role it set and did not reset is reset before
its version row is written. A revision that fails is rolled back, and
PostgreSQL undoes its SET ROLE with the transaction.
"""

import weakref
from dataclasses import dataclass

from alembic.operations import MigrateOperation

from ... import ddl
from ..hookspecs import hookimpl
from . import register

# Migration contexts in which set_role ran and reset_role has not yet.
_role_set = weakref.WeakSet()


@dataclass(eq=False)
class SetRoleOp(MigrateOperation):
    """Act as another role until `ResetRoleOp` or the end of the revision."""

    name: str

    @classmethod
    def set_role(cls, operations, name):
        """Issue ``SET ROLE name``; the role is reset when the revision ends.

        :param name: the role to act as; the session user must be a member of it.
        """
        return operations.invoke(cls(name))


@dataclass(eq=False)
class ResetRoleOp(MigrateOperation):
    """Act as the session's own user again."""

    @classmethod
    def reset_role(cls, operations):
        """Issue ``RESET ROLE``."""
        return operations.invoke(cls())


def set_role(operations, operation):
    operations.execute(ddl.SetRole(operation.name))
    _role_set.add(operations.migration_context)


def reset_role(operations, operation):
    operations.execute(ddl.ResetRole())
    _role_set.discard(operations.migration_context)


@hookimpl
def register_operations(operations):
    register(operations, ("set_role", SetRoleOp, set_role), ("reset_role", ResetRoleOp, reset_role))


@hookimpl
def after_revision(operations):
    if operations.migration_context in _role_set:
        operations.reset_role()
