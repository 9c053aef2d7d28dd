"""Replacements on what real schemas have, online and offline alike.

Each scenario builds two databases at head with the same hand-made SQL, runs
the operations online on one and applies their ``--sql`` rendering through
psql on the other, and requires identical ``pg_dump --schema-only`` output;
then checks what the scenario is about on both.
"""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from myapp.db import ddl, plugins
from myapp.db.plugins.builtins.grants import GrantPrivilegesOp
from myapp.db.autogenerate.compare import compare
from myapp.db.replaceable import KINDS, MatviewIndex, ReplaceableFunction, ReplaceableMatview, ReplaceableView
from myapp.db.replaceable.ops import (
    CreateReplaceableObjectOp,
    DropReplaceableObjectOp,
    ReplaceReplaceableObjectOp,
)
from dbhelpers import cluster_roles
from pgtools import pg_dump_schema, psql


@pytest.fixture(scope="module")
def people(admin):
    """Roles for the module: a steward granted ALL, a reader, and an owner of dependents."""
    with cluster_roles(admin, steward="steward", reader="reader", owner="Dep Owner") as names:
        quote = admin.dialect.identifier_preparer.quote
        yield {**names, "q": {key: quote(name) for key, name in names.items()}}


def offline_sql(*ops) -> str:
    """The SQL ``migrate --sql`` prints for ``ops`` (as env.py configures offline mode)."""
    plugins.load()
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", dialect_opts={"paramstyle": "named"},
        opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True},
    )
    operations = Operations(context)
    for op in ops:
        operations.invoke(op)
    return buffer.getvalue()


def run_online(engine, *ops) -> None:
    plugins.load()
    with engine.begin() as conn:
        operations = Operations(MigrationContext.configure(conn))
        for op in ops:
            operations.invoke(op)


class Pair:
    """Two databases at head, one migrated online, one through psql; equal dumps required."""

    def __init__(self, databases, head_template, engine_for, setup: str = ""):
        self.urls = [databases.create(template=head_template).render_as_string(hide_password=False)
                     for _ in range(2)]
        self.engines = [engine_for(url) for url in self.urls]
        for url in self.urls:
            if setup:
                done = psql(url, setup, "-1")
                assert done.returncode == 0, done.stderr

    def run(self, *ops) -> None:
        run_online(self.engines[0], *ops)
        applied = psql(self.urls[1], offline_sql(*ops), "-1")
        assert applied.returncode == 0, applied.stderr
        assert pg_dump_schema(self.urls[1]) == pg_dump_schema(self.urls[0])

    def each(self, query: str, **params) -> list:
        """The value from each database (oids, say, which differ)."""
        values = []
        for engine in self.engines:
            with engine.connect() as conn:
                values.append(conn.scalar(sa.text(query), params))
        return values

    def scalar(self, query: str, **params):
        """The same value from both databases."""
        values = self.each(query, **params)
        assert values[0] == values[1]
        return values[0]

    def fails(self, *ops) -> str:
        """Both refuse ``ops`` (online as an error, offline as psql's), changing nothing; the message."""
        before = [pg_dump_schema(url) for url in self.urls]
        with pytest.raises(sa.exc.DBAPIError) as online:
            run_online(self.engines[0], *ops)
        applied = psql(self.urls[1], offline_sql(*ops), "-1")
        assert applied.returncode != 0
        assert [pg_dump_schema(url) for url in self.urls] == before
        message = str(online.value.orig).splitlines()[0]
        assert message in applied.stderr
        return message


@pytest.fixture
def pair(databases, head_template, engine_for):
    return lambda setup="": Pair(databases, head_template, engine_for, setup)


def replace(new, old, *dependents):
    return ReplaceReplaceableObjectOp(new, old, dependents)


def sql(element) -> str:
    return str(element.compile(dialect=postgresql.dialect()))


# -- 1. ALL privileges ------------------------------------------------------------


def test_all_privileges_on_every_kind_through_create_replace_and_drop(pair, people):
    steward = {people["steward"]: ["ALL"]}
    view = ReplaceableView("v", "SELECT n.id, n.name FROM networks n", grants=steward)
    view_added = ReplaceableView("v", "SELECT n.id, n.name, n.description FROM networks n", grants=steward)
    view_reordered = ReplaceableView("v", "SELECT n.name, n.id FROM networks n", grants=steward)
    mv = ReplaceableMatview("mv", "SELECT count(*) AS n FROM networks", grants=steward,
                            indexes=[MatviewIndex("ux_mv", ["n"], unique=True)])
    mv2 = ReplaceableMatview("mv", "SELECT count(*) AS n, 1 AS one FROM networks", grants=steward,
                             indexes=[MatviewIndex("ux_mv", ["n"], unique=True)])
    fn = ReplaceableFunction("f(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT x $$", grants=steward)
    fn_body = ReplaceableFunction("f(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT x + 0 $$", grants=steward)
    fn_type = ReplaceableFunction("f(x integer)", "RETURNS bigint LANGUAGE sql AS $$ SELECT x::bigint $$", grants=steward)
    p = pair(f"GRANT SELECT ON networks TO {people['q']['reader']};")
    p.run(*(CreateReplaceableObjectOp(o) for o in (view, mv, fn)),
          GrantPrivilegesOp("ALL", "v", people["reader"], kind="view"),
          GrantPrivilegesOp("ALL", "f", people["reader"], kind="function", arguments=fn.arguments))
    for ops in ([replace(view_added, view)], [replace(view_reordered, view_added)], [replace(mv2, mv)],
                [replace(fn_body, fn)], [replace(fn_type, fn_body)]):
        p.run(*ops)
        for relation in ("v", "mv"):
            assert p.scalar("SELECT bool_and(has_table_privilege(:r, CAST(:t AS regclass), p)) FROM unnest("
                            "ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p",
                            r=people["steward"], t=relation)
        assert p.scalar("SELECT has_function_privilege(:r, 'f(integer)', 'EXECUTE')", r=people["steward"])
        assert p.scalar("SELECT has_table_privilege(:r, 'v', 'TRUNCATE')", r=people["reader"])  # granted by hand
        assert p.scalar("SELECT has_function_privilege(:r, 'f(integer)', 'EXECUTE')", r=people["reader"])
    p.run(*(DropReplaceableObjectOp(o) for o in (view_reordered, mv2, fn_type)))
    assert p.scalar("SELECT count(*) FROM pg_class WHERE relname IN ('v', 'mv')") == 0


def test_all_is_read_back_as_all_and_is_no_drift(pair, people):
    steward = {people["steward"]: ["ALL"]}
    declared = [ReplaceableView("v", "SELECT 1 AS one", grants=steward),
                ReplaceableFunction("f(x integer)", "RETURNS integer LANGUAGE sql AS $$ SELECT x $$", grants=steward)]
    p = pair()
    p.run(*(CreateReplaceableObjectOp(o) for o in declared))
    with p.engines[0].connect() as conn:
        found = {o.name: o for kind in KINDS for o in kind.from_database(conn, ["public"])}
        assert found["v"].grants == found["f"].grants == {people["steward"]: ("ALL",)}
        assert compare(conn, [*declared, *_registry()], sa.MetaData(), KINDS) == []


def _registry():
    from myapp.db.objects import registry

    return list(registry)


# -- 1. functions named by their identity ------------------------------------------


SIGNATURE = ("tally(a integer, b integer DEFAULT 2, OUT total integer, INOUT label text DEFAULT 'a, b',"
             " VARIADIC extra integer[] DEFAULT '{}')")
IDENTITY = "a integer, b integer, OUT total integer, INOUT label text, VARIADIC extra integer[]"


def test_function_identity_in_every_statement_that_names_it():
    fn = ReplaceableFunction(SIGNATURE, "LANGUAGE sql AS $$ SELECT a + b, label $$", grants={"r": ["EXECUTE"]})
    assert fn.arguments == IDENTITY and fn.label == f"function tally({IDENTITY})"
    assert sql(fn.create()).startswith(f"CREATE FUNCTION {SIGNATURE} LANGUAGE sql")
    assert sql(fn.drop()) == f"DROP FUNCTION tally({IDENTITY})"
    assert [sql(s) for s in fn.grant_statements()] == [f"GRANT EXECUTE ON FUNCTION tally({IDENTITY}) TO r"]
    assert fn.input_arguments == ["a integer", "b integer", "label text", "extra integer[]"]


@pytest.mark.parametrize("declared, identity, inputs", [
    ("x integer DEFAULT 1, OUT y text", "x integer, OUT y text", ["x integer"]),
    ("x OUT integer, y text = 'a,b'", "OUT x integer, y text", ["y text"]),  # name before mode; = for DEFAULT
    ('"odd  name" double precision DEFAULT $d$,$d$, IN z numeric(10, 2)', '"odd  name" double precision, z numeric(10, 2)',
     ['"odd  name" double precision', "z numeric(10, 2)"]),
    ("text, VARIADIC text[]", "text, VARIADIC text[]", ["text", "text[]"]),
    ("a int DEFAULT (1 + 2) /* , */, b int DEFAULT 0", "a int, b int", ["a int", "b int"]),
    ("", "", []),
])
def test_identity_and_input_arguments_from_the_declared_text(declared, identity, inputs):
    from myapp.db.replaceable.signature import identity_arguments, input_arguments

    assert identity_arguments(declared) == identity and input_arguments(declared) == inputs


_PIECES = ["x", "y_1", "IN", "out", "InOut", "variadic", "integer", "double", "precision", "DEFAULT", "default",
           "pg_catalog.int4", "text[]", "numeric(10, 2)", "'a,b'", '"Odd name"', "= 1", "/* , */", "-- c\n",
           "$q$,$q$", "1", "é", ",", " ", "  ", "\t", "\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_plain_argument_lists_read_as_the_tokenizer_reads_them(pieces):
    from myapp.db.replaceable import signature

    text = " ".join(pieces) if len(pieces) % 2 else "".join(pieces)
    tokenized = [signature._argument(tokens) for tokens in signature._split(text)]
    assert signature.parse(text) == tokenized
    words = re.split(r"[\s,]+", text.strip(" \t\n,"))
    if all(re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", w) for w in words if w) and "default" not in text.lower():
        assert signature._plain(text) is not None  # the fast path takes every plain list without DEFAULT


def test_function_with_defaults_out_inout_variadic_created_replaced_commented_dropped(pair, people):
    v1 = ReplaceableFunction(SIGNATURE, "LANGUAGE sql AS $$ SELECT a + b + coalesce(array_length(extra, 1), 0), label $$",
                             grants={people["reader"]: ["EXECUTE"]})
    v2 = ReplaceableFunction(SIGNATURE, "LANGUAGE sql AS $$ SELECT a * b, label $$",
                             grants={people["reader"]: ["EXECUTE"]})
    v3 = ReplaceableFunction(  # another OUT argument: another result type, so dropped and created
        SIGNATURE.replace("OUT total integer", "OUT total integer, OUT twice integer"),
        "LANGUAGE sql AS $$ SELECT a * b, 2 * a * b, label $$", grants={people["reader"]: ["EXECUTE"]})
    uses = ReplaceableView("tallies", "SELECT (tally(n.id)).total AS total FROM networks n")
    p = pair()
    p.run(CreateReplaceableObjectOp(v1), CreateReplaceableObjectOp(uses))
    assert p.scalar("SELECT (tally(1, 2, 'x', 7, 8)).total") == 5
    comment = ddl.SetComment("function", None, "tally", "counts", arguments=v1.arguments)
    with p.engines[0].begin() as conn:
        conn.execute(comment)
    assert psql(p.urls[1], sql(comment) + ";").returncode == 0
    oid = "SELECT oid FROM pg_proc WHERE proname = 'tally'"
    before = p.each(oid)
    with p.engines[0].connect() as conn:  # autogenerate finds it as declared
        assert compare(conn, [v1, uses, *_registry()], sa.MetaData(), KINDS) == []
    p.run(replace(v2, v1))  # in place: same arguments, same result
    assert p.each(oid) == before and p.scalar("SELECT (tally(3, 4)).total") == 12
    p.run(replace(v3, v2))  # not in place: the view is put back, grants and comment kept
    assert all(a != b for a, b in zip(p.each(oid), before)) and p.scalar("SELECT (tally(3, 4)).twice") == 24
    assert p.scalar("SELECT count(*) FROM tallies") == 0
    assert p.scalar(f"SELECT obj_description(({oid}), 'pg_proc')") == "counts"
    assert p.scalar(f"SELECT has_function_privilege(:r, ({oid}), 'EXECUTE')", r=people["reader"])
    p.run(DropReplaceableObjectOp(uses), DropReplaceableObjectOp(v3))
    assert p.scalar("SELECT count(*) FROM pg_proc WHERE proname = 'tally'") == 0


def test_makemigrations_on_a_database_with_such_a_function(cli, migrations_copy, head_url, engine_for):
    """It used to fail outright: the catalog's argument text carried its defaults into DROP FUNCTION."""
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql(f"CREATE FUNCTION {SIGNATURE} LANGUAGE sql AS $$ SELECT a, label $$")
    check = cli("makemigrations", "--check", "--url", head_url)
    assert check.status == 1 and f"drop function public.tally({IDENTITY})" in check.out, check
    assert cli("migrate", "--check", "--url", head_url).status == 1
    written = cli("makemigrations", "-m", "drop tally", "--url", head_url)
    assert written.status == 0, written
    for target in ("head", "-1", "head"):
        done = cli("migrate", target, "--url", head_url)
        assert done.status == 0, done.err
    assert cli("makemigrations", "--check", "--url", head_url).status == 0


# -- 3. what real schemas have ----------------------------------------------------


SETUP = """
CREATE VIEW base AS SELECT n.id, n.name, n.description FROM networks n;
CREATE VIEW child WITH (security_barrier = true, check_option = cascaded, security_invoker = true)
    AS SELECT b.id, b.name FROM base b WHERE b.id > 0;
CREATE MATERIALIZED VIEW summary AS SELECT c.id, count(*) AS n FROM child c GROUP BY c.id;
CREATE UNIQUE INDEX ux_summary ON summary (id);
CREATE FUNCTION child_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO networks (id, name) VALUES (NEW.id, NEW.name); RETURN NEW; END $$;
CREATE TRIGGER child_insert INSTEAD OF INSERT ON child FOR EACH ROW EXECUTE FUNCTION child_insert();
COMMENT ON VIEW child IS 'positive ids';
COMMENT ON COLUMN child.name IS 'the network name';
COMMENT ON COLUMN summary.n IS 'how many';
COMMENT ON COLUMN base.description IS 'free text';
GRANT SELECT (id, name) ON child TO {reader};
GRANT SELECT (n) ON summary TO {reader} WITH GRANT OPTION;
GRANT SELECT (name) ON base TO {reader};
GRANT SELECT ON networks, base TO {owner};
ALTER VIEW child OWNER TO {owner};
ALTER MATERIALIZED VIEW summary OWNER TO {owner};
ALTER VIEW base SET (security_barrier = true);
ALTER VIEW base ALTER COLUMN name SET DEFAULT 'unnamed';
"""

BASE = ReplaceableView("base", "SELECT n.id, n.name, n.description FROM networks n")


def setup_sql(people) -> str:
    return SETUP.format(reader=people["q"]["reader"], owner=people["q"]["owner"])


def carried_over(p, people) -> None:
    """Everything SETUP made is there, on both databases."""
    reader = people["reader"]
    assert p.scalar("SELECT reloptions::text FROM pg_class WHERE relname = 'child'") == (
        "{security_barrier=true,check_option=cascaded,security_invoker=true}")
    assert p.scalar("SELECT reloptions::text FROM pg_class WHERE relname = 'base'") == "{security_barrier=true}"
    assert p.scalar("SELECT count(*) FROM pg_trigger WHERE tgname = 'child_insert' AND NOT tgisinternal") == 1
    assert p.scalar("SELECT col_description('child'::regclass, 2)") == "the network name"
    assert p.scalar("SELECT col_description('summary'::regclass, 2)") == "how many"
    assert p.scalar("SELECT obj_description('child'::regclass, 'pg_class')") == "positive ids"
    assert p.scalar("SELECT has_column_privilege(:r, 'child', 'name', 'SELECT')", r=reader)
    assert p.scalar("SELECT has_column_privilege(:r, 'summary', 'n', 'SELECT WITH GRANT OPTION')", r=reader)
    assert not p.scalar("SELECT has_table_privilege(:r, 'child', 'SELECT')", r=reader)
    for relation in ("child", "summary"):
        assert p.scalar("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = :n", n=relation) == people["owner"]
    assert p.scalar("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'base'::regclass") == "'unnamed'::character varying"


def test_replacing_in_place_keeps_everything(pair, people):
    p = pair(setup_sql(people))
    oids = "SELECT string_agg(oid::text, ',' ORDER BY relname) FROM pg_class WHERE relname IN ('base', 'child', 'summary')"
    before = p.each(oids)
    p.run(replace(ReplaceableView("base", "SELECT n.id, n.name, n.description, n.created_at FROM networks n"), BASE))
    assert p.each(oids) == before  # nothing dropped
    carried_over(p, people)


def test_replacing_whole_puts_back_options_comments_triggers_column_privileges_and_owners(pair, people):
    p = pair(setup_sql(people))
    for url in p.urls:
        assert psql(url, "INSERT INTO networks (id, name) VALUES (1, 'a'), (2, 'b');"
                         " REFRESH MATERIALIZED VIEW summary;").returncode == 0
    oids = "SELECT string_agg(oid::text, ',' ORDER BY relname) FROM pg_class WHERE relname IN ('base', 'child', 'summary')"
    before = p.each(oids)
    reordered = ReplaceableView("base", "SELECT n.name, n.id, n.description FROM networks n")
    p.run(replace(reordered, BASE))
    assert all(a != b for a, b in zip(p.each(oids), before))  # all three dropped and created again
    carried_over(p, people)
    assert p.scalar("SELECT count(*) FROM summary") == 2  # and populated again
    assert p.scalar("SELECT col_description('base'::regclass, 3)") == "free text"
    p.run(replace(BASE, reordered))
    carried_over(p, people)


def test_a_dropped_column_takes_its_comment_and_privileges_with_it(pair, people):
    p = pair(setup_sql(people))
    p.run(replace(ReplaceableView("base", "SELECT n.name, n.id FROM networks n"), BASE))
    assert p.scalar("SELECT count(*) FROM pg_description WHERE objoid = 'base'::regclass") == 0
    assert p.scalar("SELECT has_column_privilege(:r, 'base', 'name', 'SELECT')", r=people["reader"])


def test_what_a_replacement_cannot_put_back_fails_naming_it(pair):
    label = ReplaceableFunction("label(x integer)", "RETURNS text LANGUAGE sql AS $$ SELECT 'n' || x $$")
    label_varchar = ReplaceableFunction("label(x integer)", "RETURNS varchar LANGUAGE sql AS $$ SELECT 'n' || x $$")
    p = pair("CREATE FUNCTION label(x integer) RETURNS text LANGUAGE sql AS $$ SELECT 'n' || x $$;"
             " CREATE TABLE tagged (tag text DEFAULT label(1));"
             " CREATE TABLE snapshots (position station_positions);")
    message = p.fails(replace(label_varchar, label))
    assert message.startswith("cannot replace function label(x integer): default value for column tag of table tagged")
    reordered = ReplaceableView("station_positions", "SELECT 1 AS one")
    message = p.fails(replace(reordered, ReplaceableView("station_positions", "SELECT 1")))
    assert "column position of table snapshots" in message


def test_a_dependent_that_no_longer_compiles_is_named(pair):
    p = pair()
    p.run(CreateReplaceableObjectOp(ReplaceableView("base", "SELECT id, name FROM networks")),
          CreateReplaceableObjectOp(ReplaceableView("child", "SELECT name FROM base")))
    message = p.fails(replace(ReplaceableView("base", "SELECT id FROM networks"),
                              ReplaceableView("base", "SELECT id, name FROM networks")))
    assert message.startswith("cannot recreate view public.child, which depends on view base")
    assert re.search(r'column (base\.name|"name") does not exist', message), message  # PostgreSQL 18, 15
