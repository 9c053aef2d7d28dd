"""What the checks compare two databases by, and the short diff a failure shows.

`schema` is the one place that says what "the same schema" means (today the
catalog snapshot of `myapp.db.catalog.snapshot`: relations, columns in order,
indexes, constraints, view and function definitions, owners, privileges and
comments); a pg_dump-level comparison would replace it here and nowhere else.
"""

from __future__ import annotations

import difflib
from typing import Dict, List, Sequence, Tuple

Schema = Dict[str, List[Tuple]]

#: The version table and the framework's records outlive a downgrade to base: no part of "the schema".
VERSION_TABLES = ("alembic_version", "alembic_version_pkc")


def _bookkeeping(name) -> bool:
    from ..runtime.records import OWN_TABLES

    return name in VERSION_TABLES or any(name == t or str(name).startswith(t + "_") for t in OWN_TABLES)


def schema(conn) -> Schema:
    """The schema of the database ``conn`` is connected to, without the version table and the records."""
    from ..catalog.snapshot import schema_snapshot

    return {
        kind: [row for row in rows if not _bookkeeping(row[1])]
        for kind, rows in schema_snapshot(conn).items()
    }


def _lines(snapshot: Schema) -> List[str]:
    return [
        f"{kind}: " + " | ".join("" if value is None else " ".join(str(value).split()) for value in row)
        for kind, rows in snapshot.items()
        for row in rows
    ]


def difference(before: Schema, after: Schema, labels: Sequence[str] = ("before", "after"),
               limit: int = 20) -> str:
    """A unified diff of two schemas, one line per catalog row, at most ``limit`` lines ("" if equal)."""
    diff = [
        line for line in difflib.unified_diff(_lines(before), _lines(after), *labels, n=0, lineterm="")
        if not line.startswith("@@")
    ]
    if len(diff) > limit + 2:
        diff = diff[: limit + 2] + [f"... and {len(diff) - limit - 2} more lines"]
    return "\n".join(diff)
