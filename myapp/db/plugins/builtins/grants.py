"""``op.grant_privileges`` and ``op.revoke_privileges`` on tables, views and functions."""

from dataclasses import dataclass
from typing import Optional, Sequence, Union

from alembic.operations import MigrateOperation

from ... import ddl
from ..hookspecs import hookimpl
from . import register


@dataclass(eq=False)
class _PrivilegesOp(MigrateOperation):
    privileges: Union[str, Sequence[str]]
    name: str
    to: Union[str, Sequence[str]]
    schema: Optional[str] = None
    kind: str = "table"
    arguments: Optional[str] = None


@dataclass(eq=False)
class GrantPrivilegesOp(_PrivilegesOp):
    """Grant privileges on a table, view or function to roles."""

    grant_option: bool = False

    @classmethod
    def grant_privileges(
        cls, operations, privileges, name, to, schema=None, kind="table", arguments=None, grant_option=False
    ):
        """Issue ``GRANT privileges ON name TO roles``, e.g. ``op.grant_privileges("SELECT", "stations", to="reader")``.

        :param privileges: one privilege or a list: SELECT, INSERT, UPDATE, DELETE, ..., EXECUTE, ALL.
        :param name: the table, view or function.
        :param to: one role or a list; ``"PUBLIC"`` means every role.
        :param kind: ``"table"``, ``"view"`` or ``"function"``.
        :param arguments: a function's argument types as SQL text, e.g. ``"integer, text"``,
            to pick one overload; None names the function alone.
        :param grant_option: let the roles grant the privileges on.
        """
        return operations.invoke(cls(privileges, name, to, schema, kind, arguments, grant_option))

    def reverse(self):
        return RevokePrivilegesOp(self.privileges, self.name, self.to, self.schema, self.kind, self.arguments)


@dataclass(eq=False)
class RevokePrivilegesOp(_PrivilegesOp):
    """Revoke privileges on a table, view or function from roles."""

    @classmethod
    def revoke_privileges(cls, operations, privileges, name, to, schema=None, kind="table", arguments=None):
        """Issue ``REVOKE privileges ON name FROM roles``; the arguments are those of `grant_privileges`.

        :param to: the roles to revoke the privileges from.
        """
        return operations.invoke(cls(privileges, name, to, schema, kind, arguments))

    def reverse(self):
        return GrantPrivilegesOp(self.privileges, self.name, self.to, self.schema, self.kind, self.arguments)


def _target(operation) -> dict:
    return dict(schema=operation.schema, kind=operation.kind, arguments=operation.arguments)


def grant_privileges(operations, operation):
    operations.execute(
        ddl.Grant(operation.privileges, operation.name, operation.to, grant_option=operation.grant_option,
                  **_target(operation))
    )


def revoke_privileges(operations, operation):
    operations.execute(ddl.Revoke(operation.privileges, operation.name, operation.to, **_target(operation)))


@hookimpl
def register_operations(operations):
    register(
        operations,
        ("grant_privileges", GrantPrivilegesOp, grant_privileges),
        ("revoke_privileges", RevokePrivilegesOp, revoke_privileges),
    )
