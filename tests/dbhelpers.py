"""Helpers shared by the test modules: the package's revisions, schema readers, roles."""

import contextlib
import uuid

from myapp.apps import app
from myapp.db.catalog.snapshot import schema_snapshot
from myapp.db.runtime import scripts
from myapp.db.runtime.records import OWN_TABLES

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
               if row[1] not in ("alembic_version", "alembic_version_pkc") and not own(row[1])]
        for kind, rows in snapshot(engine).items()
    }


def tables(engine):
    """The tables, but the framework's own records (which, like the version table, outlive a downgrade)."""
    return sorted({row[1] for row in snapshot(engine)["relations"] if row[2] == "r" and not own(row[1])})


def own(name) -> bool:
    """Whether a catalog name is one of the framework's own tables (or their indexes and constraints)."""
    return any(name == t or str(name).startswith(t + "_") for t in OWN_TABLES)


@contextlib.contextmanager
def cluster_roles(admin, **names):
    """Create roles ``{key: name}``, a random suffix added, for a while (roles belong to the
    cluster, not a database: drop the databases that use them first)."""
    suffix = uuid.uuid4().hex[:8]
    made = {key: f"{name} {suffix}" if " " in name else f"{name}_{suffix}" for key, name in names.items()}
    quote = admin.dialect.identifier_preparer.quote
    with admin.connect() as conn:
        for name in made.values():
            conn.exec_driver_sql(f"CREATE ROLE {quote(name)}")
    try:
        yield made
    finally:
        with admin.connect() as conn:
            for name in made.values():
                conn.exec_driver_sql(f"DROP ROLE IF EXISTS {quote(name)}")


def assert_one_line(result, *fragments, status=2):
    """A CLI mistake: exit ``status``, one error line holding every fragment, no traceback."""
    assert result.status == status, result
    errors = [line for line in result.err.splitlines() if ": error: " in line]
    assert len(errors) == 1, result
    assert "Traceback" not in result.err + result.out and '  File "' not in result.err, result
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]
