"""``bootstrap``: a fresh database at head in one step, create_all and the registry, then stamp."""

from __future__ import annotations

import time
from typing import Any, Optional, Tuple

import sqlalchemy as sa

from .. import plugins
from ..errors import UsageError
from ..progress import Progress
from ..replaceable import registry
from ..runtime import connection, index, recorder, records, revisions, scripts
from ..settings import Settings


def _stamp(conn, script, versions, version) -> None:
    """Stamp every head and record every revision as applied by bootstrap.

    From the revision index when it can tell (no revision module is imported), else through Alembic.
    """
    found = index.cached(versions)
    conn.execute(records.create())
    conn.execute(records.table().delete())
    if found is not None:
        recorder.write_heads(conn, sorted(found.heads()))
        records.insert_all(conn, found.entries.values(), how="bootstrap", package_version=version)
        return
    recorder.stamp(conn, script, "heads")
    for sc in script.walk_revisions():
        for statement in records.insert(sc.revision, sc.path, how="bootstrap", duration_ms=None,
                                        package_version=version):
            conn.execute(statement)


def bootstrap(database: Any = None, *, app=None, progress: Optional[Progress] = None) -> Tuple[str, ...]:
    """Create the whole schema on an empty database with create_all and stamp it at head.

    Runs in one transaction under the migration lock. Refuses a database that
    has a migration history or holds any table the app would create.

    :return: the heads the database was stamped with.
    """
    settings, progress = Settings.resolve(database, app), progress or Progress()
    script = scripts.scripts(settings.migrations_dir)
    revisions.single_head(script, "bootstrap")
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
        objects_table = records.objects_table()
        conn.execute(sa.schema.CreateTable(objects_table, if_not_exists=True))
        for obj in created:
            if obj.kind in records.RECORDED_KINDS:
                for statement in records.record_object(obj, table=objects_table, create=False):
                    conn.execute(statement)
        _stamp(conn, script, settings.migrations_dir / "versions", settings.app.package_version())
        heads = recorder.current_heads(conn)
        progress.note(
            f"Created {len(metadata.tables)} tables and {len(created)} views, functions and "
            f"materialized views; stamped {', '.join(heads)} (head) "
            f"in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    return heads
