"""SET ROLE and RESET ROLE."""

from __future__ import annotations

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement


class SetRole(DDLElement):
    """``SET ROLE name``: act as ``name`` for the rest of the session (or until RESET ROLE)."""

    def __init__(self, name: str):
        self.name = name


class ResetRole(DDLElement):
    """``RESET ROLE``: act as the session's own user again."""


@compiles(SetRole, "postgresql")
def _set_role(element, compiler, **kw):
    return f"SET ROLE {compiler.preparer.quote(element.name)}"


@compiles(ResetRole, "postgresql")
def _reset_role(element, compiler, **kw):
    return "RESET ROLE"
