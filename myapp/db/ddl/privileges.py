"""GRANT and REVOKE on tables, views, materialized views and functions."""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple, Union

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from .base import flag, qualified

#: Privileges GRANT and REVOKE accept; they are keywords, so only these are emitted.
PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
     "MAINTAIN", "EXECUTE", "USAGE", "ALL", "ALL PRIVILEGES"}
)
#: The object kinds GRANT and REVOKE handle here, and their keyword (a view is a TABLE to GRANT).
OBJECT_KINDS = {"table": "TABLE", "view": "TABLE", "materialized view": "TABLE", "function": "FUNCTION"}


class _Privileges(DDLElement):
    def __init__(
        self,
        privileges: Union[str, Iterable[str]],
        name: str,
        roles: Union[str, Iterable[str]],
        *,
        schema: Optional[str] = None,
        kind: str = "table",
        arguments: Optional[str] = None,
        grant_option: bool = False,
    ):
        self.privileges = _upper_list(privileges)
        unknown = [p for p in self.privileges if p not in PRIVILEGES]
        if unknown or not self.privileges:
            raise ValueError(f"unknown privilege(s) {unknown}: use some of {sorted(PRIVILEGES)}")
        if kind not in OBJECT_KINDS:
            raise ValueError(f"unknown object kind {kind!r}: use one of {sorted(OBJECT_KINDS)}")
        if arguments is not None and kind != "function":
            raise ValueError("arguments only go with kind='function'")
        self.roles = [roles] if isinstance(roles, str) else list(roles)
        if not self.roles:
            raise ValueError("name at least one role to grant to or revoke from")
        self.name, self.schema, self.kind = name, schema, kind
        self.arguments, self.grant_option = arguments, grant_option


class Grant(_Privileges):
    """``GRANT privileges ON {TABLE|FUNCTION} name TO roles [WITH GRANT OPTION]``; ``PUBLIC`` is the keyword."""


class Revoke(_Privileges):
    """``REVOKE privileges ON {TABLE|FUNCTION} name FROM roles``."""


def _upper_list(value: Union[str, Iterable[str]]) -> List[str]:
    items = [value] if isinstance(value, str) else list(value)
    return [" ".join(item.upper().split()) for item in items]


def _privileges_clause(element, compiler) -> Tuple[str, str]:
    target = qualified(compiler, element.name, element.schema)
    if element.arguments is not None:
        target += f"({element.arguments})"  # argument types are SQL text, emitted as given
    roles = ", ".join(
        "PUBLIC" if role.upper() == "PUBLIC" else compiler.preparer.quote(role) for role in element.roles
    )
    return f"{', '.join(element.privileges)} ON {OBJECT_KINDS[element.kind]} {target}", roles


@compiles(Grant, "postgresql")
def _grant(element, compiler, **kw):
    what, roles = _privileges_clause(element, compiler)
    return f"GRANT {what} TO {roles}{flag(element.grant_option, ' WITH GRANT OPTION')}"


@compiles(Revoke, "postgresql")
def _revoke(element, compiler, **kw):
    what, roles = _privileges_clause(element, compiler)
    return f"REVOKE {what} FROM {roles}"
