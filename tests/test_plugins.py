"""The plugin mechanism: loading from entry points, every hook, listing, broken and disabled plugins.

Plugins here are real distributions (a ``*.dist-info`` with ``entry_points.txt``
beside a module) written into a directory on ``sys.path``, found by
importlib.metadata like any installed package; ``plugins.reset()`` lets each
test load its own set in this process.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.operations import Operations

from myapp.apps import app as myapp_app
from myapp.db import plugins
from myapp.db.plugins import hookspecs

from conftest import ROOT, run_process
from dbhelpers import HEAD, version

HOOKS = sorted(name for name, fn in vars(hookspecs).items() if hasattr(fn, "myapp.db_spec"))


class Site:
    """A directory on sys.path (and PYTHONPATH) that tests put plugin distributions in."""

    def __init__(self, root: Path, monkeypatch):
        self.root, self.monkeypatch, self.names = root, monkeypatch, []

    def add(self, name: str, source: str, dist: str = "", version: str = "1.0"):
        """Write a distribution ``dist`` whose entry point ``name`` names a module of ``source``."""
        dist = dist or f"test-plugin-{name}"
        module = f"plugin_{name}_{uuid.uuid4().hex[:8]}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\n{name} = {module}\n")
        self.names.append(name)
        self.monkeypatch.setenv(plugins.LOAD_VARIABLE, ",".join(self.names))
        return module

    def module(self, module: str):
        return sys.modules[module]


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", str(root))
    plugins.reset()
    yield Site(root, monkeypatch)
    plugins.reset()


def by_name(result) -> dict:
    return {p["name"]: p for p in json.loads(result.out)}


# -- the hooks, documented and tested -------------------------------------------


def test_hookspecs_document_every_argument_and_the_return_value():
    assert HOOKS == sorted(
        ["register_operations", "replaceable_objects", "replaceable_kinds", "lint_rules", "before_migrate",
         "before_revision", "after_revision", "after_migrate", "tenant_schemas", "database_urls", "seed"]
    )
    for name in HOOKS:
        spec = getattr(hookspecs, name)
        doc = inspect.getdoc(spec)
        assert doc and doc.splitlines()[0].endswith("."), name
        for arg in inspect.signature(spec).parameters:
            assert f":param {arg}:" in doc, (name, arg)
        assert ":return:" in doc, name


def test_docs_have_a_heading_per_hook_with_its_arguments():
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for name in HOOKS:
        args = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert re.search(rf"^### {name}\({re.escape(args)}\)$", docs, re.M), name


def test_every_hook_has_a_test():
    assert [h for h in HOOKS if f"test_hook_{h}" not in globals()] == []


OPS_PLUGIN = """\
from alembic.operations import MigrateOperation, Operations
from myapp.db import hookimpl

class NoteOp(MigrateOperation):
    def __init__(self, text):
        self.text = text

    @classmethod
    def note(cls, operations, text):
        return operations.invoke(cls(text))

def note(operations, operation):
    operations.execute("SELECT 1")

CALLS = []

@hookimpl
def register_operations(operations):
    CALLS.append(operations)
    operations.register_operation("note")(NoteOp)
    operations.implementation_for(NoteOp)(note)
"""

# Alembic's documentation style, unchanged: decorators at import, no hook at all.
DECORATED_PLUGIN = """\
from alembic.operations import MigrateOperation, Operations

@Operations.register_operation("shout")
class ShoutOp(MigrateOperation):
    @classmethod
    def shout(cls, operations):
        return operations.invoke(cls())

@Operations.implementation_for(ShoutOp)
def shout(operations, operation):
    operations.execute("SELECT 1")
"""


def test_hook_register_operations(site, cli):
    module = site.add("notes", OPS_PLUGIN)
    site.add("shouting", DECORATED_PLUGIN)
    loaded = plugins.load()
    listed = by_name(cli("plugins", "--json"))
    assert plugins.load() is loaded
    assert site.module(module).CALLS == [Operations]  # once per process, with the class
    assert hasattr(Operations, "note") and hasattr(Operations, "shout")
    assert listed["notes"]["operations"] == ["note"]
    assert listed["notes"]["hooks"] == ["register_operations"]
    assert listed["shouting"]["operations"] == ["shout"] and listed["shouting"]["hooks"] == []
    plugins.reset()
    assert not hasattr(Operations, "note") and not hasattr(Operations, "shout")


OBJECTS_PLUGIN = """\
from myapp.db import hookimpl
from myapp.db.replaceable import ReplaceableFunction, ReplaceableView

@hookimpl
def replaceable_objects():
    return iter([
        ReplaceableView("network_names", "SELECT name FROM networks"),
        ReplaceableFunction("one()", "RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"),
    ])
"""


def test_hook_replaceable_objects(site):
    site.add("objects", OBJECTS_PLUGIN)
    site.add("more", "from myapp.db import hookimpl\n\n@hookimpl\ndef replaceable_objects():\n    return None\n")
    assert [o.name for o in plugins.load().objects(myapp_app)] == ["network_names", "one"]


def test_bootstrap_creates_objects_from_plugins(site, cli, db_url, engine_for):
    site.add("objects", OBJECTS_PLUGIN)
    result = cli("bootstrap", "--url", db_url)
    assert result.status == 0, result
    with engine_for(db_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT one()")) == 1
        assert conn.scalar(sa.text("SELECT to_regclass('network_names')")) is not None


DOMAIN_PLUGIN = """\
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from myapp.db import ReplaceableObject, hookimpl


class DomainDDL(DDLElement):
    def __init__(self, verb, domain):
        self.verb, self.domain = verb, domain


@compiles(DomainDDL, "postgresql")
def _domain(element, compiler, **kw):
    name = compiler.preparer.quote(element.domain.name)
    if element.verb == "drop":
        return f"DROP DOMAIN {name}"
    return f"CREATE DOMAIN {name} AS {element.domain.definition}"


class ReplaceableDomain(ReplaceableObject):
    \"\"\"A domain: ``definition`` is its type and constraints.\"\"\"

    kind = "domain"

    def create(self):
        return DomainDDL("create", self)

    def drop(self):
        return DomainDDL("drop", self)

    @classmethod
    def from_database(cls, connection, schemas):
        rows = connection.execute(sa.text(
            "SELECT n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod) AS base,"
            " coalesce((SELECT string_agg(pg_get_constraintdef(c.oid), ' ' ORDER BY c.conname)"
            "  FROM pg_constraint c WHERE c.contypid = t.oid), '') AS checks"
            " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE t.typtype = 'd' AND n.nspname = ANY(:schemas)"), {"schemas": list(schemas)})
        found = []
        for schema, name, base, checks in rows:
            obj = cls(name, f"{base} {checks}".strip(), schema=schema)
            obj.identity = (cls.kind, schema, name, "")
            obj.fingerprint = obj.definition
            found.append(obj)
        return found


POSITIVE = ReplaceableDomain("positive_int", "integer CHECK (VALUE > 0)")


@hookimpl
def replaceable_kinds():
    return [ReplaceableDomain]


@hookimpl
def replaceable_objects():
    return [POSITIVE]
"""


def test_hook_replaceable_kinds(site, cli, migrations_copy, head_url, engine_for):
    """A plugin's own kind is compared, rendered into a revision, applied and reversed."""
    site.add("domains", DOMAIN_PLUGIN)
    check = cli("makemigrations", "--check", "--url", head_url)
    assert check.status == 1 and "create domain positive_int" in check.out
    written = cli("makemigrations", "-m", "add positive_int", "--url", head_url)
    assert written.status == 0, written
    source = Path(written.out.strip()).read_text()
    assert "import ReplaceableDomain" in source and "op.create_replaceable_object(positive_int)" in source
    for target in ("head", "-1", "head"):
        assert cli("migrate", target, "--url", head_url).status == 0
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    with engine_for(head_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT 5::positive_int")) == 5


def test_hook_replaceable_kinds_must_return_classes(site, cli):
    site.add("kinds", "from myapp.db import hookimpl\n\n@hookimpl\ndef replaceable_kinds():\n    return [str]\n")
    result = cli("plugins")
    assert result.status == 2 and "replaceable_kinds" in result.err


def test_hook_replaceable_objects_must_return_objects(site, cli):
    site.add("objects", "from myapp.db import hookimpl\n\n@hookimpl\ndef replaceable_objects():\n    return ['a view']\n")
    result = cli("plugins")
    assert result.status == 2 and "'a view' from hook replaceable_objects" in result.err


LINT_PLUGIN = """\
from pglast import ast
from myapp.db import hookimpl
from myapp.db.lint.rules import Rule


class NoTruncate(Rule):
    id = "no-truncate"
    summary = "TRUNCATE empties a table for every app instance"

    def check(self, statement, context):
        if isinstance(statement.node, ast.TruncateStmt):
            yield self.finding("TRUNCATE takes ACCESS EXCLUSIVE and empties the table", "DELETE in batches")


@hookimpl
def lint_rules():
    return [NoTruncate()]
"""


def test_hook_lint_rules(site, cli, migrations_copy):
    site.add("lintrules", LINT_PLUGIN)
    (migrations_copy / "versions" / "7c0000000001_t.py").write_text(
        f'"""empty it"""\nfrom alembic import op\n\nrevision = "7c0000000001"\ndown_revision = "{HEAD}"\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.execute('TRUNCATE networks')\n"
    )
    result = cli("lint", "7c0000000001")
    assert result.status == 1 and "FINDING no-truncate: TRUNCATE takes ACCESS EXCLUSIVE" in result.out
    assert "instead: DELETE in batches" in result.out
    site.add("badrules", "from myapp.db import hookimpl\n\n@hookimpl\ndef lint_rules():\n    return [42]\n")
    plugins.reset()
    assert "is not a Rule with an id" in cli("plugins").err


RUN_HOOKS_PLUGIN = """\
import sqlalchemy as sa
from myapp.db import hookimpl

CALLS = []

@hookimpl
def before_migrate(operations, revisions, upgrade):
    CALLS.append(("before_migrate", revisions, upgrade))
    operations.execute("SELECT 'before_migrate'")

@hookimpl
def before_revision(revision, upgrade):
    CALLS.append(("before_revision", revision, upgrade))

@hookimpl
def after_revision(revision):
    CALLS.append(("after_revision", revision))

@hookimpl
def after_migrate(operations, revisions, upgrade):
    CALLS.append(("after_migrate", revisions, upgrade))
    # inside the run's transaction (with --step: the last revision's), so it commits with it
    operations.create_table_if_not_exists("after_migrate_ran", sa.Column("upgrade", sa.Boolean))
    operations.execute(sa.text("INSERT INTO after_migrate_ran VALUES (:u)").bindparams(u=upgrade))
"""

REVISION = '''\
"""{revision}"""
revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''
R1, R2 = "4b00c5000001", "4b00c5000002"


@pytest.fixture
def two_revisions(migrations_copy):
    for revision, down in ((R1, HEAD), (R2, R1)):
        (migrations_copy / "versions" / f"{revision}_hooks.py").write_text(
            REVISION.format(revision=revision, down=down)
        )
    return migrations_copy


@pytest.fixture
def run_hooks(site, cli, two_revisions, head_url, engine_for):
    """Migrate up (with --step) and down again with a plugin recording every run hook."""
    module = site.add("recorder", RUN_HOOKS_PLUGIN)
    up = cli("migrate", "--step", "--url", head_url)
    down = cli("migrate", HEAD, "--url", head_url)
    assert up.status == 0 and down.status == 0, (up, down)
    with engine_for(head_url).connect() as conn:
        ran = [row[0] for row in conn.exec_driver_sql("SELECT upgrade FROM after_migrate_ran")]
    return site.module(module).CALLS, ran


def test_hook_before_migrate(run_hooks, cli):
    calls, _ = run_hooks
    assert calls[0] == ("before_migrate", (R1, R2), True)
    assert ("before_migrate", (R2, R1), False) in calls
    assert [c for c in calls if c[0] == "before_migrate"] == [calls[0], calls[6]]
    offline = cli("migrate", "--sql", "--from", HEAD).out
    assert offline.count("SELECT 'before_migrate';") == 1
    assert offline.index("BEGIN;") < offline.index("SELECT 'before_migrate';") < offline.index("UPDATE alembic_version")


def test_hook_before_revision(run_hooks):
    calls, _ = run_hooks
    assert [c for c in calls if c[0] == "before_revision"] == [
        ("before_revision", R1, True), ("before_revision", R2, True),
        ("before_revision", R2, False), ("before_revision", R1, False),
    ]


def test_hook_after_revision(run_hooks):
    calls, _ = run_hooks
    assert calls[:6] == [
        ("before_migrate", (R1, R2), True),
        ("before_revision", R1, True), ("after_revision", R1),
        ("before_revision", R2, True), ("after_revision", R2),
        ("after_migrate", (R1, R2), True),
    ]


def test_hook_after_migrate(run_hooks):
    calls, ran = run_hooks
    assert calls[-1] == ("after_migrate", (R2, R1), False)
    assert ran == [True, False]  # committed, with --step too


TENANTS_PLUGIN = """\
import sqlalchemy as sa
from myapp.db import hookimpl

@hookimpl
def tenant_schemas(app, connection):
    return connection.scalars(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant%' ORDER BY 1"))

@hookimpl
def database_urls(app):
    import os
    return [u for u in os.environ.get("TEST_DATABASE_URLS", "").split() if u]

@hookimpl
def seed(app, connection, schema):
    if schema == "tenant_broken":
        raise RuntimeError("no seed for you")
    connection.execute(sa.text("INSERT INTO networks (name) VALUES (:name)"), {"name": f"seeded {schema}"})
"""


def test_hook_tenant_schemas(site, cli, db_url, engine_for):
    site.add("tenants", TENANTS_PLUGIN)
    for name in ("tenant_a", "tenant_b"):
        assert cli("bootstrap", "--schema", name, "--url", db_url).status == 0
    assert cli("migrate", "--schema", "tenant_b", "-1", "--url", db_url).status == 0
    result = cli("migrate", "--all-schemas", "--url", db_url)
    assert result.status == 0, result
    first, second, summary = result.out.splitlines()
    assert first == "tenant_a  already at head"
    assert second.startswith("tenant_b  1 step done in ") and f": Applying {HEAD} (" in second
    assert summary.startswith("2 targets in ") and summary.endswith("with -j 1: 1 applied, 1 unchanged")
    assert version(engine_for(db_url)) is None  # the database's own schema was left alone


def test_hook_tenant_schemas_returning_a_bad_name_is_one_line(site, cli, db_url):
    site.add("odd", "from myapp.db import hookimpl\n\n@hookimpl\ndef tenant_schemas():\n    return ['pg_catalog']\n")
    result = cli("migrate", "--all-schemas", "--url", db_url)
    assert result.status == 2 and "'pg_catalog' is one of PostgreSQL's own schemas, not a tenant" in result.out
    assert "Traceback" not in result.err


def test_hook_database_urls(site, cli, databases, head_url, monkeypatch, engine_for):
    site.add("tenants", TENANTS_PLUGIN)
    empty = databases.create().render_as_string(hide_password=False)
    monkeypatch.setenv("TEST_DATABASE_URLS", f"{empty} {head_url}")
    result = cli("migrate", "--all-databases")
    assert result.status == 0, result
    assert result.out.splitlines()[-1].endswith(": 1 applied, 1 unchanged")
    assert version(engine_for(empty)) == [HEAD]
    monkeypatch.setenv("TEST_DATABASE_URLS", "")
    none = cli("migrate", "--all-databases")
    assert none.status == 2 and "no plugin names any database" in none.err


def test_hook_seed(site, cli, db_url, engine_for):
    site.add("tenants", TENANTS_PLUGIN)
    assert cli("bootstrap", "--url", db_url).status == 0
    assert cli("bootstrap", "--schema", "tenant_a", "--url", db_url).status == 0
    broken = cli("bootstrap", "--schema", "tenant_broken", "--url", db_url)
    assert broken.status == 2 and "failed in hook seed: RuntimeError: no seed for you" in broken.err
    with engine_for(db_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT name FROM public.networks")) == "seeded None"
        assert conn.scalar(sa.text("SELECT name FROM tenant_a.networks")) == "seeded tenant_a"
        assert conn.scalar(sa.text("SELECT to_regnamespace('tenant_broken')")) is None  # all rolled back
    migrated = cli("migrate", "zero", "--url", db_url)
    assert migrated.status == 0 and cli("migrate", "--url", db_url).status == 0
    with engine_for(db_url).connect() as conn:  # migrate never seeds
        assert conn.scalar(sa.text("SELECT count(*) FROM public.networks")) == 0


def test_hooks_are_not_called_when_there_is_nothing_to_do(site, cli, head_url):
    module = site.add("recorder", RUN_HOOKS_PLUGIN)
    assert cli("migrate", "--url", head_url).status == 0
    assert site.module(module).CALLS == []


def test_a_hook_that_raises_fails_the_run_and_rolls_it_back(site, cli, two_revisions, head_url, engine_for):
    site.add("grumpy", """\
        from myapp.db import hookimpl

        @hookimpl
        def after_migrate():
            raise ValueError("no grants today")
        """, dist="grumpy-dist", version="2.0")
    result = cli("migrate", "--url", head_url)
    assert result.status == 2
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "plugin 'grumpy'" in line and "grumpy-dist 2.0" in line
    assert "failed in hook after_migrate: ValueError: no grants today" in line
    assert f"{plugins.DISABLE_VARIABLE}=grumpy" in line and "rolled back" in line
    assert version(engine_for(head_url)) == [HEAD]


# -- broken plugins ----------------------------------------------------------------

BROKEN = {
    "import": ("import no_such_module_anywhere\n", "failed to import: ModuleNotFoundError: No module named"),
    "hook raises": (
        "from myapp.db import hookimpl\n\n@hookimpl\ndef register_operations(operations):\n"
        "    raise RuntimeError('cannot register')\n",
        "failed in hook register_operations: RuntimeError: cannot register",
    ),
    "objects not iterable": (
        "from myapp.db import hookimpl\n\n@hookimpl\ndef replaceable_objects():\n    return 42\n",
        "failed in hook replaceable_objects: TypeError: 'int' object is not iterable",
    ),
    "taken by alembic": (
        OPS_PLUGIN.replace('register_operation("note")', 'register_operation("create_table", "note")'),
        "registers operation 'create_table', a name already taken by Alembic's Operations",
    ),
    "taken by a built-in": (
        OPS_PLUGIN.replace('register_operation("note")', 'register_operation("set_role", "note")'),
        "registers operation 'set_role', a name already taken by plugin 'myapp.db.plugins.builtins.roles'",
    ),
    "unknown argument": (
        "from myapp.db import hookimpl\n\n@hookimpl\ndef register_operations(operations, nope):\n    pass\n",
        "is not a valid plugin: PluginValidationError",
    ),
    "unknown hook": (
        "from myapp.db import hookimpl\n\n@hookimpl\ndef register_operation(operations):\n    pass\n",
        "is not a valid plugin: PluginValidationError: unknown hook 'register_operation'",
    ),
    "wrapper": (
        "from myapp.db import hookimpl\n\n@hookimpl(wrapper=True)\ndef before_migrate():\n    return (yield)\n",
        "declares a hook wrapper",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_plugin_stops_the_command_before_the_database(case, site, cli, db_url, engine_for):
    source, message = BROKEN[case]
    create_table = Operations.create_table
    site.add("able", OPS_PLUGIN, dist="able-dist")  # loads first, and is undone
    site.add("broken", source, dist="broken-dist", version="0.3")
    result = cli("migrate", "--url", db_url)
    assert result.status == 2 and result.out == ""
    assert len(result.err.splitlines()) == 1, result.err  # not even the "Database:" line
    assert "plugin 'broken' (entry point 'broken = plugin_broken_" in result.err
    assert "from broken-dist 0.3)" in result.err and message in result.err
    assert result.err.rstrip().endswith(f"or set {plugins.DISABLE_VARIABLE}=broken")
    assert version(engine_for(db_url)) is None
    assert Operations.create_table is create_table and not hasattr(Operations, "note")

    site.monkeypatch.setenv(plugins.DISABLE_VARIABLE, "broken")
    plugins.reset()
    listed = by_name(cli("plugins", "--json"))
    assert listed["broken"]["disabled"] and listed["broken"]["operations"] == []
    assert listed["able"]["operations"] == ["note"]


def test_broken_plugin_in_a_separate_process(site, db_url, engine_for):
    site.add("broken", BROKEN["import"][0], dist="broken-dist")
    result = run_process("migrate", "--url", db_url)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "python -m myapp.db migrate: error: plugin 'broken'" in result.stderr
    assert version(engine_for(db_url)) is None
    disabled = run_process("migrate", "--plan", "--url", db_url, env={plugins.DISABLE_VARIABLE: "broken"})
    assert disabled.returncode == 0 and f"Apply {HEAD}" in disabled.stdout, disabled.stderr


def test_two_plugins_of_one_name_are_refused(site, cli):
    site.add("twin", "", dist="first-dist")
    site.add("twin", "", dist="second-dist")
    result = cli("plugins")
    assert result.status == 2
    assert "plugin 'twin'" in result.err and "has the same name as a plugin from first-dist" in result.err


def test_load_variable_naming_a_missing_plugin_is_an_error(site, cli, monkeypatch):
    monkeypatch.setenv(plugins.LOAD_VARIABLE, "nowhere")
    result = cli("plugins")
    assert result.status == 2 and "names plugin(s) 'nowhere'" in result.err


def test_disable_variable_naming_an_unknown_plugin_is_an_error(site, cli, monkeypatch):
    site.add("real", "")
    monkeypatch.setenv(plugins.DISABLE_VARIABLE, "real,typo")
    result = cli("plugins")
    assert result.status == 2 and "names plugin(s) 'typo', which are neither built in nor installed" in result.err


def test_disabling_a_builtin_removes_its_operations(site, cli, monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_VARIABLE, "myapp.db.plugins.builtins.roles")
    plugins.load()
    assert not hasattr(Operations, "set_role") and hasattr(Operations, "grant_privileges")
    assert "myapp.db.plugins.builtins.roles (myapp " in cli("plugins").out.splitlines()[0]
    assert cli("plugins").out.splitlines()[0].endswith(", built-in, disabled): hooks: -; operations: -")
    assert by_name(cli("plugins", "--json"))["myapp.db.plugins.builtins.roles"]["disabled"]


# -- listing -----------------------------------------------------------------


def test_plugins_lists_builtins_first_then_entry_points_by_name(site, cli):
    site.add("zeta", OPS_PLUGIN, dist="zeta-dist", version="3.1")
    site.add("alpha", "", dist="alpha-dist")
    result = cli("plugins")
    assert result.status == 0 and result.err == ""
    lines = result.out.splitlines()
    assert [line.split(" ")[0] for line in lines] == list(plugins.BUILTINS) + ["alpha", "zeta"]
    assert lines[0].startswith("myapp.db.plugins.builtins.roles (myapp ") and ", built-in): " in lines[0]
    assert "operations: reset_role, set_role" in lines[0]
    assert lines[-1].startswith("zeta = plugin_zeta_") and "(zeta-dist 3.1): hooks: register_operations;" in lines[-1]
    assert lines[-1].endswith("operations: note")


def test_plugins_json(site, cli):
    module = site.add("zeta", OPS_PLUGIN, dist="zeta-dist", version="3.1")
    listed = json.loads(cli("plugins", "--json").out)
    assert [p["name"] for p in listed] == list(plugins.BUILTINS) + ["zeta"]
    assert listed[-1] == {
        "name": "zeta", "entry_point": module, "distribution": "zeta-dist", "version": "3.1",
        "builtin": False, "disabled": False, "hooks": ["register_operations"], "operations": ["note"],
    }
    assert all(p["builtin"] and p["distribution"] == "myapp" for p in listed[:-1])
    assert sorted(op for p in listed[:-1] for op in p["operations"]) == sorted(
        """add_column_if_not_exists create_index_if_not_exists create_schema_if_not_exists
        create_table_if_not_exists drop_column_if_exists drop_constraint_if_exists drop_index_if_exists
        drop_schema_if_exists drop_table_if_exists grant_privileges reset_role revoke_privileges
        set_role create_replaceable_object drop_replaceable_object replace_replaceable_object
        refresh_materialized_view""".split()
    )
