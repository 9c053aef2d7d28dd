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
    showmigrations,
)
from .exceptions import CommandError
from .hookspecs import hookimpl
from .output import Progress, StreamProgress
from .settings import Settings

__all__ = [
    "CommandError",
    "Progress",
    "Settings",
    "StreamProgress",
    "bootstrap",
    "current",
    "heads",
    "history",
    "hookimpl",
    "makemigrations",
    "migrate",
    "showmigrations",
]
