"""``bootstrap``: a fresh database at head in one step, create_all and the registry, then stamp."""

from __future__ import annotations

import time
from typing import Any, Optional, Tuple

import sqlalchemy as sa

from .. import plugins
from ..errors import UsageError
from ..progress import Progress
from ..replaceable import registry
from ..runtime import connection, history, recorder, scripts
from ..settings import Settings


def bootstrap(database: Any = None, *, app=None, progress: Optional[Progress] = None) -> Tuple[str, ...]:
    """Create the whole schema on an empty database with create_all and stamp it at head.

    Runs in one transaction under the migration lock. Refuses a database that
    has a migration history or holds any table the app would create.

    :return: the heads the database was stamped with.
    """
    settings, progress = Settings.resolve(database, app), progress or Progress()
    script = scripts.scripts(settings.migrations_dir)
    history.single_head(script, "bootstrap")
    manager = plugins.load(settings.app)
    metadata = settings.app.metadata()
    objects = [*settings.app.objects(), *manager.objects(settings.app)]
    with connection.connect(settings, progress, lock=True, command="bootstrap") as conn, \
            connection.transaction(conn):
        at = recorder.current_heads(conn)
        if at:
            raise UsageError(
                f"the database already has a migration history (at {', '.join(at)}); "
                "use 'python -m myapp.db migrate' to bring it up to date"
            )
        inspector = sa.inspect(conn)
        found = [t.fullname for t in metadata.sorted_tables if inspector.has_table(t.name, schema=t.schema)]
        if found:
            raise UsageError(
                f"the database is not empty: it already has table(s) {', '.join(found)}; "
                "use 'python -m myapp.db migrate' for an existing database"
            )
        started = time.perf_counter()
        metadata.create_all(conn)
        created = registry.create_all(conn, objects)
        heads = recorder.stamp(conn, script, "heads")
        progress.note(
            f"Created {len(metadata.tables)} tables and {len(created)} views, functions and "
            f"materialized views; stamped {', '.join(heads)} (head) "
            f"in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    return heads
