"""One plain function per command; the CLI in `myapp.db.cli` is a thin layer over them.

Each takes the database first (see `myapp.db.settings`: a URL, an Engine, a
caller's Connection, a Settings, or nothing) and the App as ``app=`` (default:
myapp's). None of them prints: they return results and report progress to a
`Progress`. A caller's open transaction is joined through a savepoint, never
committed: the caller decides.
"""

import importlib
from typing import Any

#: Public name -> module here that defines it; imported on first use, so a command loads only its own.
_EXPORTS = {
    "bootstrap": "bootstrap", "embedded": "embedded", "MigrationRow": "listing", "current": "listing",
    "heads": "listing", "history": "listing", "showmigrations": "listing", "MakeMigrationsResult": "makemigrations",
    "makemigrations": "makemigrations", "MigrateResult": "migrate", "migrate": "migrate", "plugins": "plugins",
    "RefreshStep": "refresh", "refresh": "refresh", "lint": "lint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
