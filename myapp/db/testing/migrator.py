"""`Migrator`: one database moved to any revision of an app's history, to test a data migration.

    def test_quality_is_filled_in(myapp_db_migrator):
        myapp_db_migrator.migrate_before("b7d41e9a0c52")       # the schema the data step starts from
        myapp_db_migrator.insert("observations", {"station_id": 1, "value": 2.5, ...})
        myapp_db_migrator.migrate("b7d41e9a0c52")              # run the data step
        with myapp_db_migrator.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT quality FROM observations")) == "raw"
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa

from ..app import App
from ..errors import TargetError


class Migrator:
    """Moves the database at ``url`` through ``app``'s history, as ``migrate`` does, in this process.

    :ivar url: the database (a URL string).
    :ivar engine: an engine for it (no pool), disposed after the test.
    """

    def __init__(self, url: str, app: App):
        self.url, self.app = url, app
        self.engine = sa.create_engine(url, poolclass=sa.NullPool)

    def _script(self):
        from ..runtime import scripts

        return scripts.scripts(self.app.migrations_dir())

    @property
    def revisions(self) -> List[str]:
        """Every revision id, oldest first."""
        return [sc.revision for sc in reversed(list(self._script().walk_revisions()))]

    @property
    def heads(self) -> Tuple[str, ...]:
        return tuple(self._script().get_heads())

    def current(self) -> Tuple[str, ...]:
        """The revisions the database is at (empty: none)."""
        from ..runtime.guard import current_revisions

        with self.engine.connect() as conn:
            return current_revisions(conn)

    def migrate(self, target: str = "head"):
        """Upgrade or downgrade to ``target`` (a revision or prefix, ``head``, ``zero``, ``-1``, ``+2``)."""
        from ..commands import migrate

        return migrate(self.engine, target, app=self.app)

    def migrate_before(self, revision: str) -> Tuple[str, ...]:
        """Move to the revision(s) ``revision`` follows (base for the first), so that it is next; return them."""
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError as AlembicCommandError

        try:
            found = self._script().get_revision(revision) if revision else None
        except (RevisionError, AlembicCommandError):
            found = None
        if found is None:
            raise TargetError(revision, f"no revision {revision!r} in the history of app {self.app.label!r}")
        down = found.down_revision
        parents = () if down is None else (down,) if isinstance(down, str) else tuple(down)
        for parent in parents or ("zero",):
            self.migrate(parent)
        return parents

    def table(self, name: str, schema: Optional[str] = None) -> sa.Table:
        """Table ``name`` as it is now in the database (reflected), for the schema of an old revision."""
        with self.engine.connect() as conn:
            return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)

    def insert(self, table: Any, *rows: Dict[str, Any]) -> None:
        """Insert ``rows`` into ``table`` (a name, reflected now, or a Table) and commit.

        A value may be an SQL expression (``sa.func.now()``).
        """
        if isinstance(table, str):
            table = self.table(table)
        with self.engine.begin() as conn:
            for row in rows:
                conn.execute(sa.insert(table).values(row))

    def close(self) -> None:
        self.engine.dispose()
