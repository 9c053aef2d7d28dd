"""Replaceable objects: views, functions and materialized views, defined by SQL text.

Such an object cannot be altered in place, only replaced whole. Each class
is a value object (kind, schema, name, definition) whose `create()` and
`drop()` return DDL constructs; the operations (`ops`, `toimpl`) decide how
to replace, and `dependents` keeps what depends on an object alive across
the replacement. A new kind (a trigger, a policy) subclasses
`ReplaceableObject` and implements `create()` and `drop()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy.sql.ddl import ExecutableDDLElement

from . import ddl


@dataclass(frozen=True)
class MatviewIndex:
    """An index declared with a materialized view, created with it at every replacement."""

    name: str
    columns: Tuple[str, ...]
    unique: bool = False

    def __init__(self, name: str, columns: Sequence[str], unique: bool = False):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "unique", unique)


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
            role: tuple(" ".join(p.upper().split()) for p in privs) for role, privs in (grants or {}).items()
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


class ReplaceableView(ReplaceableObject):
    """A view: ``definition`` is its SELECT."""

    kind = "view"

    @classmethod
    def from_database(cls, connection, schemas):
        from . import catalog

        return catalog.views(connection, schemas)

    def create(self):
        return ddl.CreateView(self.schema, self.name, self.definition)

    def create_or_replace(self):
        return ddl.CreateView(self.schema, self.name, self.definition, or_replace=True)


class ReplaceableFunction(ReplaceableObject):
    """A function: ``signature`` as ``"name(arg type, ...)"``; ``definition`` the rest
    of CREATE FUNCTION (``RETURNS ... AS $$ ... $$ LANGUAGE ...``)."""

    kind = "function"

    @classmethod
    def from_database(cls, connection, schemas):
        from . import catalog

        return catalog.functions(connection, schemas)

    def _render_args(self):
        args, kwargs = super()._render_args()
        return [repr(f"{self.name}({self._arguments})"), *args[1:]], kwargs

    def __init__(self, signature: str, definition: str, **kw):
        name, paren, rest = signature.strip().partition("(")
        if not paren or not rest.rstrip().endswith(")"):
            raise ValueError(f"function signature {signature!r} must look like name(arg type, ...)")
        super().__init__(name.strip(), definition, **kw)
        self._arguments = rest.rstrip()[:-1].strip()

    @property
    def arguments(self) -> str:
        return self._arguments

    @property
    def label(self) -> str:
        return f"{super().label}({self._arguments})"

    def create(self):
        return ddl.CreateFunction(self.schema, self.name, self._arguments, self.definition)

    def create_or_replace(self):
        return ddl.CreateFunction(
            self.schema, self.name, self._arguments, self.definition, or_replace=True
        )


class ReplaceableMatview(ReplaceableObject):
    """A materialized view; ``indexes`` are created with it and survive every replacement."""

    kind = "materialized view"

    @classmethod
    def from_database(cls, connection, schemas):
        from . import catalog

        return catalog.views(connection, schemas, materialized=True)

    def _render_args(self):
        args, kwargs = super()._render_args()
        if self.indexes:
            kwargs["indexes"] = _Raw(
                "[" + ", ".join(
                    f"MatviewIndex({ix.name!r}, {list(ix.columns)!r}{', unique=True' if ix.unique else ''})"
                    for ix in self.indexes
                ) + "]"
            )
        if not self.with_data:
            kwargs["with_data"] = False
        return args, kwargs

    def __init__(
        self,
        name: str,
        definition: str,
        *,
        indexes: Iterable[MatviewIndex] = (),
        with_data: bool = True,
        **kw,
    ):
        super().__init__(name, definition, **kw)
        self.indexes = tuple(indexes)
        self.with_data = with_data

    def _value(self):
        return super()._value() + (self.indexes, self.with_data)

    def create(self):
        return ddl.CreateView(
            self.schema, self.name, self.definition, materialized=True, with_data=self.with_data
        )

    def index_statements(self):
        return [
            ddl.CreateIndexOn(self.schema, self.name, ix.name, ix.columns, unique=ix.unique)
            for ix in self.indexes
        ]
