"""Run Alembic's autogenerate through the app's env.py: the differences, and a revision to write."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple

import sqlalchemy as sa
from alembic.autogenerate import RevisionContext, produce_migrations
from alembic.runtime.environment import EnvironmentContext

from ..replaceable.ops import CreateReplaceableObjectOp, DropReplaceableObjectOp, ReplaceReplaceableObjectOp
from ..errors import LOCK_NOT_AVAILABLE, ObjectError, caused_by, first_line
from ..runtime import records, scripts, session
from ..runtime.env import RUN, Run
from . import cache

#: How long the comparison waits for any lock (the records' checks and copies wait as long at most).
LOCK_TIMEOUT = "2s"
#: How long a check waits to write its bookkeeping (records of objects found in sync) before leaving it.
BOOKKEEPING_LOCK_TIMEOUT = "200ms"
INSUFFICIENT_PRIVILEGE = "42501"

#: The operations of replaceable objects (any other is a table's).
OBJECT_OPS = (CreateReplaceableObjectOp, DropReplaceableObjectOp, ReplaceReplaceableObjectOp)


def autogenerate(app, migrations_dir: Path, conn, message: Optional[str] = None, *,
                 check: bool = False, defer_creates: bool = False) -> Tuple[Optional[RevisionContext], List[Any]]:
    """Compare the App's models and objects with the database on ``conn``; change nothing in the end.

    What the comparison does happens in a savepoint that is rolled back (it
    does hold locks on the objects it drops meanwhile). Where the tables are
    known to be in sync (`myapp.db.autogenerate.cache`), only the objects are compared.
    :param check: only the differences are wanted: no revision is prepared, so Alembic's revision
        map (every revision module imported) is not needed; the caller has checked the heads.
    :param defer_creates: when every object that differs is new, leave creating their copies (which
        checks they can be created in the order of the operations) to `validate_new`, which the
        caller runs before it keeps the revision.
    :return: the `RevisionContext` (holding the new revision's operations; None with ``check``)
        and the differences.
    """
    from .settled import DEFER, PENDING

    conn.info.pop(PENDING, None)
    conn.info[DEFER] = defer_creates
    try:
        return _autogenerate(app, migrations_dir, conn, message, check)
    finally:
        conn.info.pop(DEFER, None)


def validate_new(conn) -> bool:
    """Whether the new objects the last `autogenerate` (with ``defer_creates``) left unchecked can be
    created in the order of its operations (True when it left none). False: run the comparison
    again without deferring, which finds an order or names the object that cannot be created."""
    from .settled import PENDING, create_pending

    pending = conn.info.pop(PENDING, None)
    if not pending:
        return True
    try:
        return create_pending(conn, pending)
    except sa.exc.DBAPIError as exc:
        if caused_by(exc, LOCK_NOT_AVAILABLE):
            raise _lock_error(conn, exc) from None
        raise


def _autogenerate(app, migrations_dir: Path, conn, message: Optional[str], check: bool
                  ) -> Tuple[Optional[RevisionContext], List[Any]]:
    memo, in_sync = cache.Memo.open(app, migrations_dir, conn), None
    if memo is not None:
        in_sync = memo.in_sync(conn)  # the tables' schemas, when they are known to be in sync
        if in_sync is None:
            memo.take(conn, app.metadata())  # before the comparison reads anything
    script = scripts.scripts(migrations_dir)
    cfg = scripts.config(migrations_dir)
    command_args = dict(
        message=message, autogenerate=True, sql=False, head="head", splice=False,
        branch_label=None, version_path=None, rev_id=None, depends_on=None,
    )
    context = None if check else RevisionContext(cfg, script, command_args)
    produced = []

    def retrieve(rev, ctx):
        if context is None:
            produced.append(produce_migrations(ctx, ctx.opts["target_metadata"]))
        else:
            context.run_autogenerate(rev, ctx)
        return []

    cfg.attributes[RUN] = Run(app=app, connection=conn, autogenerate=True, tables_in_sync=in_sync)
    comparing = conn.begin_nested()  # a caller's transaction outlives the comparison
    try:
        # Every lock the comparison waits for is bounded: deparsing a stored view locks what it reads.
        conn.execute(session.SET, {"name": "lock_timeout", "value": LOCK_TIMEOUT, "local": True})
        with EnvironmentContext(
            cfg, script, fn=retrieve, as_sql=False,
            template_args=context.template_args if context else {}, revision_context=context,
        ):
            script.run_env()
    except (sa.exc.DBAPIError, ObjectError) as exc:
        comparing.rollback()
        if caused_by(exc, LOCK_NOT_AVAILABLE):
            raise _lock_error(conn, exc) from None
        raise
    finally:
        if comparing.is_active:
            comparing.rollback()
    migration = produced[-1] if context is None else context.generated_revisions[-1]
    diffs = [d for ops in migration.upgrade_ops_list for d in ops.as_diffs()]
    if in_sync is None and memo is not None and all(
            isinstance(op, OBJECT_OPS) for ops in migration.upgrade_ops_list for op in ops.ops):
        memo.remember()  # no table operation: the tables are in sync
    return context, diffs


def _lock_error(conn, exc) -> ObjectError:
    """The one-line error of a comparison that waited longer than `LOCK_TIMEOUT`, naming who holds
    the locks that a read waits behind."""
    from ..catalog import activity

    try:
        holders = "; ".join(map(str, activity.exclusive_holders(conn)))
    except sa.exc.DBAPIError:
        holders = ""
    return ObjectError("", f"comparing the models and objects with the database waited more than {LOCK_TIMEOUT} "
                           f"for {holders or first_line(exc)}; run the check again when that session is done")


def record_in_sync(conn, *, commit: bool) -> None:
    """Record the declared objects the last comparison found in sync and that had no record (databases
    made before the records), and the new rows' version of recorded views whose text it found as
    recorded: the next check then needs no DDL and deparses nothing. Never on a read-only session;
    bookkeeping only, so a lock held elsewhere (200 ms at most) or a role that may not write the
    records leaves it for the next check.

    :param commit: the connection is ours: commit the records (else they join the caller's transaction).
    """
    from ..catalog.objects import current_schema
    from .compare import UNRECORDED
    from .settled import ROWS_MOVED, read_only, record_unrecorded

    found = conn.info.pop(UNRECORDED, [])
    moved = conn.info.pop(ROWS_MOVED, False)
    if not (found or moved) or read_only(conn):
        return
    recorded = {key[:3] for key in records.read_objects(conn) or {}}  # (kind, schema, name)
    current = current_schema(conn)
    missing = [o for o in found if (o.kind, o.schema or current, o.name) not in recorded]
    if missing or moved:
        previous = conn.scalar(sa.text("SELECT current_setting('lock_timeout')"))  # a caller's transaction keeps its own
        savepoint = conn.begin_nested()
        try:
            conn.execute(session.SET, {"name": "lock_timeout", "value": BOOKKEEPING_LOCK_TIMEOUT, "local": True})
            if missing:
                record_unrecorded(conn, missing)
            if moved:
                for statement in records.ensure_objects(conn):
                    conn.execute(statement)
                conn.execute(records.refresh_rows())
            savepoint.commit()
            conn.execute(session.SET, {"name": "lock_timeout", "value": previous, "local": True})
        except sa.exc.DBAPIError as exc:
            savepoint.rollback()  # only bookkeeping: the comparison stands, the next check tries again
            if not (caused_by(exc, LOCK_NOT_AVAILABLE) or caused_by(exc, INSUFFICIENT_PRIVILEGE)):
                raise
    if commit:
        conn.commit()
