"""`ReplaceableFunction`: a function, named by its signature ``name(arg type, ...)``."""

from __future__ import annotations

from typing import List

from .. import ddl
from ..catalog import objects as catalog
from .signature import identity_arguments, input_arguments, split_signature
from .base import ReplaceableObject, declared_grants, fold, identified


class ReplaceableFunction(ReplaceableObject):
    """A function: ``signature`` as ``"name(arg type, ...)"``, with modes and defaults as
    CREATE FUNCTION takes them; ``definition`` the rest of CREATE FUNCTION
    (``RETURNS ... LANGUAGE ... AS $$ ... $$``)."""

    kind = "function"

    def __init__(self, signature: str, definition: str, **kw):
        parts = split_signature(signature)
        if parts is None:
            raise ValueError(f"function signature {signature!r} must look like name(arg type, ...)")
        super().__init__(parts[0], definition, **kw)
        self.declared_arguments = parts[1]
        self._identity = identity_arguments(parts[1])

    @classmethod
    def from_database(cls, connection, schemas):
        return cls.from_rows(catalog.functions(connection, schemas=schemas))

    @classmethod
    def from_rows(cls, rows):
        """Functions built from the catalog's rows (`myapp.db.catalog.objects.functions`)."""
        found = []
        for row in rows:
            grants = declared_grants(row["privileges"], row["default_privileges"], row["owner"])
            obj = cls(f"{row['name']}({row['arguments']})", _body(row), schema=row["schema"], grants=grants)
            obj._identity = row["identity"]  # PostgreSQL's own rendering
            identified(obj, row, row["identity"], fold(row["definition"]))
            obj.body_fingerprint = fold(row["arguments"]) + "\n" + fold(_body(row))  # without the qualified name
            found.append(obj)
        return found

    @property
    def arguments(self) -> str:
        """The identity arguments: what names the function in DROP, GRANT, COMMENT and ALTER."""
        return self._identity

    @property
    def input_arguments(self) -> List[str]:
        """The ``[name] type`` of each input argument, whose types find the function in ``pg_proc``."""
        return input_arguments(self.declared_arguments)

    @property
    def label(self) -> str:
        return f"{super().label}({self._identity})"

    def _value(self):
        return super()._value() + (self.declared_arguments,)

    def _render_args(self):
        args, kwargs = super()._render_args()
        return [repr(f"{self.name}({self.declared_arguments})"), *args[1:]], kwargs

    def create(self):
        return ddl.CreateFunction(self.schema, self.name, self.declared_arguments, self.definition)

    def create_or_replace(self):
        return ddl.CreateFunction(self.schema, self.name, self.declared_arguments, self.definition, or_replace=True)


def _body(row) -> str:
    """``pg_get_functiondef`` without its first line, ``CREATE OR REPLACE FUNCTION name(arguments)``
    (found by the arguments' own text, which may hold a line break in a default)."""
    definition = row["definition"]
    header = "(" + row["arguments"] + ")"
    at = definition.find(header)
    if at < 0:  # not expected: fall back to the first line
        return definition.partition("\n")[2].strip()
    return definition[at + len(header):].strip()
