"""Migration operations on replaceable objects, as plain data (their effect is in `toimpl`).

The built-in plugin `myapp.db.plugins.builtins.replaceable` registers them on ``op``:

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

from typing import Optional, Sequence, Union

from alembic.operations import MigrateOperation, Operations

from ..errors import UsageError
from .base import ReplaceableObject
from .matview import ReplaceableMatview


def resolve(operations: Operations, reference: Union[str, ReplaceableObject]) -> ReplaceableObject:
    """Load the object named ``"<revision>.<attribute>"`` from that revision's module.

    An object passed instead of a name is used as it is (a generated revision
    defines both versions itself).
    """
    if isinstance(reference, ReplaceableObject):
        return reference
    revision, dot, attribute = reference.partition(".")
    if not dot:
        raise UsageError(f"{reference!r} must name '<revision>.<attribute>'")
    script = operations.get_context().script
    found = script.get_revision(revision)
    obj = getattr(found.module, attribute, None) if found else None
    if not isinstance(obj, ReplaceableObject):
        raise UsageError(
            f"{reference!r} names no replaceable object: revision {revision} must define "
            f"{attribute} at module level"
        )
    return obj


class ReplaceableOp(MigrateOperation):
    def __init__(self, target: ReplaceableObject):
        self.target = target

    def to_diff_tuple(self):
        return (self.action, self.target.label)


class CreateReplaceableObjectOp(ReplaceableOp):
    """Create a view, function or materialized view (with its indexes and grants)."""

    action = "create_replaceable_object"

    @classmethod
    def create_replaceable_object(cls, operations, target: ReplaceableObject):
        return operations.invoke(cls(target))

    def reverse(self):
        return DropReplaceableObjectOp(self.target)


class DropReplaceableObjectOp(ReplaceableOp):
    """Drop an object; refused, naming them, while other objects depend on it."""

    action = "drop_replaceable_object"

    @classmethod
    def drop_replaceable_object(cls, operations, target: ReplaceableObject):
        return operations.invoke(cls(target))

    def reverse(self):
        return CreateReplaceableObjectOp(self.target)


class ReplaceReplaceableObjectOp(MigrateOperation):
    """Replace ``old`` by ``new``, keeping dependents, privileges, owner and comment.

    ``dependents`` are new versions of objects that depend on ``old`` and
    change in the same step: they are created in place of their catalog
    definitions when the dependents are put back.
    """

    def __init__(self, new: ReplaceableObject, old: ReplaceableObject,
                 dependents: Sequence[ReplaceableObject] = (),
                 previous_dependents: Sequence[ReplaceableObject] = ()):
        self.new, self.old = new, old
        self.dependents, self.previous_dependents = tuple(dependents), tuple(previous_dependents)

    @classmethod
    def replace_replaceable_object(
        cls,
        operations,
        target: ReplaceableObject,
        replaces: Union[str, ReplaceableObject, None] = None,
        replace_with: Union[str, ReplaceableObject, None] = None,
        dependents: Sequence[ReplaceableObject] = (),
    ):
        if (replaces is None) == (replace_with is None):
            raise UsageError(
                f"replace_replaceable_object({target.label}) takes exactly one of "
                "replaces= (in an upgrade) or replace_with= (in a downgrade)"
            )
        if replaces is not None:
            return operations.invoke(cls(target, resolve(operations, replaces), dependents))
        return operations.invoke(cls(resolve(operations, replace_with), target, dependents))

    def reverse(self):
        return ReplaceReplaceableObjectOp(self.old, self.new, self.previous_dependents, self.dependents)

    def to_diff_tuple(self):
        return ("replace_replaceable_object", self.new.label)


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
