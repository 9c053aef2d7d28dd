"""What every DDL construct shares: quoting names, passing SQL text through, SQL comments.

The package is the only place that assembles SQL. Each construct carries
names only and is rendered by a ``@compiles(..., "postgresql")`` visitor:
every name goes through the dialect's `IdentifierPreparer` (quoted when it
must be, embedded quotes doubled), and what the caller hands over as SQL text
(view and function definitions, a function's argument types) is emitted
unchanged.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from .. import compat

#: The keyword that names each kind of object in DDL.
KEYWORDS = {
    "view": "VIEW",
    "materialized view": "MATERIALIZED VIEW",
    "function": "FUNCTION",
    "table": "TABLE",
}


def qualified(compiler, name: str, schema: Optional[str]) -> str:
    """``schema.name``, each part quoted as it must be."""
    preparer = compiler.preparer
    return (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(name)


def sql_text(compiler, text: str) -> str:
    """SQL text as the driver must receive it: '%' doubled for format-style drivers (psycopg2)."""
    text = text.strip().rstrip(";")
    return text.replace("%", "%%") if compat.doubles_percents(compiler) else text


def flag(on: bool, text: str) -> str:
    return text if on else ""


class CatalogDefinition(DDLElement):
    """A complete statement PostgreSQL itself produced (pg_get_functiondef, pg_get_indexdef)."""

    inherit_cache = False

    def __init__(self, statement: str):
        self.statement = statement


@compiles(CatalogDefinition, "postgresql")
def _catalog(element, compiler, **kw):
    return sql_text(compiler, element.statement)


class Comment(DDLElement):
    """An SQL comment in offline output, e.g. to say what could not be done without a database."""

    inherit_cache = False

    def __init__(self, text: str):
        self.text = text


@compiles(Comment, "postgresql")
def _sql_comment(element, compiler, **kw):
    return "\n".join(f"-- {line}" for line in element.text.splitlines())

