"""The built-in operations: their SQL (offline, no database) and their effect on PostgreSQL."""

from __future__ import annotations

import io
import textwrap
import uuid

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

import myapp.db
from myapp.db import plugins
from myapp.db.plugins.builtins.grants import GrantPrivilegesOp, RevokePrivilegesOp
from myapp.db.plugins.builtins.guards import CreateIndexIfNotExistsOp, CreateTableIfNotExistsOp, DropTableIfExistsOp
from myapp.db.errors import CommandError

from dbhelpers import HEAD, version

HOSTILE = 'Odd "name"; DROP TABLE x; --'


@pytest.fixture(autouse=True)
def builtins_loaded():
    plugins.load()


def sql(call) -> str:
    """The SQL ``call(op)`` emits in offline mode, statements separated by blank lines."""
    buf = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buf, "literal_binds": True}
    )
    call(Operations(context))
    return buf.getvalue().strip()


# -- SQL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda op: op.set_role("migrator"), "SET ROLE migrator;"),
        (lambda op: op.set_role(HOSTILE), 'SET ROLE "Odd ""name""; DROP TABLE x; --";'),
        (lambda op: op.reset_role(), "RESET ROLE;"),
        (lambda op: op.create_schema_if_not_exists("Sales"), 'CREATE SCHEMA IF NOT EXISTS "Sales";'),
        (lambda op: op.drop_schema_if_exists("sales", cascade=True), "DROP SCHEMA IF EXISTS sales CASCADE;"),
        (lambda op: op.drop_table_if_exists("t", schema="s"), "DROP TABLE IF EXISTS s.t;"),
        (
            lambda op: op.drop_table_if_exists(HOSTILE, schema="Sales", cascade=True),
            'DROP TABLE IF EXISTS "Sales"."Odd ""name""; DROP TABLE x; --" CASCADE;',
        ),
        (
            lambda op: op.add_column_if_not_exists(
                "t", sa.Column("n", sa.Integer, server_default="0", nullable=False), schema="s"
            ),
            "ALTER TABLE s.t ADD COLUMN IF NOT EXISTS n INTEGER DEFAULT '0' NOT NULL;",
        ),
        (lambda op: op.drop_column_if_exists("t", "Note"), 'ALTER TABLE IF EXISTS t DROP COLUMN IF EXISTS "Note";'),
        (
            lambda op: op.create_index_if_not_exists("ix_t_a_b", "t", ["a", "b"], unique=True),
            "CREATE UNIQUE INDEX IF NOT EXISTS ix_t_a_b ON t (a, b);",
        ),
        (lambda op: op.drop_index_if_exists("ix", schema="s"), "DROP INDEX IF EXISTS s.ix;"),
        (
            lambda op: op.drop_constraint_if_exists("ck_t", "t", cascade=True),
            "ALTER TABLE IF EXISTS t DROP CONSTRAINT IF EXISTS ck_t CASCADE;",
        ),
        (
            lambda op: op.grant_privileges(
                ["select", "insert"], "v", to=["reader", "public"], schema="Sales", kind="view",
                grant_option=True,
            ),
            'GRANT SELECT, INSERT ON TABLE "Sales".v TO reader, PUBLIC WITH GRANT OPTION;',
        ),
        (
            lambda op: op.grant_privileges("EXECUTE", "f", to=HOSTILE, kind="function", arguments="integer, text"),
            'GRANT EXECUTE ON FUNCTION f(integer, text) TO "Odd ""name""; DROP TABLE x; --";',
        ),
        (lambda op: op.revoke_privileges("all", "t", to="Reader"), 'REVOKE ALL ON TABLE t FROM "Reader";'),
    ],
)
def test_op_sql(call, expected):
    assert sql(call) == expected


def test_create_table_if_not_exists_sql_creates_its_indexes_too():
    text = sql(lambda op: op.create_table_if_not_exists(
        "Readings", sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime, index=True),
        schema="s",
    ))
    assert text.startswith('CREATE TABLE IF NOT EXISTS s."Readings" (')
    assert 'CREATE INDEX IF NOT EXISTS "ix_s_Readings_at" ON s."Readings" (at);' in text


@pytest.mark.parametrize(
    "privileges, kind, arguments",
    [("SELECT; DROP TABLE t", "table", None), ([], "table", None), ("SELECT", "sequence", None),
     ("SELECT", "table", "integer")],
)
def test_grant_refuses_what_it_cannot_quote(privileges, kind, arguments):
    with pytest.raises(ValueError):
        sql(lambda op: op.grant_privileges(privileges, "t", to="r", kind=kind, arguments=arguments))


def test_ops_reverse():
    grant = GrantPrivilegesOp("SELECT", "t", "r", schema="s", kind="view")
    revoke = grant.reverse()
    assert isinstance(revoke, RevokePrivilegesOp) and (revoke.name, revoke.to, revoke.kind) == ("t", "r", "view")
    assert isinstance(revoke.reverse(), GrantPrivilegesOp)
    drop = CreateTableIfNotExistsOp("t", (), schema="s").reverse()
    assert isinstance(drop, DropTableIfExistsOp) and (drop.table_name, drop.schema) == ("t", "s")
    assert CreateIndexIfNotExistsOp("ix", "t", ["a"], schema="s").reverse().index_name == "ix"


# -- on PostgreSQL -----------------------------------------------------------


def write_revision(migrations, revision, down, upgrade, downgrade="pass", header=""):
    body = textwrap.dedent(
        '''\
        """{revision} for a test"""
        from alembic import op
        import sqlalchemy as sa
        {header}
        revision = "{revision}"
        down_revision = "{down}"
        branch_labels = None
        depends_on = None


        def upgrade():
        {upgrade}


        def downgrade():
        {downgrade}
        '''
    ).format(
        revision=revision, down=down, header=header,
        upgrade=textwrap.indent(textwrap.dedent(upgrade), "    "),
        downgrade=textwrap.indent(textwrap.dedent(downgrade), "    "),
    )
    (migrations / "versions" / f"{revision}_test.py").write_text(body)


@pytest.fixture
def make_role(admin, databases):
    """Create roles for a test; they are dropped after the test's databases (which hold their grants)."""
    made = []

    def make(name=None):
        name = name or f"role_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {databases.quote(name)}")
        made.append(name)
        return name

    yield make
    databases.drop_all()
    with admin.connect() as conn:
        for name in made:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {databases.quote(name)}")


def scalar(engine, query, **params):
    with engine.connect() as conn:
        return conn.scalar(sa.text(query), params)


GUARDS_UP = """\
for _ in range(2):  # every guard is safe to run twice
    op.create_schema_if_not_exists(NAME)
    op.create_table_if_not_exists(
        NAME, sa.Column("id", sa.Integer, primary_key=True), sa.Column("At", sa.DateTime, index=True),
        schema=NAME,
    )
    op.add_column_if_not_exists(NAME, sa.Column(NAME + " col", sa.Text), schema=NAME)
    op.create_index_if_not_exists(NAME + " ix", NAME, [NAME + " col"], schema=NAME)
    op.drop_constraint_if_exists("no_such_constraint", NAME, schema=NAME)
    op.drop_column_if_exists(NAME, "no_such_column", schema=NAME)
    op.drop_index_if_exists("no_such_index", schema=NAME)
"""

GUARDS_DOWN = """\
for _ in range(2):
    op.drop_index_if_exists(NAME + " ix", schema=NAME)
    op.drop_column_if_exists(NAME, NAME + " col", schema=NAME)
    op.drop_table_if_exists(NAME, schema=NAME, cascade=True)
    op.drop_schema_if_exists(NAME)
"""


def test_guards_up_and_down_with_a_hostile_name(cli, migrations_copy, head_url, engine_for):
    write_revision(migrations_copy, "9a4d5000a001", HEAD, GUARDS_UP, GUARDS_DOWN, header=f"NAME = {HOSTILE!r}")
    engine = engine_for(head_url)
    up = cli("migrate", "--url", head_url)
    assert up.status == 0, up
    assert version(engine) == ["9a4d5000a001"]
    columns = scalar(
        engine,
        "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns"
        " WHERE table_schema = :name AND table_name = :name",
        name=HOSTILE,
    )
    assert columns == f"id,At,{HOSTILE} col"
    indexes = scalar(engine, "SELECT count(*) FROM pg_indexes WHERE schemaname = :name", name=HOSTILE)
    assert indexes == 3  # the primary key, the column's index and the added one
    assert scalar(engine, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'") == 0

    down = cli("migrate", "-1", "--url", head_url)
    assert down.status == 0, down
    assert scalar(engine, "SELECT count(*) FROM pg_namespace WHERE nspname = :name", name=HOSTILE) == 0
    assert version(engine) == [HEAD]


def test_guards_render_offline(cli, migrations_copy):
    write_revision(migrations_copy, "9a4d5000a001", HEAD, GUARDS_UP, GUARDS_DOWN, header=f"NAME = {HOSTILE!r}")
    result = cli("migrate", "--sql", "--from", HEAD)
    assert result.status == 0, result
    quoted = '"Odd ""name""; DROP TABLE x; --"'
    assert result.out.count(f"CREATE SCHEMA IF NOT EXISTS {quoted};") == 2
    assert f"CREATE TABLE IF NOT EXISTS {quoted}.{quoted} (" in result.out
    assert f'ALTER TABLE {quoted}.{quoted} ADD COLUMN IF NOT EXISTS "Odd ""name""; DROP TABLE x; -- col" TEXT;' in result.out


def owner(engine, table):
    return scalar(engine, "SELECT tableowner FROM pg_tables WHERE tablename = :t", t=table)


def test_set_role_lasts_until_the_revision_ends(cli, migrations_copy, head_url, engine_for, make_role):
    role = make_role()
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'GRANT CREATE ON SCHEMA public TO "{role}"')
    write_revision(migrations_copy, "9a4d5000b001", HEAD, f"""\
        op.set_role({role!r})
        op.create_table("made_as_role", sa.Column("id", sa.Integer))
        """)
    write_revision(migrations_copy, "9a4d5000b002", "9a4d5000b001", f"""\
        op.create_table("made_after", sa.Column("id", sa.Integer))
        op.set_role({role!r})
        op.reset_role()
        op.create_table("made_after_reset", sa.Column("id", sa.Integer))
        """)
    user = scalar(engine, "SELECT current_user")

    out = cli("migrate", "--sql", "--from", HEAD).out
    # reset after the revision's own statements, before its version row is written
    assert out.index("CREATE TABLE made_as_role") < out.index("RESET ROLE;")
    assert out.index("RESET ROLE;") < out.index("version_num='9a4d5000b001'")
    assert out.count("RESET ROLE;") == 2  # none added after an explicit reset_role

    assert cli("migrate", "--url", head_url).status == 0
    assert owner(engine, "made_as_role") == role
    assert owner(engine, "made_after") == user
    assert owner(engine, "made_after_reset") == user


@pytest.mark.parametrize("step", [False, True])
def test_set_role_is_reset_when_a_revision_fails(migrations_copy, head_url, engine_for, make_role, step):
    role = make_role()
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'GRANT CREATE ON SCHEMA public TO "{role}"')
    write_revision(migrations_copy, "9a4d5000c001", HEAD, f"""\
        op.set_role({role!r})
        op.create_table("made_as_role", sa.Column("id", sa.Integer))
        """)
    write_revision(migrations_copy, "9a4d5000c002", "9a4d5000c001", f"""\
        op.set_role({role!r})
        op.execute("SELECT * FROM no_such_table")
        """)
    with engine.connect() as conn:
        user = conn.scalar(sa.text("SELECT current_user"))
        conn.rollback()
        with pytest.raises(CommandError, match="9a4d5000c002"):
            myapp.db.migrate(conn, step=step)
        assert conn.scalar(sa.text("SELECT current_user")) == user
    assert version(engine) == (["9a4d5000c001"] if step else [HEAD])


def granted(engine, catalog, name, role):
    """The privileges ``role`` holds on the relation or function ``name``, from its ACL."""
    table, acl, key = {"relation": ("pg_class", "relacl", "relname"), "function": ("pg_proc", "proacl", "proname")}[catalog]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT a.privilege_type FROM {table}, aclexplode({acl}) AS a"
                f" JOIN pg_roles r ON r.oid = a.grantee WHERE {key} = :name AND r.rolname = :role"
            ),
            dict(name=name, role=role),
        )
        return sorted(row[0] for row in rows)


def test_grant_and_revoke_on_tables_views_and_functions(cli, migrations_copy, head_url, engine_for, make_role):
    role = make_role(HOSTILE + uuid.uuid4().hex[:8])
    write_revision(
        migrations_copy, "9a4d5000d001", HEAD,
        """\
        op.create_table("granted_table", sa.Column("id", sa.Integer))
        op.execute("CREATE VIEW granted_view AS SELECT id FROM granted_table")
        op.execute("CREATE FUNCTION granted_fn(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'")
        op.grant_privileges(["SELECT", "INSERT"], "granted_table", to=ROLE)
        op.grant_privileges("SELECT", "granted_view", to=[ROLE], kind="view")
        op.grant_privileges("EXECUTE", "granted_fn", to=ROLE, kind="function", arguments="integer")
        """,
        """\
        op.revoke_privileges(["SELECT", "INSERT"], "granted_table", to=ROLE)
        op.revoke_privileges("SELECT", "granted_view", to=ROLE, kind="view")
        op.revoke_privileges("EXECUTE", "granted_fn", to=ROLE, kind="function", arguments="integer")
        """,
        header=f"ROLE = {role!r}",
    )
    engine = engine_for(head_url)
    assert cli("migrate", "--url", head_url).status == 0
    assert granted(engine, "relation", "granted_table", role) == ["INSERT", "SELECT"]
    assert granted(engine, "relation", "granted_view", role) == ["SELECT"]
    assert granted(engine, "function", "granted_fn", role) == ["EXECUTE"]
    result = cli("migrate", "-1", "--url", head_url)
    assert result.status == 0, result
    assert version(engine) == [HEAD]
    for catalog, name in [("relation", "granted_table"), ("relation", "granted_view"), ("function", "granted_fn")]:
        assert granted(engine, catalog, name, role) == []
