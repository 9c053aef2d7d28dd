"""Helpers shared by the test modules: the package's revisions and schema readers."""

from myapp.apps import app
from myapp.db.catalog.snapshot import schema_snapshot
from myapp.db.runtime import scripts

REVISIONS = [sc.revision for sc in reversed(list(scripts.scripts(app.migrations_dir({})).walk_revisions()))]
HEAD = REVISIONS[-1]


def version(engine):
    with engine.connect() as conn:
        if not conn.dialect.has_table(conn, "alembic_version"):
            return None
        return sorted(r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version"))


def snapshot(engine):
    with engine.connect() as conn:
        return schema_snapshot(conn)


def schema(engine):
    """The snapshot without the version table, which outlives a downgrade to zero."""
    return {
        kind: [row for row in rows
               if row[1] not in ("alembic_version", "alembic_version_pkc", "myapp_db_revisions", "myapp_db_revisions_pkey")]
        for kind, rows in snapshot(engine).items()
    }


def tables(engine):
    """The tables, but the framework's own records (which, like the version table, outlive a downgrade)."""
    return sorted({row[1] for row in snapshot(engine)["relations"] if row[2] == "r" and row[1] != "myapp_db_revisions"})
