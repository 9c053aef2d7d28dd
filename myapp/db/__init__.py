"""myapp.db: the framework that brings an app's PostgreSQL database up to date, safely.

An app declares itself with an `App` (its models, its registry of views,
functions and materialized views, its migrations); every command is a plain
function here taking the database (a URL, an Engine, a Connection or a
`Settings`) and ``app=`` (default: myapp's own), e.g.
``myapp.db.migrate("postgresql://localhost/myapp")``. Names are imported on
first use, so ``import myapp.db`` costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS = {
    "App": "app",
    "load_app": "app",
    "Settings": "settings",
    "CommandError": "errors",
    "ConfigurationError": "errors",
    "ConnectError": "errors",
    "DatabaseError": "errors",
    "DivergentHeads": "errors",
    "DuplicateRevision": "errors",
    "HistoryError": "errors",
    "NotAtHead": "errors",
    "ObjectError": "errors",
    "PluginError": "errors",
    "RevisionFailed": "errors",
    "TargetError": "errors",
    "UsageError": "errors",
    "Progress": "progress",
    "StreamProgress": "progress",
    "hookimpl": "plugins.hookspecs",
    "MatviewIndex": "replaceable",
    "Registry": "replaceable",
    "ReplaceableFunction": "replaceable",
    "ReplaceableMatview": "replaceable",
    "ReplaceableObject": "replaceable",
    "ReplaceableView": "replaceable",
    "bootstrap": "commands",
    "current": "commands",
    "heads": "commands",
    "history": "commands",
    "makemigrations": "commands",
    "migrate": "commands",
    "refresh": "commands",
    "showmigrations": "commands",
    "lint": "commands",
    "ensure_at_head": "runtime.guard",
    "migrate_all": "tenants",
    "tenant_schema": "tenants",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
