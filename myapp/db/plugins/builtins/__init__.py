"""myapp's own operations, shipped as plugins through the same hooks as any other.

One module per topic, each listed in `myapp.db.plugins.manager.BUILTINS`: `roles`
(set_role, reset_role), `guards` (the IF [NOT] EXISTS variants), `grants`
(grant_privileges, revoke_privileges) and `replaceable` (views, functions and
materialized views: create, drop, replace, refresh). Every operation is a `MigrateOperation`
holding data, with its effect in a separate function that executes a DDL
construct from `myapp.db.ddl`, so it works online and in offline ``--sql`` mode.
"""


def register(operations, *entries) -> None:
    """Register each ``(name, op class, implementation)`` with Alembic's `Operations`."""
    for name, op_class, implementation in entries:
        operations.register_operation(name)(op_class)
        operations.implementation_for(op_class)(implementation)
