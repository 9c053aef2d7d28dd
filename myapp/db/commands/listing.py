"""``showmigrations``, ``current``, ``heads`` and ``history``: what the history holds and where a database is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from alembic.script import Script

from .. import plugins
from ..progress import Progress
from ..runtime import connection, recorder, records, scripts
from ..runtime.revisions import check_known
from ..runtime.plan import applied_revisions
from ..settings import Settings


@dataclass(frozen=True)
class MigrationRow:
    """A revision as `showmigrations` lists it."""

    revision: str
    message: str
    applied: bool
    head: bool
    current: bool
    #: What ``myapp_db_revisions`` says of it (None: not applied, or applied before records were kept).
    record: Optional[Any] = None

    @property
    def data_pending(self) -> bool:
        """Applied without its data step (``--no-data``): ``migrate --data-only`` runs it."""
        return self.record is not None and self.record.data_pending


def _at(settings: Settings, progress: Progress, command: str, *, with_records: bool = False):
    plugins.load(settings.app)
    with connection.connect(settings, progress, command=command) as conn:
        heads = recorder.current_heads(conn)
        return (heads, records.read(conn) or {}) if with_records else heads


def showmigrations(database: Any = None, *, app=None, schema: Optional[str] = None,
                   progress: Optional[Progress] = None) -> List[MigrationRow]:
    """List every revision, oldest first, marking which are applied, the head and the current one
    (in tenant ``schema``, when given)."""
    settings, progress = Settings.resolve(database, app).for_schema(schema), progress or Progress()
    script = scripts.scripts(settings.migrations_dir)
    current, recorded = _at(settings, progress, "showmigrations", with_records=True)
    applied = applied_revisions(script, current)
    heads = set(script.get_heads())
    return [
        MigrationRow(sc.revision, sc.doc or "", sc.revision in applied, sc.revision in heads, sc.revision in current,
                     recorded.get(sc.revision) if sc.revision in applied else None)
        for sc in reversed(list(script.walk_revisions()))
    ]


def current(database: Any = None, *, app=None, schema: Optional[str] = None,
            progress: Optional[Progress] = None) -> List[Script]:
    """Show the revision(s) the database (or tenant ``schema``) is at; an empty list means no revision (base)."""
    settings, progress = Settings.resolve(database, app).for_schema(schema), progress or Progress()
    script = scripts.scripts(settings.migrations_dir)
    at = _at(settings, progress, "current")
    check_known(script, at)
    return [script.get_revision(h) for h in at]


def heads(database: Any = None, *, app=None) -> List[Script]:
    """Show the head revision(s) of the migration history."""
    script = scripts.scripts(Settings.resolve(database, app).migrations_dir)
    return [script.get_revision(h) for h in script.get_heads()]


def history(database: Any = None, *, app=None) -> List[Script]:
    """Show the migration history, newest first."""
    script = scripts.scripts(Settings.resolve(database, app).migrations_dir)
    return list(script.walk_revisions())
