"""``refresh``: refresh materialized views in dependency order, concurrently where a unique index allows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import sqlalchemy as sa

from .. import plugins
from ..errors import DatabaseError, ObjectError, first_line
from ..progress import Progress
from ..runtime import connection
from ..settings import Settings


@dataclass(frozen=True)
class RefreshStep:
    """One materialized view to refresh, as progress shows it."""

    name: str
    concurrently: bool

    def __str__(self) -> str:
        return f"Refreshing {self.name}{' concurrently' if self.concurrently else ''}"


def refresh(
    database: Any = None,
    names: Sequence[str] = (),
    *,
    app=None,
    concurrently: bool = False,
    progress: Optional[Progress] = None,
) -> List[RefreshStep]:
    """Refresh materialized views (all, or NAMEs) in dependency order, in one transaction.

    :param names: views to refresh, as ``name`` or ``schema.name``; default all.
    :param concurrently: use REFRESH ... CONCURRENTLY for views whose unique index allows it.
    """
    from .. import ddl
    from ..catalog import objects as catalog
    from ..replaceable import dependents

    settings, progress = Settings.resolve(database, app), progress or Progress()
    plugins.load(settings.app)
    done = []
    with connection.connect(settings, progress, lock=True, command="refresh") as conn, \
            connection.transaction(conn):
        views = dependents.materialized_views(conn)
        if names:
            wanted = set(names)
            chosen = [v for v in views if {v.name, f"{v.schema}.{v.name}"} & wanted]
            missing = wanted - {n for v in chosen for n in (v.name, f"{v.schema}.{v.name}")}
            if missing:
                known = ", ".join(f"{v.schema}.{v.name}" for v in views) or "none"
                raise ObjectError(
                    ", ".join(sorted(missing)),
                    f"no materialized view named {', '.join(sorted(missing))}; the database has: {known}",
                )
            views = chosen
        can = catalog.unique_plain_indexed(conn, [v.oid for v in views])
        for view in views:
            step = RefreshStep(f"{view.schema}.{view.name}", concurrently and view.oid in can and view.populated)
            progress.step_start(step)
            started = time.perf_counter()
            try:
                conn.execute(ddl.RefreshMaterializedView(view.schema, view.name, concurrently=step.concurrently))
            except sa.exc.DBAPIError as exc:
                progress.step_failed(step)
                raise DatabaseError(
                    first_line(exc),
                    f"refreshing {step.name} failed: {first_line(exc)}; every refresh was rolled back",
                ) from None
            progress.step_done(step, (time.perf_counter() - started) * 1000)
            done.append(step)
    if not done:
        progress.note("No materialized views to refresh.")
    return done
