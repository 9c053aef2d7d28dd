"""`ReplaceableMatview`: a materialized view, with the indexes declared with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Tuple

from .. import ddl
from ..catalog import objects as catalog
from .base import ReplaceableObject, _Raw, declared_grants, fold, identified


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


class ReplaceableMatview(ReplaceableObject):
    """A materialized view; ``indexes`` are created with it and survive every replacement."""

    kind = "materialized view"

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

    @classmethod
    def from_database(cls, connection, schemas):
        return cls.from_rows(catalog.relations(connection, schemas=schemas, relkind="m"))

    @classmethod
    def from_rows(cls, rows):
        """Materialized views built from the catalog's rows (`myapp.db.catalog.objects.relations`)."""
        found = []
        for row in rows:
            definition = row["definition"].strip().rstrip(";")
            indexes = [MatviewIndex(name, columns, unique)
                       for name, unique, columns, partial, _ in row["indexes"] if not partial]
            grants = declared_grants(row["privileges"], row["default_privileges"], row["owner"])
            obj = cls(row["name"], definition, schema=row["schema"], indexes=indexes, grants=grants)
            found.append(identified(obj, row, "", fold(definition)))
        return found

    def _value(self):
        return super()._value() + (self.indexes, self.with_data)

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

    def create(self):
        return ddl.CreateView(self.schema, self.name, self.definition, materialized=True, with_data=self.with_data)

    def index_statements(self):
        return [
            ddl.CreateIndexOn(self.schema, self.name, ix.name, ix.columns, unique=ix.unique)
            for ix in self.indexes
        ]
