"""The replaceable objects' part of Alembic's autogenerate: a schema comparator and a revision hook.

Installed by env.py, so every autogenerate through it sees the app's views,
functions and materialized views next to its tables: ``makemigrations`` and
``--check``, and plain ``alembic check`` / ``alembic revision --autogenerate``
too (and so pytest-alembic's model test).
"""

from __future__ import annotations

from .. import compat
from ..replaceable.ops import DropReplaceableObjectOp

_installed = False


def install() -> None:
    """Register the comparator with Alembic, once per process."""
    global _installed
    if not _installed:
        compat.register_schema_comparator(compare_replaceable_objects)
        _installed = True


def compare_replaceable_objects(autogen_context, upgrade_ops, schemas) -> None:
    """Add create / replace / drop operations for the objects of the App env.py configured.

    Objects removed go before the table changes (they may use a column that
    goes), the rest after (they may use a new one); Alembic's reversal of the
    upgrade operations gives the downgrade the mirror order.
    """
    app = autogen_context.opts.get("myapp_db_app")
    if app is None or autogen_context.connection is None:
        return  # someone else's env.py, or offline
    schemas = autogen_context.opts.get("myapp_db_table_schemas")  # the tables were not compared
    if schemas is None:
        metadata = autogen_context.metadata
        schemas = {t.schema for m in (metadata if isinstance(metadata, (list, tuple)) else [metadata])
                   if m is not None for t in m.tables.values()}
    found = object_operations(app, autogen_context.connection, schemas, upgrade_ops.ops)
    drops = [op for op in found if isinstance(op, DropReplaceableObjectOp)]
    upgrade_ops.ops[:0] = drops
    upgrade_ops.ops.extend(op for op in found if not isinstance(op, DropReplaceableObjectOp))


def object_operations(app, connection, table_schemas, table_ops=()) -> list:
    """The operations that bring the app's replaceable objects (its registry and its plugins') in line:
    drops first, outermost first, then creates and replaces in creation order.

    :param table_schemas: the schemas the models' tables name (None for the default one).
    :param table_ops: the operations autogenerate found for the tables, if any.
    """
    from .. import plugins
    from ..replaceable import KINDS
    from .compare import compare

    manager = plugins.load(app)
    declared = [*app.objects(), *manager.objects(app)]
    return compare(connection, declared, table_schemas, [*KINDS, *manager.kinds], table_ops)


def name_objects(context, revision, directives) -> None:
    """``process_revision_directives``: define every object the new revision uses at module level."""
    from .render import prepare

    template_args = context.opts.get("template_args")
    if template_args is None:
        return
    for script in directives:
        prepare(template_args, script.upgrade_ops.ops, script.downgrade_ops.ops)
