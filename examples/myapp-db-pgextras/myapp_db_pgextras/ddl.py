"""The DDL the plugin needs beyond SQLAlchemy's own: CREATE/DROP EXTENSION."""

from typing import Optional

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement


class CreateExtension(DDLElement):
    """``CREATE EXTENSION IF NOT EXISTS name [WITH SCHEMA schema] [VERSION 'version']``."""

    def __init__(self, name: str, schema: Optional[str] = None, version: Optional[str] = None):
        self.name, self.schema, self.version = name, schema, version


class DropExtension(DDLElement):
    """``DROP EXTENSION IF EXISTS name [CASCADE]``."""

    def __init__(self, name: str, cascade: bool = False):
        self.name, self.cascade = name, cascade


@compiles(CreateExtension, "postgresql")
def _create_extension(element, compiler, **kw):
    text = f"CREATE EXTENSION IF NOT EXISTS {compiler.preparer.quote(element.name)}"
    if element.schema:
        text += f" WITH SCHEMA {compiler.preparer.quote_schema(element.schema)}"
    if element.version:
        text += f" VERSION {compiler.sql_compiler.render_literal_value(element.version, String())}"
    return text


@compiles(DropExtension, "postgresql")
def _drop_extension(element, compiler, **kw):
    return f"DROP EXTENSION IF EXISTS {compiler.preparer.quote(element.name)}" + (
        " CASCADE" if element.cascade else ""
    )
