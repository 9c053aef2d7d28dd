"""A real public schema nobody here wrote: pagila (tests/schemas/pagila, with its licence).

Its views, materialized view and functions (some with OUT parameters) are
created through the operations, in a small app of their own, and must give
what psql gives from the same file; then some are replaced, with what a DBA
adds around them (a view over one of its views, grants, comments, an index),
up, down and up, online and through ``--sql | psql``.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

import myapp.db
import pagila
from myapp.db import App, ReplaceableFunction, plugins
from myapp.db.autogenerate.compare import compare
from myapp.db.replaceable import KINDS
from myapp.db.replaceable.ops import ReplaceReplaceableObjectOp
from dbhelpers import cluster_roles
from myapp.db.runtime.records import OWN_TABLES
from pgtools import pg_dump_schema, psql

LOAD = '''\
"""pagila, as its pg_dump has it"""
from alembic import op

import pagila

revision = "pagila000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pagila.load(op)


def downgrade():
    pagila.unload(op)
'''

REPLACE = '''\
"""replace some of pagila's views, its materialized view and functions"""
from alembic import op

import pagila
from myapp.db import ReplaceableFunction, ReplaceableMatview, ReplaceableView

revision = "pagila000002"
down_revision = "pagila000001"
branch_labels = None
depends_on = None

old = {o.name: o for o in pagila.objects()}

# A column at the end: CREATE OR REPLACE VIEW, in place.
film_list = ReplaceableView("film_list", old["film_list"].definition.replace(
    " AS actors\\n", " AS actors,\\n    count(*) AS actor_count\\n"), schema="public")
# A column renamed: dropped and created, with what depends on it.
customer_list = ReplaceableView("customer_list", old["customer_list"].definition.replace(
    "cu.store_id AS sid", "cu.store_id AS store_id"), schema="public")
rental_by_category = ReplaceableMatview("rental_by_category", old["rental_by_category"].definition.replace(
    "sum(p.amount) AS total_sales", "sum(p.amount) AS total_sales,\\n    count(*) AS rentals"),
    schema="public", with_data=False)
# Same arguments and result: in place. An OUT parameter retyped: another result, so dropped and created.
film_in_stock = ReplaceableFunction(
    "film_in_stock(p_film_id integer, p_store_id integer, OUT p_film_count integer)",
    old["film_in_stock"].definition.replace("SELECT inventory_id", "SELECT inventory.inventory_id"), schema="public")
film_not_in_stock = ReplaceableFunction(
    "film_not_in_stock(p_film_id integer, p_store_id integer, OUT p_film_count bigint)",
    old["film_not_in_stock"].definition.replace("SETOF integer", "SETOF bigint")
    .replace("SELECT inventory_id", "SELECT inventory_id::bigint"), schema="public")
last_updated = ReplaceableFunction("last_updated()", old["last_updated"].definition.replace(
    "CURRENT_TIMESTAMP", "clock_timestamp()"), schema="public")

NEW = [film_list, customer_list, rental_by_category, film_in_stock, film_not_in_stock, last_updated]


def upgrade():
    for new in NEW:
        op.replace_replaceable_object(new, replaces=old[new.name])


def downgrade():
    for new in reversed(NEW):
        op.replace_replaceable_object(new, replace_with=old[new.name])
'''


@pytest.fixture(autouse=True, scope="module")
def postgresql_18(admin):
    """This pagila release needs PostgreSQL 18 (a column defaults to ``uuidv7()``), as the embedded server is."""
    with admin.connect() as conn:
        if conn.dialect.server_version_info < (18,):
            pytest.skip(f"pagila here needs PostgreSQL 18 (uuidv7()); the server is {conn.dialect.server_version_info}")


@pytest.fixture
def app(tmp_path):
    versions = tmp_path / "pagila_migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "pagila000001_load.py").write_text(LOAD)
    (versions / "pagila000002_replace.py").write_text(REPLACE)
    return App("pagila", migrations=tmp_path / "pagila_migrations", objects=[])


@pytest.fixture(scope="module")
def reader(admin):
    with cluster_roles(admin, reader="pagila_reader") as names:
        yield names["reader"]


def dump(url) -> str:
    """The schema, but the framework's own tables (the version table and its records), which
    outlive a downgrade to zero and which psql's load does not make."""
    return pg_dump_schema(url, "--exclude-table=alembic_version", *(f"--exclude-table={t}" for t in OWN_TABLES))


def fresh(databases) -> str:
    return databases.create().render_as_string(hide_password=False)


def test_created_through_the_operations_as_psql_creates_it(app, databases, engine_for):
    by_psql, by_operations = fresh(databases), fresh(databases)
    loaded = psql(by_psql, pagila.SCHEMA_FILE.read_text(encoding="utf-8"), "-1")
    assert loaded.returncode == 0, loaded.stderr
    myapp.db.migrate(by_operations, "pagila000001", app=app)
    assert dump(by_operations) == dump(by_psql)
    with engine_for(by_operations).connect() as conn:  # and autogenerate sees no difference
        assert compare(conn, pagila.objects(), sa.MetaData(), KINDS) == []
    myapp.db.migrate(by_operations, "zero", app=app)
    assert dump(by_operations) == dump(fresh(databases))


DBA = """
CREATE VIEW public.active_customers WITH (security_barrier = true) AS
    SELECT id, name FROM public.customer_list WHERE notes = 'active';
GRANT SELECT ON public.customer_list, public.active_customers TO {reader};
COMMENT ON COLUMN public.customer_list.name IS 'first and last';
CREATE INDEX ix_rental_by_category ON public.rental_by_category (category);
COMMENT ON MATERIALIZED VIEW public.rental_by_category IS 'refresh after the monthly load';
CREATE VIEW public.stock_gaps AS
    SELECT f.film_id, (SELECT count(*) FROM public.film_not_in_stock(f.film_id, 1)) AS missing FROM public.film f;
REVOKE EXECUTE ON FUNCTION public.film_not_in_stock(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.film_not_in_stock(integer, integer) TO {reader};
"""


def test_replacements_up_down_up_online_and_offline(app, databases, reader):
    online, offline = fresh(databases), fresh(databases)
    for url in (online, offline):
        myapp.db.migrate(url, "pagila000001", app=app)
    for url in (online, offline):
        dba = psql(url, DBA.format(reader=reader), "-1")
        assert dba.returncode == 0, dba.stderr
    at_load = dump(online)

    myapp.db.migrate(online, "pagila000002", app=app)
    sql = myapp.db.migrate(app=app, sql=True, start="pagila000001", target="pagila000002").sql
    applied = psql(offline, sql, "-1")
    assert applied.returncode == 0, applied.stderr
    replaced = dump(online)
    assert dump(offline) == replaced
    for kept in ("COMMENT ON COLUMN public.customer_list.name IS 'first and last'",
                 "CREATE INDEX ix_rental_by_category ON public.rental_by_category",
                 f"GRANT SELECT ON TABLE public.active_customers TO {reader}",
                 f"GRANT ALL ON FUNCTION public.film_not_in_stock(p_film_id integer, p_store_id integer, "
                 f"OUT p_film_count bigint) TO {reader}",
                 "count(*) AS actor_count", "count(*) AS rentals", "CREATE VIEW public.stock_gaps"):
        assert kept in replaced
    assert "cu.store_id AS sid" not in replaced

    myapp.db.migrate(online, "pagila000001", app=app)
    down = myapp.db.migrate(app=app, sql=True, start="pagila000002", target="pagila000001").sql
    assert psql(offline, down, "-1").returncode == 0
    assert dump(online) == dump(offline) == at_load
    myapp.db.migrate(online, "pagila000002", app=app)
    assert dump(online) == replaced


def test_the_whole_history_offline(app, databases):
    online, offline = fresh(databases), fresh(databases)
    myapp.db.migrate(online, "pagila000002", app=app)
    sql = myapp.db.migrate(app=app, sql=True, target="pagila000002").sql
    applied = psql(offline, sql, "-1")
    assert applied.returncode == 0, applied.stderr
    assert dump(offline) == dump(online)


def test_what_depends_through_an_aggregate_is_refused_naming_it(app, databases, engine_for):
    url = fresh(databases)
    myapp.db.migrate(url, "pagila000001", app=app)
    old = {o.name: o for o in pagila.objects()}["_group_concat"]
    new = ReplaceableFunction("_group_concat(text, text)", old.definition.replace("RETURNS text", "RETURNS varchar"),
                              schema="public")
    before = dump(url)
    plugins.load()
    with pytest.raises(sa.exc.DBAPIError, match=r"cannot replace function public\._group_concat\(text, text\): "
                                                r"function group_concat\(text\) depends on it"):
        with engine_for(url).begin() as conn:
            Operations(MigrationContext.configure(conn)).invoke(ReplaceReplaceableObjectOp(new, old))
    assert dump(url) == before
