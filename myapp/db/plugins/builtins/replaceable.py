"""The replaceable-object operations: create, drop, replace and refresh (see `myapp.db.replaceable.ops`)."""

from ...replaceable import ops, toimpl
from ..hookspecs import hookimpl
from . import register


@hookimpl
def register_operations(operations):
    register(
        operations,
        ("create_replaceable_object", ops.CreateReplaceableObjectOp, toimpl.create_replaceable_object),
        ("drop_replaceable_object", ops.DropReplaceableObjectOp, toimpl.drop_replaceable_object),
        ("replace_replaceable_object", ops.ReplaceReplaceableObjectOp, toimpl.replace_replaceable_object),
        ("refresh_materialized_view", ops.RefreshMaterializedViewOp, toimpl.refresh_materialized_view),
    )
