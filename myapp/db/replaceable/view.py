"""`ReplaceableView`: a view, defined by its SELECT."""

from __future__ import annotations

from .. import ddl
from ..catalog import objects as catalog
from .base import ReplaceableObject, declared_grants, fold, identified


class ReplaceableView(ReplaceableObject):
    """A view: ``definition`` is its SELECT."""

    kind = "view"

    @classmethod
    def from_database(cls, connection, schemas):
        return cls.from_rows(catalog.relations(connection, schemas=schemas, relkind="v"))

    @classmethod
    def from_rows(cls, rows):
        """Views built from the catalog's rows (`myapp.db.catalog.objects.relations`)."""
        found = []
        for row in rows:
            definition = row["definition"].strip().rstrip(";")
            grants = declared_grants(row["privileges"], row["default_privileges"], row["owner"])
            obj = cls(row["name"], definition, schema=row["schema"], grants=grants)
            found.append(identified(obj, row, "", fold(definition)))
        return found

    def create(self):
        return ddl.CreateView(self.schema, self.name, self.definition)

    def create_or_replace(self):
        return ddl.CreateView(self.schema, self.name, self.definition, or_replace=True)
