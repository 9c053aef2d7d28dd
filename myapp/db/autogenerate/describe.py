"""One readable line per autogenerate difference, as ``--check`` lists them."""

from __future__ import annotations


def describe_diff(diff) -> str:
    """One readable line for an Alembic autogenerate difference."""
    if isinstance(diff, list):  # modify_* come as a list of tuples for one column
        return "; ".join(describe_diff(d) for d in diff)
    kind, *args = diff
    if kind in ("add_table", "remove_table"):
        return f"{kind.replace('_', ' ')} {args[0].fullname}"
    if kind in ("add_column", "remove_column"):
        schema, table, column = args
        return f"{kind.replace('_', ' ')} {table}.{column.name}"
    if kind in ("add_index", "remove_index"):
        return f"{kind.replace('_', ' ')} {args[0].name} on {args[0].table.fullname}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        c = args[0]
        return f"{kind.replace('_', ' ')} {c.name or type(c).__name__} on {c.table.fullname}"
    if kind.endswith("_replaceable_object"):
        return f"{kind[: -len('_replaceable_object')]} {args[0]}"
    if kind.startswith("modify_"):
        schema, table, column, _kw, old, new = args
        return f"change {kind[len('modify_'):]} of {table}.{column}: {old!r} -> {new!r}"
    return repr(diff)
