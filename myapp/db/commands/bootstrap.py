"""``bootstrap``: a fresh database (or tenant schema) at head in one step, create_all and the registry, then stamp."""

from __future__ import annotations

import time
from typing import Any, Optional, Tuple

import sqlalchemy as sa

from .. import plugins
from ..errors import UsageError, schema_option
from ..progress import Progress
from ..runtime import connection, index, recorder, records, revisions, scripts
from ..runtime import data as data_steps
from ..settings import Settings


def _stamp(conn, script, versions, version, tenant) -> None:
    """Stamp every head and record every revision as applied by bootstrap (data steps skipped).

    From the revision index when it can tell (no revision module is imported), else through Alembic.
    """
    found = index.cached(versions)
    for statement in records.ensure(conn, tenant):
        conn.execute(statement)
    conn.execute(records.table(tenant).delete())
    if found is not None:
        recorder.write_heads(conn, sorted(found.heads()))
        records.insert_all(conn, found.entries.values(), how="bootstrap", package_version=version, schema=tenant,
                           data_steps=lambda e: records.DATA_SKIPPED if e.data else None)
        return
    recorder.stamp(conn, script, "heads")
    for sc in script.walk_revisions():
        for statement in records.insert(sc.revision, sc.path, how="bootstrap", duration_ms=None,
                                        package_version=version, schema=tenant, data_step=data_steps.initial(sc)):
            conn.execute(statement)


def bootstrap(database: Any = None, *, app=None, schema: Optional[str] = None,
              progress: Optional[Progress] = None) -> Tuple[str, ...]:
    """Create the whole schema on an empty database with create_all and stamp it at head.

    Runs in one transaction under the migration lock. Refuses a database that
    has a migration history or holds any table the app would create. Data
    steps never run (they are recorded as skipped); plugins' ``seed`` hooks
    fill the new database last.

    :param schema: create a new tenant: the schema (made if missing) with the app's
        tables and objects that declare no schema of their own, and its own version
        table. Tables and objects with an explicit schema are shared: only a bootstrap
        without ``schema`` creates them.
    :return: the heads the database was stamped with.
    """
    settings, progress = Settings.resolve(database, app).for_schema(schema), progress or Progress()
    tenant = settings.schema
    script = scripts.scripts(settings.migrations_dir)
    if len(revisions.heads(script, settings.migrations_dir / "versions")) > 1:
        revisions.single_head(script, "bootstrap")  # raises, naming every head and its file
    manager = plugins.load(settings.app)
    metadata = settings.app.metadata()
    objects = [*settings.app.objects(), *manager.objects(settings.app)]
    tables = metadata.sorted_tables
    if tenant is not None:  # a tenant gets what declares no schema; the rest is shared
        tables = [t for t in tables if t.schema is None]
        objects = [o for o in objects if o.schema is None]
    where = f"schema {tenant!r}" if tenant else "the database"
    with connection.connect(settings, progress, lock=True, command="bootstrap") as conn, \
            connection.transaction(conn):
        if tenant is not None:
            conn.execute(sa.schema.CreateSchema(tenant, if_not_exists=True))
        at = recorder.current_heads(conn)
        if at:
            raise UsageError(
                f"{where} already has a migration history (at {', '.join(at)}); "
                f"use 'python -m myapp.db migrate{schema_option(tenant)}' to bring it up to date"
            )
        inspector = sa.inspect(conn)
        found = [t.fullname for t in tables if inspector.has_table(t.name, schema=t.schema or tenant)]
        if found:
            raise UsageError(
                f"{where} is not empty: it already has table(s) {', '.join(found)}; "
                "use 'python -m myapp.db migrate' for an existing database"
            )
        started = time.perf_counter()
        metadata.create_all(conn, tables=tables)
        from ..replaceable import registry

        created = registry.create_all(conn, objects)
        objects_table = records.objects_table(tenant)
        for statement in records.ensure_objects(conn, tenant):
            conn.execute(statement)
        for obj in created:
            if obj.kind in records.RECORDED_KINDS:
                for statement in records.record_object(obj, table=objects_table, create=False):
                    conn.execute(statement)
        _stamp(conn, script, settings.migrations_dir / "versions", settings.app.package_version(), tenant)
        heads = recorder.current_heads(conn)
        manager.call("seed", app=settings.app, connection=conn, schema=tenant)
        progress.note(
            f"Created {len(tables)} tables and {len(created)} views, functions and "
            f"materialized views; stamped {', '.join(heads)} (head) "
            f"in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
    return heads
