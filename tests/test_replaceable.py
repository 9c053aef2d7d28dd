"""Replaceable objects: DDL, the operations, dependents, privileges, hostile names, refresh."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from dbhelpers import HEAD, REVISIONS, cluster_roles, snapshot
from myapp.db import ddl, plugins
from myapp.db.errors import CommandError
from myapp.db.objects import registry
from myapp.db.replaceable.ops import ReplaceReplaceableObjectOp
from myapp.db.replaceable.registry import Registry
from myapp.db.replaceable import (
    MatviewIndex,
    ReplaceableFunction,
    ReplaceableMatview,
    ReplaceableView,
)


def sql(element) -> str:
    return str(element.compile(dialect=postgresql.dialect()))


# -- DDL without a database ----------------------------------------------------


def test_names_are_quoted_definitions_pass_through():
    view = ReplaceableView('we"ird; DROP TABLE x', "SELECT 1 AS one", schema="Reporting")
    assert sql(view.create()) == 'CREATE VIEW "Reporting"."we""ird; DROP TABLE x" AS SELECT 1 AS one'
    assert sql(view.drop()) == 'DROP VIEW "Reporting"."we""ird; DROP TABLE x"'
    fn = ReplaceableFunction("Add(a integer, b integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT a + b $$")
    assert sql(fn.create()) == 'CREATE FUNCTION "Add"(a integer, b integer) RETURNS integer LANGUAGE sql AS $$ SELECT a + b $$'
    assert sql(fn.drop()) == 'DROP FUNCTION "Add"(a integer, b integer)'
    mv = ReplaceableMatview("mv", "SELECT 1 AS a", indexes=[MatviewIndex("ux", ["a"], unique=True)],
                            grants={"read'er": ["select"]}, with_data=False)
    assert sql(mv.create()) == "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a WITH NO DATA"
    assert [sql(s) for s in mv.after_create()] == [
        "CREATE UNIQUE INDEX ux ON mv (a)",
        "GRANT SELECT ON TABLE mv TO \"read'er\"",
    ]


def test_unknown_privilege_and_bad_signature_are_refused():
    with pytest.raises(ValueError, match="privilege"):
        ReplaceableView("v", "SELECT 1", grants={"r": ["SELECT; DROP"]})
    with pytest.raises(ValueError, match="signature"):
        ReplaceableFunction("no_parentheses", "RETURNS int")


def test_comment_is_a_literal():
    assert sql(ddl.SetComment("view", None, "v", "it's")) == "COMMENT ON VIEW v IS 'it''s'"


def test_registry_lookup_iteration_and_duplicates():
    assert [o.name for o in registry] == [
        "station_positions", "active_station_positions", "distance_km", "daily_observations"
    ]
    assert registry["daily_observations"].kind == "materialized view"
    assert "distance_km" in registry and registry.get("nope") is None
    with pytest.raises(KeyError):
        registry["nope"]
    local = Registry([ReplaceableView("v", "SELECT 1", schema="s")])
    assert local["s.v"].schema == "s"
    with pytest.raises(ValueError, match="already"):
        local.add(ReplaceableView("v", "SELECT 2", schema="s"))


# -- operations on a real database -----------------------------------------------


@pytest.fixture(scope="session")
def roles(admin):
    """Two roles for the session."""
    with cluster_roles(admin, reader="test_reader", owner="Test Owner") as names:
        yield names


@pytest.fixture
def conn(head_url, engine_for):
    with engine_for(head_url).connect() as connection:
        with connection.begin() as trans:
            yield connection
            trans.rollback()


@pytest.fixture
def op(conn):
    plugins.load()  # the built-in plugins register the operations
    return Operations(MigrationContext.configure(conn))


def replace(op, new, old):
    op.invoke(ReplaceReplaceableObjectOp(new, old))


def oid(conn, name):
    return conn.scalar(sa.text("SELECT to_regclass(:n)::oid"), {"n": name})


def catalog(conn):
    """The parts of the snapshot replacements must preserve."""
    snap = snapshot_of(conn)
    return {k: snap[k] for k in ("views", "functions", "privileges", "indexes")}


def snapshot_of(conn):
    from myapp.db.catalog.snapshot import schema_snapshot

    return schema_snapshot(conn)


BASE_V1 = ReplaceableView("base", "SELECT n.id, n.name FROM networks n")
BASE_ADDS = ReplaceableView("base", "SELECT n.id, n.name, n.description FROM networks n")
BASE_REORDERED = ReplaceableView("base", "SELECT n.name, n.id, n.created_at FROM networks n")
DEPENDENT = ReplaceableView("dependent", "SELECT b.id, b.name FROM base b WHERE b.id > 0")
SUMMARY = ReplaceableMatview(
    "summary", "SELECT d.id, count(*) AS n FROM dependent d GROUP BY d.id",
    indexes=[MatviewIndex("ux_summary_id", ["id"], unique=True)],
)


def build_chain(op, conn, roles):
    """base <- dependent <- summary, with grants, an owner, comments and an extra index."""
    for obj in (BASE_V1, DEPENDENT, SUMMARY):
        op.create_replaceable_object(obj)
    quote = conn.dialect.identifier_preparer.quote
    reader, owner = quote(roles["reader"]), quote(roles["owner"])
    conn.exec_driver_sql(f"GRANT SELECT ON dependent TO {reader}")
    conn.exec_driver_sql(f"GRANT SELECT ON summary TO {reader} WITH GRANT OPTION")
    conn.exec_driver_sql(f"GRANT SELECT ON base TO {reader}, {owner}")
    conn.exec_driver_sql(f"ALTER VIEW dependent OWNER TO {owner}")
    conn.exec_driver_sql("COMMENT ON VIEW dependent IS 'for reports'")
    conn.exec_driver_sql("COMMENT ON MATERIALIZED VIEW summary IS 'refreshed nightly'")
    conn.exec_driver_sql("COMMENT ON VIEW base IS 'the base'")
    conn.exec_driver_sql("CREATE INDEX ix_summary_n ON summary (n)")


def test_create_and_drop_each_kind(op, conn):
    fn = ReplaceableFunction("twice(x integer)", "RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 2 * x $$")
    mv = ReplaceableMatview("mv", "SELECT 1 AS a", indexes=[MatviewIndex("ux_mv", ["a"], unique=True)],
                            grants={"PUBLIC": ["SELECT"]})
    for obj in (BASE_V1, fn, mv):
        op.create_replaceable_object(obj)
    assert conn.scalar(sa.text("SELECT twice(21)")) == 42
    assert conn.scalar(sa.text("SELECT a FROM mv")) == 1
    assert oid(conn, "ux_mv") and oid(conn, "base")
    assert conn.scalar(sa.text("SELECT has_table_privilege('public', 'mv', 'SELECT')"))
    for obj in (mv, fn, BASE_V1):
        op.drop_replaceable_object(obj)
    assert oid(conn, "mv") is None and oid(conn, "base") is None
    assert conn.scalar(sa.text("SELECT to_regprocedure('twice(integer)')")) is None


def test_compatible_view_is_replaced_in_place(op, conn, roles):
    build_chain(op, conn, roles)
    before = {name: oid(conn, name) for name in ("base", "dependent", "summary")}
    replace(op, BASE_ADDS, BASE_V1)
    assert {name: oid(conn, name) for name in before} == before  # nothing dropped
    assert "description" in conn.scalar(sa.text("SELECT pg_get_viewdef('base')"))


def test_incompatible_view_recreates_dependents_with_everything_on_them(op, conn, roles):
    build_chain(op, conn, roles)
    conn.exec_driver_sql("INSERT INTO networks (name) VALUES ('a'), ('b')")
    conn.exec_driver_sql("REFRESH MATERIALIZED VIEW summary")
    original = catalog(conn)
    old_oids = {name: oid(conn, name) for name in ("base", "dependent", "summary")}

    replace(op, BASE_REORDERED, BASE_V1)
    after = catalog(conn)
    assert all(oid(conn, name) != old for name, old in old_oids.items())  # really recreated
    assert after["privileges"] == original["privileges"]  # grants, owners, comments, on all three
    assert after["indexes"] == original["indexes"]  # declared and hand-made index
    assert [v for v in after["views"] if v[1] != "base"] == [v for v in original["views"] if v[1] != "base"]
    assert conn.scalar(sa.text("SELECT count(*) FROM summary")) == 2  # populated again

    replace(op, BASE_V1, BASE_REORDERED)  # and back: exactly as before
    assert catalog(conn) == original


def test_matview_with_no_data_stays_unpopulated(op, conn):
    op.create_replaceable_object(BASE_V1)
    op.create_replaceable_object(DEPENDENT)
    conn.exec_driver_sql("CREATE MATERIALIZED VIEW later AS SELECT id FROM dependent WITH NO DATA")
    replace(op, BASE_REORDERED, BASE_V1)
    assert conn.scalar(sa.text("SELECT relispopulated FROM pg_class WHERE relname = 'later'")) is False


def test_function_replaced_in_place_when_compatible(op, conn):
    v1 = ReplaceableFunction("twice(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT 2 * x $$")
    v2 = ReplaceableFunction("twice(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT x + x $$")
    op.create_replaceable_object(v1)
    op.create_replaceable_object(ReplaceableView("uses", "SELECT twice(id) AS t FROM networks"))
    before = conn.scalar(sa.text("SELECT 'twice(integer)'::regprocedure::oid"))
    replace(op, v2, v1)
    assert conn.scalar(sa.text("SELECT 'twice(integer)'::regprocedure::oid")) == before
    assert "x + x" in conn.scalar(sa.text("SELECT prosrc FROM pg_proc WHERE proname = 'twice'"))


def test_function_with_new_return_type_recreates_dependents(op, conn, roles):
    v1 = ReplaceableFunction("label(x integer)", "RETURNS text LANGUAGE sql AS $$ SELECT 'n' || x $$")
    v2 = ReplaceableFunction("label(x integer)", "RETURNS varchar LANGUAGE sql AS $$ SELECT 'n' || x $$")
    op.create_replaceable_object(v1)
    op.create_replaceable_object(ReplaceableView("labels", "SELECT label(id) AS l FROM networks"))
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql("REVOKE EXECUTE ON FUNCTION label(integer) FROM PUBLIC")
    conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION label(integer) TO {quote(roles['reader'])}")
    before = catalog(conn)["privileges"]
    replace(op, v2, v1)
    assert conn.scalar(sa.text("SELECT prorettype::regtype::text FROM pg_proc WHERE proname = 'label'")) == "character varying"
    assert oid(conn, "labels")
    assert catalog(conn)["privileges"] == before  # PUBLIC still revoked, the reader kept


def test_function_with_new_argument_types_leaves_no_overload(op, conn):
    v1 = ReplaceableFunction("half(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT x / 2 $$")
    v2 = ReplaceableFunction("half(x numeric)", "RETURNS numeric LANGUAGE sql AS $$ SELECT x / 2 $$")
    op.create_replaceable_object(v1)
    replace(op, v2, v1)
    assert conn.execute(sa.text("SELECT oid::regprocedure::text FROM pg_proc WHERE proname = 'half'")).scalars().all() == ["half(numeric)"]


def test_drop_with_dependents_is_refused_naming_them(op, conn):
    op.create_replaceable_object(BASE_V1)
    op.create_replaceable_object(DEPENDENT)
    with pytest.raises(CommandError, match="public.dependent"):
        op.drop_replaceable_object(BASE_V1)


def test_hostile_names_round_trip(op, conn):
    schema = 'Odd "Schema"; --'
    conn.execute(sa.schema.CreateSchema(schema))
    name = 'Robert"); DROP TABLE networks;--'
    v1 = ReplaceableView(name, "SELECT 1 AS a, 2 AS b", schema=schema)
    v2 = ReplaceableView(name, "SELECT 2 AS b, 1 AS a", schema=schema)
    child = ReplaceableView("MixedCase", f"SELECT a FROM {conn.dialect.identifier_preparer.quote_schema(schema)}."
                            f"{conn.dialect.identifier_preparer.quote(name)}", schema=schema)
    fn = ReplaceableFunction("Weird;Fn(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT x $$", schema=schema)
    for obj in (v1, child, fn):
        op.create_replaceable_object(obj)
    replace(op, v2, v1)  # reordered columns: dropped and recreated, with the child
    preparer = conn.dialect.identifier_preparer
    quoted_child = f"{preparer.quote_schema(schema)}.{preparer.quote('MixedCase')}"
    assert conn.scalar(sa.text(f"SELECT a FROM {quoted_child}")) == 1
    names = conn.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :s ORDER BY 1"), {"s": schema}).scalars().all()
    assert names == ["MixedCase", name]
    for obj in (fn, child, v2):
        op.drop_replaceable_object(obj)
    assert oid(conn, "networks")  # nothing was injected


def test_percent_signs_in_definitions(op, conn):
    view = ReplaceableView("like_a", "SELECT name FROM networks WHERE name LIKE 'a%'")
    op.create_replaceable_object(view)
    conn.exec_driver_sql("INSERT INTO networks (name) VALUES ('abc'), ('xyz')")
    assert conn.execute(sa.text("SELECT name FROM like_a")).scalars().all() == ["abc"]
    offline = postgresql.dialect(paramstyle="named")  # what env.py uses for --sql
    assert "LIKE 'a%'" in str(view.create().compile(dialect=offline))


# -- through revisions and the command line -------------------------------------------


REVISION = '''\
"""{message}"""
from alembic import op
from myapp.db.replaceable import ReplaceableView

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None

{body}
'''


def write_revision(versions, rev, down, message, body):
    (versions / f"{rev}_test.py").write_text(REVISION.format(rev=rev, down=down, message=message, body=body))


def test_dependent_that_no_longer_compiles_rolls_back(cli, migrations_copy, head_url, engine_for):
    versions = migrations_copy / "versions"
    write_revision(versions, "aaaa00000001", HEAD, "create pair", '''
base = ReplaceableView("base", "SELECT id, name FROM networks")
child = ReplaceableView("child", "SELECT name FROM base")

def upgrade():
    op.create_replaceable_object(base)
    op.create_replaceable_object(child)

def downgrade():
    op.drop_replaceable_object(child)
    op.drop_replaceable_object(base)
''')
    write_revision(versions, "aaaa00000002", "aaaa00000001", "lose name", '''
base = ReplaceableView("base", "SELECT id FROM networks")

def upgrade():
    op.replace_replaceable_object(base, replaces="aaaa00000001.base")

def downgrade():
    op.replace_replaceable_object(base, replace_with="aaaa00000001.base")
''')
    assert cli("migrate", "aaaa00000001", "--url", head_url).status == 0
    engine = engine_for(head_url)
    before = snapshot(engine)
    result = cli("migrate", "--url", head_url)
    assert result.status == 2
    error = [line for line in result.err.splitlines() if "error:" in line][0]
    assert "aaaa00000002" in error and "view public.child" in error and re.search(r'column (base\.name|"name") does not exist', error)
    assert snapshot(engine) == before
    down = cli("migrate", "-1", "--url", head_url)  # the pair itself goes down cleanly
    assert down.status == 0 and oid_in(engine, "child") is None and oid_in(engine, "base") is None


def oid_in(engine, name):
    with engine.connect() as c:
        return oid(c, name)


def test_sample_history_keeps_grant_index_and_dependent(cli, db_url, engine_for, roles):
    engine = engine_for(db_url)
    assert cli("migrate", REVISIONS[-2], "--url", db_url).status == 0
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as c:
        c.exec_driver_sql(f"GRANT SELECT ON daily_observations TO {quote(roles['reader'])}")
        c.exec_driver_sql("CREATE INDEX ix_daily_observations_n ON daily_observations (n)")
        c.exec_driver_sql("COMMENT ON MATERIALIZED VIEW daily_observations IS 'kept'")
    for target in (HEAD, "-1", HEAD):
        assert cli("migrate", target, "--url", db_url).status == 0
        with engine.connect() as c:
            assert c.scalar(sa.text("SELECT has_table_privilege(:r, 'daily_observations', 'SELECT')"),
                            {"r": roles["reader"]})
            assert oid(c, "ix_daily_observations_n") and oid(c, "ux_daily_observations_variable_day")
            assert c.scalar(sa.text("SELECT obj_description('daily_observations'::regclass)")) == "kept"
            assert oid(c, "active_station_positions")


def test_sql_renders_replacements_as_server_side_blocks(cli):
    result = cli("migrate", "--sql", "--from", REVISIONS[-3])
    assert result.status == 0
    assert "-- Replace view station_positions. The server does it when this runs" in result.out
    assert "DO $myapp_replace$" in result.out and "DROP VIEW station_positions;" not in result.out


def test_refresh_command(cli, head_url, engine_for):
    engine = engine_for(head_url)
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO networks (id, name) VALUES (1, 'n')")
        c.exec_driver_sql("INSERT INTO stations (id, network_id, code, name) VALUES (1, 1, 's', 's')")
        c.exec_driver_sql("INSERT INTO station_histories (id, station_id, valid_from, latitude, longitude)"
                          " VALUES (1, 1, now(), 1, 1)")
        c.exec_driver_sql("INSERT INTO variables (id, network_id, name, unit) VALUES (1, 1, 't', 'C')")
        c.exec_driver_sql("INSERT INTO observations (history_id, variable_id, observed_at, value)"
                          " VALUES (1, 1, now(), 3.5)")
    result = cli("refresh", "--concurrently", "--url", head_url)
    assert result.status == 0 and "Refreshing public.daily_observations concurrently... OK" in result.err
    with engine.connect() as c:
        assert c.scalar(sa.text("SELECT n FROM daily_observations")) == 1
    named = cli("refresh", "daily_observations", "--url", head_url)
    assert named.status == 0 and "Refreshing public.daily_observations... OK" in named.err
    unknown = cli("refresh", "nope", "--url", head_url)
    assert unknown.status == 2 and "nope" in unknown.err and "public.daily_observations" in unknown.err


def test_refresh_operation(op, conn):
    mv = ReplaceableMatview("counts", "SELECT count(*) AS n FROM networks",
                            indexes=[MatviewIndex("ux_counts", ["n"], unique=True)])
    op.create_replaceable_object(mv)
    conn.exec_driver_sql("INSERT INTO networks (name) VALUES ('a')")
    op.refresh_materialized_view(mv)
    assert conn.scalar(sa.text("SELECT n FROM counts")) == 1
    conn.exec_driver_sql("INSERT INTO networks (name) VALUES ('b')")
    op.refresh_materialized_view("public.counts", concurrently=True)
    assert conn.scalar(sa.text("SELECT n FROM counts")) == 2


def test_registry_creation_with_one_name_in_two_schemas(conn):
    from myapp.db.replaceable.registry import create_all

    for schema in ("a", "b"):
        conn.execute(sa.schema.CreateSchema(schema))
    objects = [ReplaceableView("x", "SELECT * FROM a.y", schema="a"),
               ReplaceableView("y", "SELECT 2 AS two", schema="b"),
               ReplaceableView("y", "SELECT 1 AS one", schema="a")]
    created = create_all(conn, objects)
    assert [(o.schema, o.name) for o in created] == [("b", "y"), ("a", "y"), ("a", "x")]
