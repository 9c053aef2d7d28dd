"""The hooks a myapp.db plugin may implement; every one is optional.

A plugin is a module (named by an entry point in the ``myapp.db.plugins``
group, or listed in an App's ``plugins=``) whose functions are marked
``@myapp.db.hookimpl`` and named after the hooks below. An implementation may
take any subset of a hook's arguments. docs/plugins.md is the full reference.
"""

import pluggy

hookspec = pluggy.HookspecMarker("myapp.db")
hookimpl = pluggy.HookimplMarker("myapp.db")


# -- once per process, when plugins load --------------------------------------


@hookspec
def register_operations(operations):
    """Register migration operations with Alembic's standard decorators.

    Called once per process, before any migration runs.

    :param operations: Alembic's `Operations` class; call
        ``operations.register_operation(name)(OpClass)`` and
        ``operations.implementation_for(OpClass)(function)``.
    :return: ignored. Registering a name that Alembic or another plugin
        already has stops every command, as does raising.
    """


@hookspec
def replaceable_objects(app):
    """Contribute replaceable objects (views, functions, ...) to an app's registry.

    Called once per process for each App a command works on, before it touches the database.

    :param app: the `myapp.db.App` whose objects these join.
    :return: an iterable of replaceable objects, created and compared with the
        app's own; None adds nothing.
    """


@hookspec
def replaceable_kinds():
    """Contribute kinds of replaceable object (classes) that take part in autogenerate.

    Called once per process, when plugins load. A kind is a `ReplaceableObject`
    subclass whose ``from_database(connection, schemas)`` returns the objects
    of that kind in the database, each with ``identity`` and ``fingerprint``
    set, and whose ``render()`` returns Python source that builds an object.

    :return: an iterable of classes; None adds nothing.
    """


@hookspec
def lint_rules():
    """Contribute lint rules, checked by ``python -m myapp.db lint`` beside the built-in ones.

    Called once per process, when plugins load. A rule subclasses
    `myapp.db.lint.rules.Rule`: a kebab-case ``id``, a ``summary``, and
    ``check(statement, context)`` yielding `Finding` objects for one statement.

    :return: an iterable of rules; None adds nothing.
    """


# -- around a migration run ---------------------------------------------------
# Called only when a run applies or unapplies at least one revision, online or
# in offline --sql mode, inside the run's transaction (with --step: inside the
# first and the last revision's transactions). Not called on failure: the
# transaction is rolled back instead. Raising fails the run and rolls it back.


@hookspec
def before_migrate(operations, revisions, upgrade):
    """Prepare a migration run, e.g. set a role or the search_path for it.

    :param operations: the run's Alembic `Operations` (the ``op`` revisions
        see); statements go to the database, or to the SQL output offline.
    :param revisions: the revision ids the run will apply or unapply, in order.
    :param upgrade: True for an upgrade, False for a downgrade.
    :return: ignored.
    """


@hookspec
def before_revision(operations, revision, upgrade):
    """Act just before one revision's ``upgrade()`` or ``downgrade()`` runs.

    :param operations: the run's Alembic `Operations`.
    :param revision: the id of the revision about to run.
    :param upgrade: True when it is being applied, False when unapplied.
    :return: ignored.
    """


@hookspec
def after_revision(operations, revision, upgrade):
    """Act just after one revision ran, before its version row is written.

    :param operations: the run's Alembic `Operations`.
    :param revision: the id of the revision that ran.
    :param upgrade: True when it was applied, False when unapplied.
    :return: ignored.
    """


@hookspec
def after_migrate(operations, revisions, upgrade):
    """Finish a migration run, e.g. grant privileges on what it created.

    :param operations: the run's Alembic `Operations`.
    :param revisions: the revision ids the run applied or unapplied, in order.
    :param upgrade: True for an upgrade, False for a downgrade.
    :return: ignored.
    """


# -- tenants, databases and fresh databases -------------------------------------


@hookspec
def tenant_schemas(app, connection):
    """Name the tenant schemas of a database, for ``migrate --all-schemas``.

    Called once per database, before any tenant is migrated, unless
    ``--schemas-query`` names them instead. The results of every plugin that
    implements it are joined, in plugin order, each schema once.

    :param app: the `myapp.db.App` being migrated.
    :param connection: a SQLAlchemy `Connection` to the database, for reading
        the schemas from a table of tenants; do not change anything through it.
    :return: an iterable of schema names; None adds none.
    """


@hookspec
def database_urls(app):
    """Name the databases of an app, for ``migrate --all-databases`` (one database per customer, ...).

    Called once per command. The results of every plugin are joined, in
    plugin order, each URL once.

    :param app: the `myapp.db.App` being migrated.
    :return: an iterable of database URLs (``str`` or `sqlalchemy.URL`); None adds none.
    """


@hookspec
def seed(app, connection, schema):
    """Fill a database that ``bootstrap`` just created (reference data, a first user, ...).

    Called last, in bootstrap's transaction, after the tables, the objects and
    the version table: raising rolls the whole bootstrap back. ``migrate``
    never calls it (data steps are its way), nor does bootstrap run data steps.

    :param app: the `myapp.db.App` bootstrapped.
    :param connection: the SQLAlchemy `Connection` bootstrap works on, pointed
        at the tenant schema when there is one.
    :param schema: the new tenant's schema, or None for the database's own.
    :return: ignored.
    """
