"""Many tenants and many databases: one history applied to each, ``-j N`` at a time, with a report.

`targets` (which databases and tenant schemas), `survey` (the one cheap read
that skips what is already done), `pool` (bounded parallelism in worker
processes, interrupts), `report` (each target's outcome, text and JSON) and
`fanout` (``migrate_all``, tying them together). What a tenant schema means on
a connection (search path, translate map, version table, lock) is the
runtime's: `myapp.db.runtime.tenancy`.
"""

from __future__ import annotations

from typing import Optional

from .fanout import migrate_all
from .report import Outcome, Report

__all__ = ["Outcome", "Report", "migrate_all", "tenant_schema"]


def tenant_schema() -> Optional[str]:
    """The tenant schema the running migration works in; None in the database's own (shared) run.

    For revisions (and data steps) that treat the shared schema apart, e.g.
    ``if tenant_schema() is None: op.add_column("plans", ..., schema="shared")``.
    """
    from alembic import context

    from ..errors import UsageError

    try:
        migration_context = context.get_context()
    except (NameError, AttributeError):
        raise UsageError("tenant_schema() is known only while a migration runs (in a revision)") from None
    return migration_context.opts.get("myapp_db_schema")
