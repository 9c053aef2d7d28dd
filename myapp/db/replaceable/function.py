"""`ReplaceableFunction`: a function, named by its signature ``name(arg type, ...)``."""

from __future__ import annotations

from .. import ddl
from ..catalog import objects as catalog
from .base import ReplaceableObject, declared_grants, fold, identified


class ReplaceableFunction(ReplaceableObject):
    """A function: ``signature`` as ``"name(arg type, ...)"``; ``definition`` the rest
    of CREATE FUNCTION (``RETURNS ... AS $$ ... $$ LANGUAGE ...``)."""

    kind = "function"

    def __init__(self, signature: str, definition: str, **kw):
        name, paren, rest = signature.strip().partition("(")
        if not paren or not rest.rstrip().endswith(")"):
            raise ValueError(f"function signature {signature!r} must look like name(arg type, ...)")
        super().__init__(name.strip(), definition, **kw)
        self._arguments = rest.rstrip()[:-1].strip()

    @classmethod
    def from_database(cls, connection, schemas):
        found = []
        for row in catalog.functions(connection, schemas=schemas):
            _, _, definition = row["definition"].partition("\n")
            grants = declared_grants(row["privileges"], row["default_privileges"])
            obj = cls(f"{row['name']}({row['arguments']})", definition.strip(), schema=row["schema"], grants=grants)
            found.append(identified(obj, row, row["identity"], fold(row["definition"])))
        return found

    @property
    def arguments(self) -> str:
        return self._arguments

    @property
    def label(self) -> str:
        return f"{super().label}({self._arguments})"

    def _render_args(self):
        args, kwargs = super()._render_args()
        return [repr(f"{self.name}({self._arguments})"), *args[1:]], kwargs

    def create(self):
        return ddl.CreateFunction(self.schema, self.name, self._arguments, self.definition)

    def create_or_replace(self):
        return ddl.CreateFunction(self.schema, self.name, self._arguments, self.definition, or_replace=True)
