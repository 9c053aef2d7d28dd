"""``lint``: what the pending (or named, or all) revisions will lock, and the rules they break."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from alembic.script.revision import RevisionError
from alembic.util import CommandError as AlembicCommandError

from .. import plugins
from ..errors import TargetError, UsageError
from ..progress import Progress
from ..runtime import connection, recorder, scripts
from ..runtime.plan import applied_revisions
from ..settings import Settings


def lint(
    database: Any = None,
    revisions: Sequence[str] = (),
    *,
    app=None,
    all: bool = False,
    server_version: Optional[int] = None,
    progress: Optional[Progress] = None,
):
    """Lint revisions: by default the ones not yet applied to the database; ``revisions`` or ``all`` without one.

    :param revisions: revision ids (or unique prefixes) to lint; no database needed, but one
        given (a URL) is asked about column types and volatile functions.
    :param all: every revision, oldest first; no database needed.
    :param server_version: the PostgreSQL version to lint for, e.g. ``110000`` (default: the
        database's when there is one, else unknown).
    :return: a `myapp.db.lint.linter.Report`.
    """
    from ..lint.linter import lint as run_lint
    from ..lint.rules import BUILTIN

    if all and revisions:
        raise UsageError("give revisions or --all, not both")
    settings, progress = Settings.resolve(database, app), progress or Progress()
    manager = plugins.load(settings.app)
    script = scripts.scripts(settings.migrations_dir)
    history = list(reversed(list(script.walk_revisions())))
    facts = {}
    if all:
        chosen = history
    elif revisions:
        if not settings.embedded:  # a database was named: what it knows sharpens the rules
            from ..catalog.facts import lint_facts

            with connection.connect(settings, progress, command="lint") as conn:
                facts = lint_facts(conn)
        chosen = []
        for given in revisions:
            try:
                found = script.get_revision(given)
            except (RevisionError, AlembicCommandError):
                found = None
            if found is None:
                raise TargetError(given, f"no revision {given!r} to lint; run 'python -m myapp.db history' to see them")
            chosen.append(found)
    else:
        from ..catalog.facts import lint_facts

        with connection.connect(settings, progress, command="lint") as conn:
            applied = applied_revisions(script, recorder.current_heads(conn))
            facts = lint_facts(conn)
        chosen = [sc for sc in history if sc.revision not in applied]
    if server_version is not None:
        facts["server_version"] = server_version
    rules = [*BUILTIN, *manager.rules]
    return run_lint(settings.app, settings.migrations_dir, chosen, facts=facts, rules=rules)
