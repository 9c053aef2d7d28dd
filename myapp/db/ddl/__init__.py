"""DDL constructs: the only place that assembles SQL (see `base` for the quoting rule).

`roles` (SET/RESET ROLE), `tables` (IF [NOT] EXISTS variants), `privileges`
(GRANT/REVOKE), `objects` (views, functions, materialized views),
`replace` (replacing them, done by the server: ``replace.sql``) and `reads` (one table in many schemas).
"""

from .base import KEYWORDS, CatalogDefinition, Comment, qualified, sql_text
from .objects import (
    CreateFunction,
    CreateIndexOn,
    CreateView,
    DropObject,
    ObjectDDL,
    RefreshMaterializedView,
    SetComment,
    SetOwner,
)
from .privileges import OBJECT_KINDS, PRIVILEGES, Grant, Revoke
from .replace import ReplaceObjects, Step, Target
from .reads import EachSchema
from .roles import ResetRole, SetRole
from .tables import AddColumn, DropColumn, DropConstraint, DropIndex, DropTable

__all__ = [
    "KEYWORDS", "OBJECT_KINDS", "PRIVILEGES",
    "AddColumn", "CatalogDefinition", "Comment", "CreateFunction", "CreateIndexOn", "CreateView",
    "DropColumn", "DropConstraint", "DropIndex", "DropObject", "DropTable", "EachSchema", "Grant", "ObjectDDL",
    "RefreshMaterializedView", "ReplaceObjects", "ResetRole", "Revoke", "SetComment", "SetOwner", "SetRole", "Step",
    "Target",
    "qualified", "sql_text",
]
