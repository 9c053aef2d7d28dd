"""Run Alembic's autogenerate through the app's env.py: the differences, and a revision to write."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple

from alembic.autogenerate import RevisionContext
from alembic.runtime.environment import EnvironmentContext

from ..runtime import scripts
from ..runtime.env import RUN, Run


def autogenerate(app, migrations_dir: Path, conn, message: Optional[str] = None) -> Tuple[RevisionContext, List[Any]]:
    """Compare the App's models and objects with the database on ``conn``; change nothing in the end.

    What the comparison does happens in a savepoint that is rolled back (it
    does hold locks on the objects it drops meanwhile).
    :return: the `RevisionContext` (holding the new revision's operations) and its differences.
    """
    script = scripts.scripts(migrations_dir)
    cfg = scripts.config(migrations_dir)
    command_args = dict(
        message=message, autogenerate=True, sql=False, head="head", splice=False,
        branch_label=None, version_path=None, rev_id=None, depends_on=None,
    )
    context = RevisionContext(cfg, script, command_args)

    def retrieve(rev, ctx):
        context.run_autogenerate(rev, ctx)
        return []

    cfg.attributes[RUN] = Run(app=app, connection=conn)
    comparing = conn.begin_nested()  # a caller's transaction outlives the comparison
    try:
        with EnvironmentContext(
            cfg, script, fn=retrieve, as_sql=False,
            template_args=context.template_args, revision_context=context,
        ):
            script.run_env()
    finally:
        comparing.rollback()
    diffs = [d for ops in context.generated_revisions[-1].upgrade_ops_list for d in ops.as_diffs()]
    return context, diffs
