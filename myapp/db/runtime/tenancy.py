"""A tenant schema on a connection: the one place that points a connection at a tenant.

The Alembic cookbook's "schema-level multi tenancy", made safe to share:
``search_path`` is the tenant's schema (then the App's shared schemas), so
revisions and registry objects written without a schema land in the tenant;
``schema_translate_map`` ``{None: tenant}`` sends SQLAlchemy constructs with no
schema (the ORM in a data step) there whatever the search path says; and the
connection remembers its tenant (`schema_of`), so that the version table and
the records are read and written in the tenant's schema. Tables and objects
declared with an explicit schema are the shared ones and are left alone.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from .session import SET, SHOW

#: Where a connection keeps its tenant (``Connection.info``, which lives with the DBAPI connection).
KEY = "myapp.db.schema"


def schema_of(conn) -> Optional[str]:
    """The tenant schema ``conn`` works in (None: the database's own default schema)."""
    return conn.info.get(KEY) if conn is not None else None


def search_path(schema: str, app) -> str:
    """The ``search_path`` of a tenant: its schema, then the App's shared schemas, each quoted."""
    preparer = postgresql.dialect().identifier_preparer
    return ", ".join(preparer.quote_identifier(name) for name in (schema, *app.shared_schemas))


def set_search_path(schema: str, app) -> sa.sql.Select:
    """The statement that sets a tenant's search path for the session (offline SQL starts with it)."""
    return sa.select(sa.func.set_config("search_path", search_path(schema, app), False))


@contextlib.contextmanager
def tenant(conn, settings, *, owned: bool) -> Iterator[None]:
    """Run the block with ``conn`` pointed at the tenant schema of ``settings`` (if it names one).

    ``owned``: the connection is ours and closes after the command. A caller's
    connection gets its search path and translate map back afterwards; inside
    the caller's transaction the search path is set for that transaction only.
    """
    schema = settings.schema
    if schema is None:
        yield
        return
    local = conn.in_transaction() and not owned
    previous = None if owned else conn.scalar(SHOW, {"name": "search_path"})
    conn.execute(SET, {"name": "search_path", "value": search_path(schema, settings.app), "local": local})
    if not local:
        conn.commit()
    translate = conn.get_execution_options().get("schema_translate_map")
    conn.execution_options(schema_translate_map={None: schema})
    conn.info[KEY] = schema
    try:
        yield
    finally:
        conn.info.pop(KEY, None)
        if not conn.invalidated:
            conn.execution_options(schema_translate_map=translate)
            if previous is not None and not local:
                with contextlib.suppress(sa.exc.DBAPIError):
                    if conn.in_transaction():
                        conn.rollback()
                    conn.execute(SET, {"name": "search_path", "value": previous, "local": False})
                    conn.commit()
