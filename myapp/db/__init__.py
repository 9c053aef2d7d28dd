"""myapp's database: settings, migrations and the commands behind ``python -m myapp.db``.

Every command is a plain function taking a `Settings`, a URL or an open
connection, e.g. ``myapp.db.migrate("postgresql://localhost/myapp")``.
"""

from .commands import (
    bootstrap,
    current,
    heads,
    history,
    makemigrations,
    migrate,
    refresh,
    showmigrations,
)
from .exceptions import CommandError
from .hookspecs import hookimpl
from .output import Progress, StreamProgress
from .replaceable import (
    MatviewIndex,
    ReplaceableFunction,
    ReplaceableMatview,
    ReplaceableObject,
    ReplaceableView,
)
from .settings import Settings

__all__ = [
    "CommandError",
    "MatviewIndex",
    "Progress",
    "ReplaceableFunction",
    "ReplaceableMatview",
    "ReplaceableObject",
    "ReplaceableView",
    "Settings",
    "StreamProgress",
    "bootstrap",
    "current",
    "heads",
    "history",
    "hookimpl",
    "makemigrations",
    "migrate",
    "refresh",
    "showmigrations",
]
