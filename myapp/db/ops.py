"""Migration operations on replaceable objects, as plain data (their effect is in `toimpl`).

The built-in plugin `myapp.db.builtins.replaceable` registers them on ``op``:

    op.create_replaceable_object(station_positions)
    op.replace_replaceable_object(station_positions, replaces="c4d5e6f7a8b9.station_positions")
    op.replace_replaceable_object(old_positions, replace_with="c4d5e6f7a8b9.station_positions")  # downgrade
    op.drop_replaceable_object(station_positions)
    op.refresh_materialized_view(daily_observations, concurrently=True)

``"<revision>.<attribute>"`` names an object defined at module level in an
earlier revision file, so a revision never depends on the registry's
present state (the Alembic cookbook's Replaceable Objects recipe).
"""

from __future__ import annotations

from typing import Optional, Union

from alembic.operations import MigrateOperation, Operations

from .exceptions import CommandError
from .replaceable import ReplaceableMatview, ReplaceableObject


def resolve(operations: Operations, reference: str) -> ReplaceableObject:
    """Load the object named ``"<revision>.<attribute>"`` from that revision's module."""
    revision, dot, attribute = reference.partition(".")
    if not dot:
        raise CommandError(f"{reference!r} must name '<revision>.<attribute>'")
    script = operations.get_context().script
    found = script.get_revision(revision)
    obj = getattr(found.module, attribute, None) if found else None
    if not isinstance(obj, ReplaceableObject):
        raise CommandError(
            f"{reference!r} names no replaceable object: revision {revision} must define "
            f"{attribute} at module level"
        )
    return obj


class ReplaceableOp(MigrateOperation):
    def __init__(self, target: ReplaceableObject):
        self.target = target

    def to_diff_tuple(self):
        return (type(self).__name__, self.target.label)


class CreateReplaceableObjectOp(ReplaceableOp):
    """Create a view, function or materialized view (with its indexes and grants)."""

    @classmethod
    def create_replaceable_object(cls, operations, target: ReplaceableObject):
        return operations.invoke(cls(target))

    def reverse(self):
        return DropReplaceableObjectOp(self.target)


class DropReplaceableObjectOp(ReplaceableOp):
    """Drop an object; refused, naming them, while other objects depend on it."""

    @classmethod
    def drop_replaceable_object(cls, operations, target: ReplaceableObject):
        return operations.invoke(cls(target))

    def reverse(self):
        return CreateReplaceableObjectOp(self.target)


class ReplaceReplaceableObjectOp(MigrateOperation):
    """Replace ``old`` by ``new``, keeping dependents, privileges, owner and comment."""

    def __init__(self, new: ReplaceableObject, old: ReplaceableObject):
        self.new, self.old = new, old

    @classmethod
    def replace_replaceable_object(
        cls,
        operations,
        target: ReplaceableObject,
        replaces: Optional[str] = None,
        replace_with: Optional[str] = None,
    ):
        if (replaces is None) == (replace_with is None):
            raise CommandError(
                f"replace_replaceable_object({target.label}) takes exactly one of "
                "replaces= (in an upgrade) or replace_with= (in a downgrade)"
            )
        if replaces is not None:
            return operations.invoke(cls(target, resolve(operations, replaces)))
        return operations.invoke(cls(resolve(operations, replace_with), target))

    def reverse(self):
        return ReplaceReplaceableObjectOp(self.old, self.new)

    def to_diff_tuple(self):
        return ("ReplaceReplaceableObjectOp", self.new.label)


class RefreshMaterializedViewOp(MigrateOperation):
    """REFRESH MATERIALIZED VIEW [CONCURRENTLY]."""

    def __init__(self, schema: Optional[str], name: str, concurrently: bool = False):
        self.schema, self.name, self.concurrently = schema, name, concurrently

    @classmethod
    def refresh_materialized_view(
        cls, operations, target: Union[ReplaceableMatview, str], concurrently: bool = False
    ):
        if isinstance(target, ReplaceableObject):
            schema, name = target.schema, target.name
        else:
            schema, _, name = target.rpartition(".")
        return operations.invoke(cls(schema or None, name, concurrently))
