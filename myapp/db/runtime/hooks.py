"""The plugins' run hooks around each revision, inside the revision's own transaction.

`install` wraps the steps Alembic is about to run, whichever command planned
them (myapp.db's executor, plain Alembic, pytest-alembic), online and
offline alike: ``before_migrate`` before the first revision, ``before_revision``
and ``after_revision`` around each (before its version row is written),
``after_migrate`` after the last.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

from alembic.operations import Operations
from alembic.runtime.migration import RevisionStep

from .. import compat


def install(migration_context, manager, *, before_step: Optional[Callable] = None, revisions: tuple = ()) -> None:
    """Make ``migration_context`` run its revision steps through the plugins' hooks.

    :param revisions: the whole run's revision ids, when this context runs only
        part of it (the executor runs a plan in segments, and again after a
        retry): ``before_migrate`` and ``after_migrate`` fire at the run's ends.
    """

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
                step.migration_fn(**kw)
                manager.call("after_revision", revision=revision, **common)
                if revision == ids[-1]:
                    manager.call("after_migrate", revisions=ids, **common)

            return compat.with_migration_fn(step, migration_fn)

        return [hooked(s) if isinstance(s, RevisionStep) else s for s in steps]

    compat.wrap_migrations_fn(migration_context, wrap)
