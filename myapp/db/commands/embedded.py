"""``embedded``: where the embedded PostgreSQL server is, or stop it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import UsageError
from ..settings import Settings


def embedded(action: str = "status", *, app=None, data_dir: Optional[Path] = None) -> str:
    """Show (status) or stop (stop) the embedded PostgreSQL server.

    The status is the truth, not the pid file's word: ``running`` only when the
    postmaster is alive (not a zombie) and its socket accepts a connection.
    """
    from ..runtime import embedded as server

    data_dir = data_dir or Settings.resolve(None, app).embedded_data_dir
    if action == "stop":
        stopped = server.stop(data_dir)
        return f"stopped the embedded PostgreSQL in {stopped}" if stopped else f"not running ({data_dir})"
    if action == "status":
        return str(server.status(data_dir))
    raise UsageError(f"unknown action {action!r} for embedded: use 'status' or 'stop'")
