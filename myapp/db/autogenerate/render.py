"""Render replaceable-object operations into a frozen revision: both versions defined at module level."""

from __future__ import annotations

import copy
import keyword
import re
from typing import Dict, Sequence

from alembic.autogenerate import renderers

from ..replaceable.ops import CreateReplaceableObjectOp, DropReplaceableObjectOp, ReplaceReplaceableObjectOp


def _slug(name: str) -> str:
    slug = re.sub(r"\W+", "_", name).strip("_").lower() or "obj"
    if slug[0].isdigit() or keyword.iskeyword(slug):
        slug = "obj_" + slug
    return slug


def _objects_of(op) -> list:
    if isinstance(op, ReplaceReplaceableObjectOp):
        return [op.new, *op.dependents, op.old, *op.previous_dependents]
    if isinstance(op, (CreateReplaceableObjectOp, DropReplaceableObjectOp)):
        return [op.target]
    return []  # Alembic's own operations


def _unqualified(obj):
    """The object as the revision defines it: without the default schema the comparison read it from."""
    if not getattr(obj, "unqualified", False):
        return obj
    bare = copy.copy(obj)
    bare.schema = None
    return bare


def prepare(template_args: dict, upgrade: Sequence, downgrade: Sequence) -> None:
    """Name every object the revision's operations use; put their definitions in ``template_args``.

    New versions are named after the object, previous ones ``previous_<name>``;
    the revision's module defines them all, so later revisions can name them
    as ``"<revision>.<attribute>"``. The names are kept on the operations for
    the renderers below.
    """
    ours = [op for op in (*upgrade, *downgrade) if _objects_of(op)]
    new_ids = set()
    for op in upgrade:
        if isinstance(op, ReplaceReplaceableObjectOp):
            new_ids.update(id(o) for o in (op.new, *op.dependents))
        elif isinstance(op, CreateReplaceableObjectOp):
            new_ids.add(id(op.target))
    names: Dict[int, str] = {}
    used = set()
    definitions = []
    for op in ours:
        op.names = names
        for obj in _objects_of(op):
            if id(obj) in names:
                continue
            base = _slug(obj.name) if id(obj) in new_ids else f"previous_{_slug(obj.name)}"
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            names[id(obj)] = name
            used.add(name)
            definitions.append(f"{name} = {_unqualified(obj).render()}")
    template_args["objects"] = "\n\n".join(definitions)


def _import(autogen_context, *objects) -> None:
    """Have the revision import the classes that build ``objects``."""
    import myapp.db

    for obj in objects:
        classes = [type(obj)] + [type(ix) for ix in getattr(obj, "indexes", ())]
        for cls in classes:
            module = "myapp.db" if getattr(myapp.db, cls.__name__, None) is cls else cls.__module__
            autogen_context.imports.add(f"from {module} import {cls.__name__}")


@renderers.dispatch_for(CreateReplaceableObjectOp)
def _render_create(autogen_context, op):
    _import(autogen_context, op.target)
    return f"op.create_replaceable_object({op.names[id(op.target)]})"


@renderers.dispatch_for(DropReplaceableObjectOp)
def _render_drop(autogen_context, op):
    _import(autogen_context, op.target)
    return f"op.drop_replaceable_object({op.names[id(op.target)]})"


@renderers.dispatch_for(ReplaceReplaceableObjectOp)
def _render_replace(autogen_context, op):
    _import(autogen_context, *_objects_of(op))
    name = op.names.__getitem__
    extra = ""
    if op.dependents:
        extra = ", dependents=[" + ", ".join(name(id(d)) for d in op.dependents) + "]"
    return f"op.replace_replaceable_object({name(id(op.new))}, replaces={name(id(op.old))}{extra})"
