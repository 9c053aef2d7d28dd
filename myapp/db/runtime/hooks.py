"""What runs around each revision, inside the revision's own transaction: plugin hooks and its record.

`install` wraps the steps Alembic is about to run, whichever command planned
them (myapp.db's executor, plain Alembic, pytest-alembic), online and
offline alike: ``before_migrate`` before the first revision, ``before_revision``
and ``after_revision`` around each, then its record in ``myapp_db_revisions``
(written, or deleted for a downgrade) before Alembic writes its version row,
``after_migrate`` after the last.
"""

from __future__ import annotations

import functools
import time
from typing import Callable, Optional

from alembic.operations import Operations
from alembic.runtime.migration import RevisionStep

from .. import compat
from . import records


def install(migration_context, manager, *, before_step: Optional[Callable] = None, revisions: tuple = (),
            how: str = "migrate", version: Optional[Callable[[], Optional[str]]] = None,
            write_records: bool = True) -> None:
    """Make ``migration_context`` run its revision steps through the plugins' hooks.

    :param revisions: the whole run's revision ids, when this context runs only
        part of it (the executor runs a plan in segments, and again after a
        retry): ``before_migrate`` and ``after_migrate`` fire at the run's ends.
    :param how: what the records say ran the revisions (``migrate``, ``alembic``, ``sql``).
    :param version: returns the app's version, for the records.
    :param write_records: write the records (the revisions' and their objects'); lint renders without.
    """
    schema = migration_context.version_table_schema
    created = []

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
                if context.as_sql and getattr(step.revision.module, "atomic", True) is False:
                    with context.autocommit_block():  # offline: COMMIT; ... BEGIN; around it
                        step.migration_fn(**kw)
                else:
                    step.migration_fn(**kw)
                manager.call("after_revision", revision=revision, **common)
                if write_records:
                    _record(context, step, int((time.perf_counter() - started) * 1000))
                if revision == ids[-1]:
                    manager.call("after_migrate", revisions=ids, **common)

            return compat.with_migration_fn(step, migration_fn)

        return [hooked(s) if isinstance(s, RevisionStep) else s for s in steps]

    def _record(context, step, duration_ms: int) -> None:
        for statement in records.flush_objects(context):  # what its operations created or dropped
            context.execute(statement)
        if not created:
            context.execute(records.create(schema))
            created.append(True)
        if step.is_upgrade:
            statements = records.insert(step.revision.revision, step.revision.path, how=how,
                                        duration_ms=duration_ms, package_version=version() if version else None,
                                        schema=schema)
        else:
            statements = [records.delete(step.revision.revision, schema)]
        for statement in statements:
            context.execute(statement)

    compat.wrap_migrations_fn(migration_context, wrap)
