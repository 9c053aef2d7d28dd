"""Plugins: every hook declared in `hookspecs`, the one manager in `manager`, myapp's own in `builtins`.

``load()`` returns the plugins of this process, ``hookimpl`` marks a plugin's
hook implementations.
"""

from .hookspecs import hookimpl, hookspec
from .manager import BUILTINS, DISABLE_VARIABLE, GROUP, LOAD_VARIABLE, Plugin, Plugins, check, load, reset

__all__ = [
    "BUILTINS", "DISABLE_VARIABLE", "GROUP", "LOAD_VARIABLE", "Plugin", "Plugins",
    "check", "hookimpl", "hookspec", "load", "reset",
]
