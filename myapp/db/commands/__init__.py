"""One plain function per command; the CLI in `myapp.db.cli` is a thin layer over them.

Each takes the database first (see `myapp.db.settings`: a URL, an Engine, a
caller's Connection, a Settings, or nothing) and the App as ``app=`` (default:
myapp's). None of them prints: they return results and report progress to a
`Progress`. A caller's open transaction is joined through a savepoint, never
committed: the caller decides.
"""

from .bootstrap import bootstrap
from .embedded import embedded
from .lint import lint
from .listing import MigrationRow, current, heads, history, showmigrations
from .makemigrations import MakeMigrationsResult, makemigrations
from .migrate import MigrateResult, migrate
from .plugins import plugins
from .refresh import RefreshStep, refresh

__all__ = [
    "MakeMigrationsResult", "MigrateResult", "MigrationRow", "RefreshStep",
    "bootstrap", "current", "embedded", "heads", "history", "lint", "makemigrations", "migrate",
    "plugins", "refresh", "showmigrations",
]
