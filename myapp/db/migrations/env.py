"""Alembic environment for myapp.

It is run by myapp.db's runner, which puts an open connection (holding the
migration lock, and usually a transaction) into ``config.attributes``. It
never creates an engine and never configures logging: an application that
migrates at start-up keeps its own.
"""

from alembic import context

from myapp.models import metadata

config = context.config
options = dict(
    target_metadata=metadata,
    compare_type=True,
    compare_server_default=True,
    transaction_per_migration=config.attributes.get("transaction_per_migration", False),
    on_version_apply=config.attributes.get("on_version_apply") or (),
)

if context.is_offline_mode():
    # paramstyle "named": percent signs in definitions stay single in the SQL printed.
    context.configure(
        dialect_name="postgresql", dialect_opts={"paramstyle": "named"}, literal_binds=True, **options
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "myapp's env.py needs an open connection in config.attributes['connection']; "
            "run migrations with 'python -m myapp.db migrate' or myapp.db.migrate()"
        )
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
