"""Pagila (tests/schemas/pagila, PostgreSQL's port of MySQL's Sakila sample) read as replaceable objects.

The schema file is a pg_dump, so every object has its ``-- Name: ...; Type: ...``
header: views, the materialized view and the functions become
`ReplaceableView` / `ReplaceableMatview` / `ReplaceableFunction` (their text
as the dump has it), everything else stays SQL, in the dump's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from sqlalchemy.dialects import postgresql

from myapp.db import ReplaceableFunction, ReplaceableMatview, ReplaceableView, ddl

FOLDER = Path(__file__).resolve().parent / "schemas" / "pagila"
SCHEMA_FILE = FOLDER / "pagila-schema.sql"

_HEADER = re.compile(r"^--\n-- Name: (?P<name>.*?); Type: (?P<type>[A-Z ]+); Schema: (?P<schema>\S+); Owner: .*\n--\n",
                     re.MULTILINE)
_OWNER = re.compile(r"\n\s*ALTER (?:TABLE|VIEW|MATERIALIZED VIEW|FUNCTION) .* OWNER TO \w+;\s*$", re.DOTALL)


@dataclass
class Entry:
    """One object of the dump: its SQL, and the replaceable object it is, if it is one."""

    name: str
    type: str
    sql: str
    obj: Optional[object] = None


def _function(statement: str) -> ReplaceableFunction:
    head = re.match(r"CREATE FUNCTION public\.", statement)
    rest = statement[head.end():]
    depth = 0
    for i, char in enumerate(rest):
        depth += char == "("
        depth -= char == ")"
        if char == ")" and depth == 0:
            return ReplaceableFunction(rest[:i + 1], rest[i + 1:].strip().rstrip(";"), schema="public")
    raise ValueError(statement)


def _relation(statement: str):
    found = re.match(r"CREATE (MATERIALIZED )?VIEW public\.(\S+) AS\n(.*);\s*$", statement, re.DOTALL)
    materialized, name, definition = found.groups()
    if materialized:
        with_data = not definition.rstrip().endswith("WITH NO DATA")
        definition = re.sub(r"\s*WITH (NO )?DATA\s*$", "", definition)
        return ReplaceableMatview(name, definition, schema="public", with_data=with_data)
    return ReplaceableView(name, definition, schema="public")


def preamble() -> str:
    """The dump's SET statements (search_path empty, function bodies unchecked, ...), but its
    timeouts: the migration's own stay."""
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    lines = text[:_HEADER.search(text).start()].splitlines()
    return "\n".join(line for line in lines if not re.match(r"SET \w*timeout", line))


def entries() -> List[Entry]:
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    headers = list(_HEADER.finditer(text))
    found = []
    for header, following in zip(headers, headers[1:] + [None]):
        sql = text[header.end():following.start() if following else len(text)].strip()
        if "-- PostgreSQL database dump complete" in sql:
            sql = sql[:sql.index("--\n-- PostgreSQL database dump complete")].strip()
        entry = Entry(header["name"], header["type"], sql)
        statement = _OWNER.sub("", sql).strip()
        if entry.type == "FUNCTION":
            entry.obj = _function(statement)
        elif entry.type in ("VIEW", "MATERIALIZED VIEW"):
            entry.obj = _relation(statement)
        found.append(entry)
    return found


def objects() -> list:
    return [entry.obj for entry in entries() if entry.obj is not None]


def settings() -> List[str]:
    """The names of the settings the preamble changes, to reset after loading."""
    names = re.findall(r"^SET (\w+)", preamble(), re.MULTILINE)
    return names + re.findall(r"set_config\('(\w+)'", preamble())


def load(op) -> None:
    """Create pagila through ``op``: plain SQL as the dump has it, its views, materialized view and
    functions with the replaceable-object operations, in the dump's order; settings reset after."""
    op.execute(ddl.CatalogDefinition(preamble()))
    for entry in entries():
        if entry.obj is not None:
            op.create_replaceable_object(entry.obj)
        else:
            op.execute(ddl.CatalogDefinition(entry.sql))
    for name in settings():
        op.execute(ddl.CatalogDefinition(f"RESET {name}"))


def unload(op) -> None:
    """Drop what `load` made, last first; the schema's owner and privileges as a new database has them."""
    quote = postgresql.dialect().identifier_preparer.quote
    for entry in reversed(entries()):
        if entry.obj is not None:
            op.drop_replaceable_object(entry.obj)
        elif entry.type == "TABLE":
            op.execute(ddl.DropTable(entry.name, "public", if_exists=True, cascade=True))
        elif entry.type in ("SEQUENCE", "DOMAIN", "TYPE"):
            op.execute(ddl.CatalogDefinition(f"DROP {entry.type} IF EXISTS public.{quote(entry.name)} CASCADE"))
        elif entry.type == "AGGREGATE":  # named with its argument types: group_concat(text)
            op.execute(ddl.CatalogDefinition(f"DROP AGGREGATE IF EXISTS public.{entry.name}"))
    op.execute(ddl.CatalogDefinition("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    op.execute(ddl.CatalogDefinition("ALTER SCHEMA public OWNER TO pg_database_owner"))
