"""What runs around each revision, inside the revision's own transaction: plugin hooks, data steps, records.

`install` wraps the steps Alembic is about to run, whichever command planned
them (myapp.db's executor, plain Alembic, pytest-alembic), online and
offline alike: ``before_migrate`` before the first revision, ``before_revision``
and ``after_revision`` around each, its data step (`data`) after
``upgrade()`` or before ``downgrade()``, then its record in
``myapp_db_revisions`` (written, or deleted for a downgrade) before Alembic
writes its version row, ``after_migrate`` after the last. `run_data_steps`
runs the pending data steps alone (``migrate --data-only``), with the same
hooks around them.
"""

from __future__ import annotations

import functools
import time
from typing import Callable, Optional, Sequence

from alembic.operations import Operations
from alembic.runtime.migration import RevisionStep

from .. import compat
from . import data as data_steps
from . import records


def install(migration_context, manager, *, before_step: Optional[Callable] = None, revisions: tuple = (),
            how: str = "migrate", version: Optional[Callable[[], Optional[str]]] = None,
            data: bool = True, write_records: bool = True) -> None:
    """Make ``migration_context`` run its revision steps through the plugins' hooks.

    :param revisions: the whole run's revision ids, when this context runs only
        part of it (the executor runs a plan in segments, and again after a
        retry): ``before_migrate`` and ``after_migrate`` fire at the run's ends.
    :param how: what the records say ran the revisions (``migrate``, ``alembic``, ``sql``).
    :param version: returns the app's version, for the records.
    :param data: run the revisions' data steps (``--no-data``: False; they are recorded as pending).
    :param write_records: write the records (the revisions' and their objects'); lint renders without.
    """
    schema = migration_context.version_table_schema
    created, recorded, objects_ensured = [], [], []

    def wrap(steps: list, context) -> list:
        found = [s for s in steps if isinstance(s, RevisionStep)]
        if not found:
            return steps
        ids = revisions or tuple(s.revision.revision for s in found)
        common = dict(operations=Operations(context), upgrade=found[0].is_upgrade)

        def hooked(step):
            @functools.wraps(step.migration_fn)  # Alembic logs "Running upgrade ..." by its name
            def migration_fn(**kw):
                if before_step is not None:
                    before_step(step)
                revision = step.revision.revision
                if revision == ids[0]:
                    manager.call("before_migrate", revisions=ids, **common)
                manager.call("before_revision", revision=revision, **common)
                started = time.perf_counter()
                data_fn = data_steps.function(step.revision, step.is_upgrade)
                if not step.is_upgrade and data_fn is not None and data and _data_ran(context, revision):
                    data_fn(**kw)
                if context.as_sql and getattr(step.revision.module, "atomic", True) is False:
                    with context.autocommit_block():  # offline: COMMIT; ... BEGIN; around it
                        step.migration_fn(**kw)
                else:
                    step.migration_fn(**kw)
                state = None
                if step.is_upgrade and data_fn is not None:
                    if data:
                        data_fn(**kw)
                    state = records.DATA_APPLIED if data else records.DATA_PENDING
                manager.call("after_revision", revision=revision, **common)
                if write_records:
                    _record(context, step, int((time.perf_counter() - started) * 1000), state)
                if revision == ids[-1]:
                    manager.call("after_migrate", revisions=ids, **common)

            return compat.with_migration_fn(step, migration_fn)

        return [hooked(s) if isinstance(s, RevisionStep) else s for s in steps]

    def _data_ran(context, revision: str) -> bool:
        """Whether ``revision``'s data step ran (offline, or with no record to say: assume it did)."""
        if context.as_sql:
            return True
        if not recorded:
            recorded.append(records.read(context.connection, schema) or {})
        record = recorded[0].get(revision)
        return record is None or record.data_step not in (records.DATA_PENDING, records.DATA_SKIPPED)

    def _record(context, step, duration_ms: int, data_state: Optional[str]) -> None:
        flushed = records.flush_objects(context, ensure=not objects_ensured)  # what its operations created or dropped
        for statement in flushed:
            context.execute(statement)
        if flushed:
            objects_ensured.append(True)
        if not created:
            for statement in records.ensure(context.connection, schema, offline=context.as_sql):
                context.execute(statement)
            created.append(True)
        if step.is_upgrade:
            statements = records.insert(step.revision.revision, step.revision.path, how=how,
                                        duration_ms=duration_ms, package_version=version() if version else None,
                                        schema=schema, data_step=data_state)
        else:
            statements = [records.delete(step.revision.revision, schema)]
        for statement in statements:
            context.execute(statement)

    compat.wrap_migrations_fn(migration_context, wrap)


def run_data_steps(migration_context, manager, scripts: Sequence, *, before_step: Optional[Callable] = None,
                   after_step: Optional[Callable] = None) -> None:
    """Run the data steps of the applied revisions ``scripts`` (Alembic `Script`\\ s), oldest first, and record them.

    Nothing else runs: no schema step, no version row. The plugins' run hooks
    fire around them as around a run of revisions (``upgrade=True``).
    """
    if not scripts:
        return
    schema = migration_context.version_table_schema
    ids = tuple(sc.revision for sc in scripts)
    with Operations.context(migration_context):
        common = dict(operations=Operations(migration_context), upgrade=True)
        manager.call("before_migrate", revisions=ids, **common)
        for sc in scripts:
            if before_step is not None:
                before_step(sc)
            started = time.perf_counter()
            manager.call("before_revision", revision=sc.revision, **common)
            data_fn = data_steps.function(sc, True)
            if data_fn is not None:
                data_fn()
            manager.call("after_revision", revision=sc.revision, **common)
            migration_context.execute(records.set_data_step(sc.revision, records.DATA_APPLIED, schema))
            if after_step is not None:
                after_step(sc, (time.perf_counter() - started) * 1000)
        manager.call("after_migrate", revisions=ids, **common)
