"""A read that SQLAlchemy's compiler would assemble too slowly: one table of one name in many schemas.

`EachSchema` renders ``SELECT tableoid, <columns> FROM "s1".<table> UNION ALL
SELECT ... FROM "s2".<table> ...``: the fan-out reads every tenant's version
table in a few statements with it. Built from Core constructs, 200 branches
take SQLAlchemy longer to compile than PostgreSQL takes to run them; here each
name still goes through the dialect's quoting.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement


class EachSchema(Executable, ClauseElement):
    """``SELECT tableoid, columns FROM schema.table`` for every schema, as one UNION ALL."""

    inherit_cache = False

    def __init__(self, table: str, columns: Sequence[str], schemas: Sequence[str]):
        if not schemas:
            raise ValueError("EachSchema needs at least one schema")
        self.table, self.columns, self.schemas = table, tuple(columns), tuple(schemas)


@compiles(EachSchema, "postgresql")
def _each_schema(element, compiler, **kw):
    preparer = compiler.preparer
    columns = ", ".join(["tableoid", *map(preparer.quote, element.columns)])
    table = preparer.quote(element.table)
    return " UNION ALL ".join(
        f"SELECT {columns} FROM {preparer.quote_schema(schema)}.{table}" for schema in element.schemas
    )
