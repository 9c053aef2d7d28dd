"""The body of every app's env.py: configure Alembic for an App and run, whoever called it.

Three callers, one environment:

* myapp.db's own commands put a `Run` in ``config.attributes["myapp.db"]``:
  the App, and a connection that already holds the migration lock (and
  usually a transaction);
* plain Alembic (``alembic -c alembic.ini upgrade head``): the App comes from
  ``-x app=MODULE:ATTR``, the ini's ``myapp.db.app`` or the default, the
  database from ``-x url=...``, ``sqlalchemy.url`` or the App's settings (its
  ``_DATABASE_URL`` variable, else the embedded server), and a connection
  opened here holds the migration lock; ``-x tenant=SCHEMA`` migrates one
  tenant schema (the cookbook's switch) and ``-x data=false`` leaves the
  data steps pending;
* pytest-alembic and other tools that put a `Connection` or an `Engine` in
  ``config.attributes["connection"]``.

Either way the plugins are loaded, their run hooks wrap each revision, and
offline (``--sql``) output is PostgreSQL's. It never configures logging: an
application that migrates at start-up keeps its own.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

#: The key of `Run` in ``config.attributes``.
RUN = "myapp.db"


@dataclass
class Run:
    """What myapp.db's runner hands env.py."""

    app: Any
    connection: Any = None
    transaction_per_migration: bool = False
    on_version_apply: list = field(default_factory=list)
    #: Called with each revision step just before it runs (progress).
    before_step: Optional[Callable] = None
    #: The whole run's revisions, when env.py runs it in parts: the run hooks fire at its ends only.
    revisions: tuple = ()
    #: Write the framework's records (lint renders without them: they are not the revision's).
    records: bool = True
    #: The tenant schema: the version table and the records live there (offline: its search_path is set).
    schema: Optional[str] = None
    #: Run the revisions' data steps (False: ``--no-data``, recorded as pending).
    data: bool = True
    #: Alembic's autogenerate runs (it needs the models, ``target_metadata``); myapp.db's other runs do not
    #: import them. Under plain Alembic and other tools the models are always given.
    autogenerate: bool = False
    #: Autogenerate: the tables are known to be in sync (`myapp.db.autogenerate.cache`), and these are the
    #: schemas the models' tables name. Neither the models nor Alembic's table comparison are then needed.
    tables_in_sync: Optional[list] = None
    #: ``--data-only``: run only these applied revisions' data steps (Alembic Scripts), no revision.
    data_only: tuple = ()
    #: With ``data_only``: called with each Script and the milliseconds its data step took.
    after_step: Optional[Callable] = None


def run() -> None:
    """Configure Alembic's context for the App and run the migrations (call it from env.py).

    Under Alembic's own command line, a mistake (`CommandError`) becomes Alembic's
    ``CommandError``, which it prints as one ``FAILED:`` line instead of a traceback.
    """
    from alembic import context
    from alembic.util import CommandError as AlembicCommandError

    from ..errors import CommandError

    if context.config.attributes.get(RUN) is not None:
        return _run()
    try:
        _run()
    except CommandError as exc:
        raise AlembicCommandError(str(exc)) from exc


def _run() -> None:
    from alembic import context

    from .. import plugins
    from ..app import load_app
    from ..autogenerate import comparator
    from . import hooks, tenancy

    config = context.config
    given: Optional[Run] = config.attributes.get(RUN)
    x = context.get_x_argument(as_dictionary=True)
    app = given.app if given else load_app(x.get("app") or config.get_main_option("myapp.db.app"))
    schema = given.schema if given else x.get("tenant") or None
    data = given.data if given else x.get("data", "true").lower() not in ("false", "0", "no", "off")
    manager = plugins.load(app)
    comparator.install()
    in_sync = given.tables_in_sync if given else None
    options = dict(
        target_metadata=app.metadata() if given is None or (given.autogenerate and in_sync is None) else None,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=given.transaction_per_migration if given else False,
        on_version_apply=given.on_version_apply if given else (),
        process_revision_directives=comparator.name_objects,
        include_name=_include_name,
        myapp_db_app=app,
    )
    if in_sync is not None:
        options.update(_no_tables(in_sync))

    def tenant(name: Optional[str]) -> dict:
        """The tenant's options: its version table, and its name for `myapp.db.tenant_schema()`."""
        return dict(myapp_db_schema=name, **({"version_table_schema": name} if name else {}))

    def migrate(schema: Optional[str]) -> None:
        how = "sql" if context.is_offline_mode() else "migrate" if given else "alembic"
        if given and given.data_only:
            with context.begin_transaction():
                hooks.run_data_steps(context.get_context(), manager, given.data_only,
                                     before_step=given.before_step, after_step=given.after_step)
            return
        hooks.install(context.get_context(), manager, before_step=given.before_step if given else None,
                      revisions=given.revisions if given else (), how=how, version=app.package_version,
                      data=data, write_records=given.records if given else True)
        with context.begin_transaction():
            if schema and context.is_offline_mode():
                context.execute(tenancy.set_search_path(schema, app))
            context.run_migrations()

    if context.is_offline_mode():
        # paramstyle "named": percent signs in definitions stay single in the SQL printed.
        context.configure(
            dialect_name="postgresql", dialect_opts={"paramstyle": "named"}, literal_binds=True,
            **options, **tenant(schema),
        )
        migrate(schema)
        return
    with _connection(config, x, app, given) as connection:
        schema = tenancy.schema_of(connection)  # the connection's tenant, as `connect` pointed it
        context.configure(connection=connection, **options, **tenant(schema))
        migrate(schema)


def _no_tables(schemas: list) -> dict:
    """The options of an autogenerate that compares no table: no models, Alembic's schema step alone
    (it calls the comparators of the schemas, ours among them), and the schemas the models' tables name."""
    import sqlalchemy as sa

    return dict(target_metadata=sa.MetaData(), autogenerate_plugins=["alembic.autogenerate.schemas"],
                myapp_db_table_schemas=schemas)


def _include_name(name, type_, parent_names) -> bool:
    """Autogenerate never reports the framework's own tables (as Alembic never reports its version table)."""
    from .records import OWN_TABLES

    return not (type_ == "table" and name in OWN_TABLES)


@contextlib.contextmanager
def _connection(config, x: dict, app, given: Optional[Run]) -> Iterator[Any]:
    from sqlalchemy.engine import Connection, Engine

    from ..progress import Progress
    from ..settings import Settings
    from .connection import connect

    if given is not None and given.connection is not None:
        yield given.connection
        return
    handed = config.attributes.get("connection")
    if isinstance(handed, Connection):
        yield handed
        return
    if isinstance(handed, Engine):
        with handed.connect() as connection:
            yield connection
        return
    url = x.get("url") or config.get_main_option("sqlalchemy.url") or None
    settings = Settings.resolve(url, app=app).for_schema(x.get("tenant") or None)
    with connect(settings, Progress(), lock=True, command="alembic") as connection:
        yield connection
