"""`ReplaceableObject`: a named schema object defined by SQL text, replaced whole, never altered.

Each kind (`view`, `function`, `matview`) is a value object (kind, schema,
name, definition) whose `create()` and `drop()` return DDL constructs, and
reads its own kind back from the catalog for autogenerate. A new kind (a
trigger, a policy) subclasses `ReplaceableObject`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy.sql.ddl import ExecutableDDLElement

from .. import ddl


class _Raw(str):
    """Source text that `render` emits as it is."""

    def __repr__(self):
        return str(self)


def _source(sql: str) -> str:
    """A Python literal for SQL text: a raw triple-quoted string where that is exact."""
    if '"""' not in sql and not sql.endswith("\\") and "\r" not in sql:
        return _Raw('r"""' + sql + '"""')
    return repr(sql)


class ReplaceableObject:
    """A named schema object defined by SQL text; replaced, never altered.

    :param name: the object's name, created exactly as given (quoted as needed).
    :param definition: SQL text, emitted unchanged.
    :param schema: its schema; None means the search path's first schema.
    :param grants: privileges to grant after creation, ``{"role" or "PUBLIC": ["SELECT"]}``.
    """

    kind: str = ""

    def __init__(
        self,
        name: str,
        definition: str,
        *,
        schema: Optional[str] = None,
        grants: Optional[Mapping[str, Sequence[str]]] = None,
    ):
        if not name:
            raise ValueError(f"a {self.kind} needs a name")
        self.name, self.definition, self.schema = name, definition, schema
        self.grants: Dict[str, Tuple[str, ...]] = {
            "PUBLIC" if role.upper() == "PUBLIC" else role: tuple(" ".join(p.upper().split()) for p in privs)
            for role, privs in (grants or {}).items()
        }
        unknown = {p for privs in self.grants.values() for p in privs} - ddl.PRIVILEGES
        if unknown:
            raise ValueError(f"unknown privilege(s) {', '.join(sorted(unknown))} in grants of {self.label}")

    # -- identity ---------------------------------------------------------

    @property
    def arguments(self) -> Optional[str]:
        """Argument text for kinds that have it (functions); None otherwise."""
        return None

    @property
    def key(self) -> Tuple[str, str, str]:
        """(kind, schema, name): what the registry and comparisons go by."""
        return (self.kind, self.schema or "", self.name)

    @property
    def label(self) -> str:
        """``kind schema.name`` for messages (not for SQL)."""
        qualified = f"{self.schema}.{self.name}" if self.schema else self.name
        return f"{self.kind} {qualified}"

    def __eq__(self, other):
        return type(self) is type(other) and self._value() == other._value()

    def __hash__(self):
        return hash(self._value())

    def _value(self):
        return (self.key, self.arguments, self.definition, tuple(sorted(self.grants.items())))

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, schema={self.schema!r})"

    # -- autogenerate ---------------------------------------------------------

    @classmethod
    def from_database(cls, connection, schemas: Sequence[str]) -> List["ReplaceableObject"]:
        """Every object of this kind in ``schemas``, read from the catalog, for autogenerate.

        Each returned object must carry ``identity`` (a hashable naming it
        in the database) and ``fingerprint`` (what two versions are compared
        by, as PostgreSQL renders it). A kind that returns nothing takes no
        part in autogenerate.
        """
        return []

    def render(self) -> str:
        """Python source that builds this object, for a generated revision."""
        args, kwargs = self._render_args()
        lines = [f"    {arg}," for arg in args]
        lines += [f"    {key}={value!r}," for key, value in kwargs.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def _render_args(self):
        kwargs = {}
        if self.schema:
            kwargs["schema"] = self.schema
        if self.grants:
            kwargs["grants"] = {role: list(privileges) for role, privileges in sorted(self.grants.items())}
        return [repr(self.name), _source(self.definition)], kwargs

    # -- DDL --------------------------------------------------------------

    def create(self) -> ExecutableDDLElement:
        """The CREATE statement."""
        raise NotImplementedError

    def drop(self) -> ExecutableDDLElement:
        """The DROP statement (never CASCADE)."""
        return ddl.DropObject(self.kind, self.schema, self.name, self.arguments)

    def create_or_replace(self) -> Optional[ExecutableDDLElement]:
        """A CREATE OR REPLACE statement, for kinds PostgreSQL can replace in place; else None."""
        return None

    def after_create(self) -> List[ExecutableDDLElement]:
        """Statements that complete a creation: declared indexes, then declared grants."""
        return self.index_statements() + self.grant_statements()

    def index_statements(self) -> List[ExecutableDDLElement]:
        """CREATE INDEX for each declared index (materialized views have them)."""
        return []

    def grant_statements(self) -> List[ExecutableDDLElement]:
        """One GRANT per role in ``grants``."""
        return [
            ddl.Grant(privileges, self.name, role, schema=self.schema, kind=self.kind, arguments=self.arguments)
            for role, privileges in sorted(self.grants.items())
        ]


def declared_grants(privileges: Iterable[Tuple[str, str, bool]], defaults: Iterable[Tuple[str, str, bool]],
                    owner: str) -> Dict[str, List[str]]:
    """``{grantee: [privilege, ...]}``: the catalog's effective privileges beyond an object's defaults;
    ``["ALL"]`` for a grantee that holds every privilege the kind has (what the owner starts with)."""
    defaults = list(defaults)
    everything = {p for g, p, _ in defaults if g == owner}
    default = {(g, p) for g, p, _ in defaults}
    grants: Dict[str, List[str]] = {}
    for grantee, privilege, _ in privileges:
        if (grantee, privilege) not in default:
            grants.setdefault(grantee, []).append(privilege)
    for grantee, held in grants.items():
        if everything and set(held) == everything:  # beyond the defaults, so none of them is a default
            grants[grantee] = ["ALL"]
    return grants


def expand(privileges: Iterable[str], everything: Iterable[str]) -> set:
    """A set of privileges with ``ALL`` (or ``ALL PRIVILEGES``) replaced by ``everything``."""
    held = set(privileges)
    if held & {"ALL", "ALL PRIVILEGES"}:
        held = (held - {"ALL", "ALL PRIVILEGES"}) | set(everything)
    return held


def fold(text: str) -> str:
    """Fold runs of white space outside single-quoted literals into one space."""
    parts = re.split(r"('(?:[^']|'')*')", text.strip())
    return "".join(p if i % 2 else " ".join(p.split()) for i, p in enumerate(parts))


def identified(obj, row: dict, identity: str, fingerprint: str):
    """Mark an object read from the catalog with its oid, ``identity`` and ``fingerprint``
    (``all_privileges``, what ALL stands for on it, and ``held``, its effective privileges by grantee)."""
    obj.oid = row["oid"]
    obj.all_privileges = {p for g, p, _ in row["default_privileges"] if g == row["owner"]}
    obj.held = {}
    for grantee, privilege, _ in row["privileges"]:
        obj.held.setdefault(grantee, set()).add(privilege)
    obj.identity = (obj.kind, row["schema"], obj.name, identity)
    obj.fingerprint = fingerprint
    #: What `myapp.db.runtime.records` keeps of it: md5 of PostgreSQL's text (a hand edit changes it).
    obj.stored_hash = hashlib.md5(row["definition"].encode()).hexdigest()
    return obj


def source_hash(obj) -> str:
    """A hash of what an object declares (white space in its definition does not count), as recorded."""
    value = repr((obj.kind, obj.schema or "", obj.name, obj.arguments, fold(obj.definition),
                  sorted(obj.grants.items()), getattr(obj, "indexes", ()), getattr(obj, "with_data", True),
                  sorted(getattr(obj, "options", {}).items()) if isinstance(getattr(obj, "options", None), dict) else None))
    return hashlib.sha256(value.encode()).hexdigest()
