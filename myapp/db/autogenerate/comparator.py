"""The replaceable objects' part of Alembic's autogenerate: a schema comparator and a revision hook.

Installed by env.py, so every autogenerate through it sees the app's views,
functions and materialized views next to its tables: ``makemigrations`` and
``--check``, and plain ``alembic check`` / ``alembic revision --autogenerate``
too (and so pytest-alembic's model test).
"""

from __future__ import annotations

from .. import compat

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
    from .. import plugins
    from ..replaceable import KINDS
    from ..replaceable.ops import DropReplaceableObjectOp
    from .compare import compare

    manager = plugins.load(app)
    declared = [*app.objects(), *manager.objects(app)]
    tables = autogen_context.opts.get("myapp_db_table_schemas")  # the tables were not compared
    found = compare(autogen_context.connection, declared, autogen_context.metadata if tables is None else tables,
                    [*KINDS, *manager.kinds], upgrade_ops.ops)
    drops = [op for op in found if isinstance(op, DropReplaceableObjectOp)]
    upgrade_ops.ops[:0] = drops
    upgrade_ops.ops.extend(op for op in found if not isinstance(op, DropReplaceableObjectOp))


def name_objects(context, revision, directives) -> None:
    """``process_revision_directives``: define every object the new revision uses at module level."""
    from .render import prepare

    template_args = context.opts.get("template_args")
    if template_args is None:
        return
    for script in directives:
        prepare(template_args, script.upgrade_ops.ops, script.downgrade_ops.ops)
