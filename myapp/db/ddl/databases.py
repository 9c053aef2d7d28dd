"""CREATE, DROP and ALTER DATABASE: what the test plugin does to make, clone and drop its databases.

Each runs on an AUTOCOMMIT connection (PostgreSQL refuses them inside a
transaction block); every name is quoted by the dialect.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement


class CreateDatabase(DDLElement):
    """``CREATE DATABASE name [TEMPLATE template]``: a copy of ``template`` (default: the server's)."""

    inherit_cache = False

    def __init__(self, name: str, template: Optional[str] = None):
        self.name, self.template = name, template


class DropDatabase(DDLElement):
    """``DROP DATABASE IF EXISTS name [WITH (FORCE)]``; FORCE ends the sessions still connected."""

    inherit_cache = False

    def __init__(self, name: str, *, force: bool = True):
        self.name, self.force = name, force


class RenameDatabase(DDLElement):
    """``ALTER DATABASE name RENAME TO new_name``."""

    inherit_cache = False

    def __init__(self, name: str, new_name: str):
        self.name, self.new_name = name, new_name


class AllowConnections(DDLElement):
    """``ALTER DATABASE name WITH ALLOW_CONNECTIONS true|false``: a template nobody can connect to stays clonable."""

    inherit_cache = False

    def __init__(self, name: str, allow: bool):
        self.name, self.allow = name, allow


@compiles(CreateDatabase, "postgresql")
def _create(element, compiler, **kw):
    quote = compiler.preparer.quote
    template = f" TEMPLATE {quote(element.template)}" if element.template else ""
    return f"CREATE DATABASE {quote(element.name)}{template}"


@compiles(DropDatabase, "postgresql")
def _drop(element, compiler, **kw):
    return f"DROP DATABASE IF EXISTS {compiler.preparer.quote(element.name)}" + (
        " WITH (FORCE)" if element.force else ""
    )


@compiles(RenameDatabase, "postgresql")
def _rename(element, compiler, **kw):
    quote = compiler.preparer.quote
    return f"ALTER DATABASE {quote(element.name)} RENAME TO {quote(element.new_name)}"


@compiles(AllowConnections, "postgresql")
def _allow(element, compiler, **kw):
    return f"ALTER DATABASE {compiler.preparer.quote(element.name)} WITH ALLOW_CONNECTIONS {str(element.allow).lower()}"
