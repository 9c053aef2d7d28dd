"""``plugins``: every plugin, with its distribution, version, entry point, hooks and operations."""

from __future__ import annotations

from typing import List

from .. import plugins as manager
from ..app import load_app


def plugins(*, app=None) -> List[manager.Plugin]:
    """List every plugin: distribution and version, entry point, hooks and operations.

    Built-ins come first, then the ``myapp.db.plugins`` entry points by name,
    then the App's own; disabled ones are listed too. A broken plugin raises
    `PluginError`.
    """
    return manager.load(load_app(app)).plugins
