"""Schema-per-tenant and many databases: each target its own version table and lock, fanned out with a report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from myapp.apps import app as myapp_app
from myapp.db import migrate_all
from myapp.db.catalog.snapshot import schema_snapshot

from conftest import run_process
from dbhelpers import HEAD, REVISIONS, version

TENANTS = ("t_one", "t_two", "t_three")
QUERY = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%' ORDER BY 1"


def tenant_version(engine, schema):
    with engine.connect() as conn:
        if conn.scalar(sa.text("SELECT to_regclass(:t)"), {"t": f"{schema}.alembic_version"}) is None:
            return None
        return sorted(conn.scalars(sa.text(f'SELECT version_num FROM "{schema}".alembic_version')))


def tenant_snapshot(engine, schema):
    """The snapshot of one schema's objects, the schema's name taken out of every row and definition."""
    with engine.connect() as conn:
        rows = schema_snapshot(conn)

    def neutral(value):
        return value.replace(f"{schema}.", "S.").replace(f'"{schema}"', "S") if isinstance(value, str) else value

    return {kind: sorted(tuple(neutral(v) for v in row[1:]) for row in found if row[0] == schema)
            for kind, found in rows.items()}


@pytest.fixture
def tenants(cli, db_url):
    """Three tenants bootstrapped at head in one database."""
    for name in TENANTS:
        result = cli("bootstrap", "--schema", name, "--url", db_url)
        assert result.status == 0, result
    return db_url


def lines(result):
    return result.out.splitlines()


# -- one tenant ------------------------------------------------------------------------


def test_bootstrap_schema_builds_a_tenant_inside_its_schema(cli, db_url, engine_for):
    result = cli("bootstrap", "--schema", "t_one", "--url", db_url)
    assert result.status == 0, result
    assert "schema 't_one'" in result.err
    engine = engine_for(db_url)
    assert tenant_version(engine, "t_one") == [HEAD] and version(engine) is None
    with engine.connect() as conn:
        public = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
        mine = set(conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 't_one'")))
        matview = conn.scalar(sa.text("SELECT schemaname FROM pg_matviews"))
    assert public == [] and {"networks", "observations", "alembic_version", "myapp_db_revisions"} <= mine
    assert matview == "t_one"
    listing = cli("showmigrations", "--schema", "t_one", "--url", db_url)
    assert listing.out.splitlines()[-1].startswith(f"[X] {HEAD}") and "(head, current)" in listing.out
    assert cli("current", "--schema", "t_one", "--url", db_url).out.strip() == f"{HEAD} (head)"
    again = cli("bootstrap", "--schema", "t_one", "--url", db_url)
    assert again.status == 2 and "schema 't_one' already has a migration history" in again.err
    assert "migrate --schema t_one" in again.err


def test_a_migrated_tenant_equals_a_bootstrapped_one_up_down_and_up(cli, db_url, engine_for):
    engine = engine_for(db_url)
    assert cli("bootstrap", "--schema", "t_boot", "--url", db_url).status == 0
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA t_mig")
    for target in ("head", "zero", "head"):
        result = cli("migrate", target, "--schema", "t_mig", "--url", db_url)
        assert result.status == 0 and "1 applied" in result.out, result
    assert tenant_version(engine, "t_mig") == [HEAD]
    booted, migrated = tenant_snapshot(engine, "t_boot"), tenant_snapshot(engine, "t_mig")
    frame = ("alembic_version", "myapp_db_revisions")
    for kind in booted:
        assert [r for r in booted[kind] if r[0] not in frame] == [r for r in migrated[kind] if r[0] not in frame], kind
    assert version(engine) is None  # nothing in the database's own schema


def test_tenants_move_apart_and_the_default_schema_is_its_own(cli, tenants, engine_for):
    engine = engine_for(tenants)
    result = cli("migrate", REVISIONS[-3], "--schema", "t_two", "--url", tenants)
    assert result.status == 0, result
    assert tenant_version(engine, "t_two") == [REVISIONS[-3]]
    assert tenant_version(engine, "t_one") == [HEAD] == tenant_version(engine, "t_three")
    assert cli("migrate", "--url", tenants).status == 0  # the default schema: a database of its own
    assert version(engine) == [HEAD] and tenant_version(engine, "t_two") == [REVISIONS[-3]]


def test_fake_and_step_work_in_a_tenant(cli, tenants, engine_for):
    engine = engine_for(tenants)
    faked = cli("migrate", "zero", "--fake", "--schema", "t_two", "--url", tenants)
    assert faked.status == 0 and "6 steps done" in faked.out, faked
    assert tenant_version(engine, "t_two") == []
    stepped = cli("migrate", REVISIONS[2], "--fake", "--schema", "t_two", "--url", tenants)
    assert stepped.status == 0 and tenant_version(engine, "t_two") == [REVISIONS[2]]
    with engine.connect() as conn:
        how = dict(conn.execute(sa.text("SELECT revision, how FROM t_two.myapp_db_revisions")).all())
    assert how == dict.fromkeys(REVISIONS[:3], "fake")
    assert tenant_version(engine, "t_one") == [HEAD]


def test_schema_names_are_checked_before_anything_runs(cli, db_url):
    for name, message in (("pg_catalog", "one of PostgreSQL's own schemas"),
                          ("x" * 64, "longer than PostgreSQL's 63 bytes"), (" ", "not a schema name")):
        result = cli("migrate", "--schema", name, "--url", db_url)
        assert result.status == 2 and message in result.err and "Traceback" not in result.err, result


def test_a_missing_schema_fails_alone_and_says_how_to_create_it(cli, tenants):
    result = cli("migrate", "--schema", "t_one", "--schema", "t_nowhere", "--url", tenants)
    assert result.status == 2
    assert lines(result)[0] == "t_one      already at head"
    assert lines(result)[1] == ("t_nowhere  FAILED: schema 't_nowhere' does not exist; "
                                "create the tenant with 'python -m myapp.db bootstrap --schema t_nowhere'")


def test_a_suggested_command_quotes_the_tenant_for_the_shell(cli, db_url, tenants):
    """A name with a space or a quote comes back as one shell word: the hint runs as it is printed."""
    import shlex

    odd = "Tenant O'Hara; x"
    assert cli("bootstrap", "--schema", odd, "--url", db_url).status == 0
    again = cli("bootstrap", "--schema", odd, "--url", db_url)
    assert again.status == 2
    suggested = again.err.split("use '", 1)[1].rsplit("' to bring it up to date", 1)[0]
    assert shlex.split(suggested) == ["python", "-m", "myapp.db", "migrate", "--schema", odd]
    missing = cli("migrate", "--schema", "t_one", "--schema", "no where", "--url", tenants)
    assert missing.status == 2
    suggested = missing.out.split("create the tenant with '", 1)[1].splitlines()[0][:-1]
    assert shlex.split(suggested) == ["python", "-m", "myapp.db", "bootstrap", "--schema", "no where"], missing.out


# -- the lock ---------------------------------------------------------------------------


def test_each_tenant_has_its_own_lock(cli, tenants, engine_for):
    """Two runs on one tenant wait for each other; two tenants, or a tenant and the database, do not."""
    keys = {myapp_app.lock_key_for(s) for s in TENANTS} | {myapp_app.lock_key}
    assert len(keys) == len(TENANTS) + 1
    for schema in ("t_one", "t_two"):
        assert cli("migrate", "-1", "--schema", schema, "--url", tenants).status == 0
    with engine_for(tenants).connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({myapp_app.lock_key_for('t_one')})")
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({myapp_app.lock_key})")
        holder.commit()
        blocked = cli("migrate", "--schema", "t_one", "--lock-wait", "0.5", "--url", tenants)
        free = cli("migrate", "--schema", "t_two", "--lock-wait", "0.5", "--url", tenants)
    assert blocked.status == 2 and "the migration lock is still held after 0.5 s" in blocked.out
    assert free.status == 0 and "1 applied" in free.out, free
    engine = engine_for(tenants)
    assert tenant_version(engine, "t_one") == [REVISIONS[-2]] and tenant_version(engine, "t_two") == [HEAD]


# -- many at once -------------------------------------------------------------------------


def test_all_schemas_skips_tenants_at_head_and_reports_each(cli, tenants, engine_for):
    assert cli("migrate", "-2", "--schema", "t_two", "--url", tenants).status == 0
    result = cli("migrate", "--all-schemas", "--schemas-query", QUERY, "--url", tenants)
    assert result.status == 0, result
    assert [line.split()[:2] for line in lines(result)[:3]] == [
        ["t_one", "already"], ["t_three", "already"], ["t_two", "2"]]
    assert "t_two    2 steps done in" in result.out and f"Applying {REVISIONS[-2]}" in result.out
    assert "3 tenant schema(s) read in" in result.err and "1 to do, 2 unchanged" in result.err
    assert f"[t_two] Applying {HEAD} (" in result.err
    again = cli("migrate", "--all-schemas", "--schemas-query", QUERY, "--url", tenants, "--json")
    report = json.loads(again.out)
    assert again.status == 0 and report["summary"]["unchanged"] == 3 and report["exit_status"] == 0
    assert {t["schema"]: t["status"] for t in report["targets"]} == dict.fromkeys(sorted(TENANTS), "unchanged")
    check = cli("migrate", "--check", "--all-schemas", "--schemas-query", QUERY, "--url", tenants)
    assert check.status == 0


def test_plan_and_check_report_what_each_tenant_would_do(cli, tenants, engine_for):
    assert cli("migrate", "-1", "--schema", "t_three", "--url", tenants).status == 0
    for option in ("--plan", "--check"):
        result = cli("migrate", option, "--schema", "t_one", "--schema", "t_three", "--url", tenants)
        assert result.status == (1 if option == "--check" else 0), result
        assert lines(result)[1].startswith(f"t_three  1 step to do: Applying {HEAD}")
    assert tenant_version(engine_for(tenants), "t_three") == [REVISIONS[-2]]


def test_one_failing_tenant_fails_alone_and_a_rerun_does_what_is_left(cli, tenants, engine_for):
    engine = engine_for(tenants)
    for schema in TENANTS:
        assert cli("migrate", "-1", "--schema", schema, "--url", tenants).status == 0
    with engine.connect() as holder:  # a reader of t_two's matview blocks its replacement past the lock timeout
        holder.exec_driver_sql("SELECT 1 FROM t_two.daily_observations LIMIT 1")  # held until rollback
        result = cli("migrate", "--all-schemas", "--schemas-query", QUERY, "-j", "2", "--lock-timeout", "0.2",
                     "--lock-retries", "0", "--json", "--url", tenants)
        holder.rollback()
    report = json.loads(result.out)
    assert result.status == 2 and report["exit_status"] == 2, result
    statuses = {t["schema"]: t["status"] for t in report["targets"]}
    assert statuses == {"t_one": "applied", "t_three": "applied", "t_two": "failed"}
    [failed] = [t for t in report["targets"] if t["status"] == "failed"]
    assert "timed out waiting for" in failed["reason"] and "\n" not in failed["reason"]
    assert "1 target(s) failed; run the same command again" in result.err
    assert tenant_version(engine, "t_two") == [REVISIONS[-2]]  # rolled back, as it was
    rerun = cli("migrate", "--all-schemas", "--schemas-query", QUERY, "-j", "2", "--url", tenants)
    assert rerun.status == 0, rerun
    assert [line.split()[1] for line in lines(rerun)[:3]] == ["already", "already", "1"]
    assert all(tenant_version(engine, s) == [HEAD] for s in TENANTS)


def test_schemas_query_errors_are_one_line_and_read_only(cli, tenants):
    bad = cli("migrate", "--all-schemas", "--schemas-query", "SELECT nope FROM nowhere", "--url", tenants)
    assert bad.status == 2 and "--schemas-query failed:" in bad.out and "Traceback" not in bad.err
    writing = cli("migrate", "--all-schemas", "--schemas-query", "CREATE SCHEMA t_sneaky", "--url", tenants)
    assert writing.status == 2 and "read-only transaction" in writing.out
    alone = cli("migrate", "--schemas-query", QUERY, "--url", tenants)
    assert alone.status == 2 and "--schemas-query names the schemas of --all-schemas" in alone.err
    none = cli("migrate", "--all-schemas", "--url", tenants)
    assert none.status == 2 and "no plugin names the tenant schemas" in none.out


def test_urls_file_migrates_many_databases(cli, tmp_path, databases, head_url, engine_for):
    empty = databases.create().set(password="sekrit").render_as_string(hide_password=False)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# customers\n{empty}\n\n{head_url}\n")
    result = cli("migrate", "--urls", urls, "-j", "2")
    assert result.status == 0, result
    assert lines(result)[0].startswith(f"{sa.make_url(empty).render_as_string()}  6 steps done in")
    assert lines(result)[1].endswith("  already at head")
    assert "sekrit" not in result.out + result.err
    assert version(engine_for(empty)) == [HEAD]
    urls.write_text("postgresql://x/y\nnot a url\n")
    bad = cli("migrate", "--urls", urls)
    assert bad.status == 2 and f"line 2 of {urls}: malformed database URL" in bad.err
    missing = cli("migrate", "--urls", tmp_path / "nowhere.txt")
    assert missing.status == 2 and "cannot read --urls" in missing.err
    both = cli("migrate", "--urls", urls, "--url", head_url)
    assert both.status == 2 and "give one of them" in both.err


def test_a_database_that_cannot_be_reached_fails_alone(cli, tmp_path, head_url):
    gone = sa.make_url(head_url).set(database="no_such_database").render_as_string(hide_password=False)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{gone}\n{head_url}\n")
    result = cli("migrate", "--urls", urls)
    assert result.status == 2
    assert "FAILED: cannot connect to" in lines(result)[0] and "createdb no_such_database" in lines(result)[0]
    assert lines(result)[1].endswith("already at head")


def test_sql_for_a_tenant_sets_its_search_path(cli, db_url, engine_for):
    sql = cli("migrate", REVISIONS[1], "--sql", "--schema", "t_sql").out  # offline replaces need no dependents
    assert sql.index("SELECT set_config('search_path', '\"t_sql\"', false)") < sql.index("CREATE TABLE")
    assert "CREATE TABLE t_sql.alembic_version" in sql
    with engine_for(db_url).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA t_sql")
    libpq = sa.make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    psql = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-q", libpq], input=sql, text=True, capture_output=True)
    assert psql.returncode == 0, psql.stderr
    assert tenant_version(engine_for(db_url), "t_sql") == [REVISIONS[1]] and version(engine_for(db_url)) is None
    with engine_for(db_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 't_sql'")) == 7
    many = cli("migrate", "--sql", "--schema", "a", "--schema", "b")
    assert many.status == 2 and "--sql renders one target" in many.err


def test_the_python_api_returns_the_report(tenants):
    report = migrate_all(tenants, schemas=["t_one", "t_two"], plan=True)
    assert [(o.schema, o.status) for o in report.outcomes] == [("t_one", "unchanged"), ("t_two", "unchanged")]
    assert report.exit_status == 0 and json.loads(report.to_json())["summary"]["unchanged"] == 2
    with pytest.raises(TypeError):
        migrate_all(tenants, schemas=["t_one"], sql=True)


# -- interrupts ----------------------------------------------------------------------------

SLOW = '''\
"""slow for every tenant"""
from alembic import op

revision = "51011000aaaa"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SELECT pg_sleep(30)")


def downgrade():
    pass
'''


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_interrupt_stops_new_tenants_and_rolls_back_the_running_ones(jobs, cli, migrations_copy, db_url,
                                                                        engine_for):
    schemas = ["t_a", "t_b", "t_c", "t_d"]
    for name in schemas:
        assert cli("bootstrap", "--schema", name, "--url", db_url).status == 0
    (migrations_copy / "versions" / "51011000aaaa_slow.py").write_text(SLOW.format(down=HEAD))
    engine = engine_for(db_url)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "myapp.db", "migrate", "--all-schemas", "--schemas-query", QUERY, "-j", jobs,
         "--json", "--url", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "MYAPP_DATABASE_URL"})
    with engine.connect() as conn:
        while conn.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"
                                  " AND pid <> pg_backend_pid()")) < int(jobs):
            assert time.monotonic() - started < 30 and proc.poll() is None, proc.communicate()
            conn.rollback()
            time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (out, err)
    assert time.monotonic() - started < 25  # nobody waited for pg_sleep(30)
    report = json.loads(out)
    statuses = [t["status"] for t in report["targets"]]
    assert statuses == ["failed"] * int(jobs) + ["not_started"] * (4 - int(jobs)), report
    assert all("interrupted by SIG" in t["reason"] for t in report["targets"][:int(jobs)])
    assert report["interrupted"] == "SIGINT"
    assert all(tenant_version(engine, s) == [HEAD] for s in schemas)  # every running one rolled back
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%'"
                                   " AND pid <> pg_backend_pid()")) == 0


def test_jobs_and_json_need_many_targets(cli, head_url):
    result = cli("migrate", "-j", "2", "--url", head_url)
    assert result.status == 2 and "-j and --json go with many targets" in result.err
    zero = cli("migrate", "--schema", "t", "-j", "0", "--url", head_url)
    assert zero.status == 2 and "-j 0: give a whole number of jobs" in zero.err


def test_a_subprocess_run_of_many_tenants(tenants):
    result = run_process("migrate", "--all-schemas", "--schemas-query", QUERY, "-j", "3", "--url", tenants)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("with -j 3: 3 unchanged")


# -- what tenants share ------------------------------------------------------------------

CLINIC_MODELS = '''\
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.orm import registry as orm_registry

from myapp.db import Registry, ReplaceableView

metadata = MetaData()
plans = Table("plans", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)),
              schema="shared")
accounts = Table("accounts", metadata, Column("id", Integer, primary_key=True), Column("name", String(40)),
                 Column("plan_id", ForeignKey("shared.plans.id")))


class Account:
    pass


orm_registry(metadata=MetaData()).map_imperatively(Account, accounts)

objects = Registry([
    ReplaceableView("account_plans", "SELECT a.name, p.name AS plan FROM accounts a LEFT JOIN plans p ON p.id = a.plan_id"),
    ReplaceableView("plan_names", "SELECT name FROM shared.plans", schema="shared"),
])
'''

CLINIC_REVISION = '''\
"""accounts on shared plans"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session

from myapp.db import tenant_schema

revision = "c11a1c000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    if tenant_schema() is None:  # the shared part: only the database's own run
        op.execute("CREATE SCHEMA IF NOT EXISTS shared")
        op.create_table("plans", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)),
                        schema="shared")
    op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40)),
                    sa.Column("plan_id", sa.Integer, sa.ForeignKey("shared.plans.id")))


def downgrade():
    op.drop_table("accounts")
    if tenant_schema() is None:
        op.drop_table("plans", schema="shared")


def data_upgrade():
    from clinic.models import Account

    op.execute("SET LOCAL search_path TO public")  # the ORM still writes to the tenant: schema_translate_map
    session = Session(bind=op.get_bind())
    account = Account()
    account.name = f"first of {tenant_schema()}"
    session.add(account)
    session.flush()
'''


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    """An app whose tenants share a schema of plans (App(shared_schemas=...)), written into tmp_path."""
    from myapp.db import App

    package = tmp_path / "src" / "clinic"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(CLINIC_MODELS)
    (package / "migrations" / "versions" / "c11a1c000001_accounts.py").write_text(CLINIC_REVISION)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    return App("clinic", metadata="clinic.models:metadata", objects="clinic.models:objects",
               migrations=str(package / "migrations"), shared_schemas=("shared",))


def names(conn, sql):
    return sorted(conn.scalars(sa.text(sql)))


def test_shared_tables_and_objects_stay_in_their_schema(clinic, db_url, engine_for):
    from myapp.db import bootstrap, migrate, showmigrations

    migrate(db_url, app=clinic)  # the database's own run: the shared part and its own accounts
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO shared.plans (name) VALUES ('gold'); CREATE SCHEMA t_one")
    report = migrate_all(db_url, app=clinic, schemas=["t_one"])
    assert [o.status for o in report.outcomes] == ["applied"], report.outcomes
    bootstrap(db_url, app=clinic, schema="t_two")
    with engine.connect() as conn:
        tables = names(conn, "SELECT schemaname || '.' || tablename FROM pg_tables WHERE tablename IN "
                             "('plans', 'accounts')")
        views = names(conn, "SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname <> 'pg_catalog'"
                            " AND schemaname <> 'information_schema'")
        accounts = {s: names(conn, f"SELECT name FROM {s}.accounts") for s in ("public", "t_one", "t_two")}
        fk = conn.scalar(sa.text("SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
                                 " AND conrelid = 't_one.accounts'::regclass"))
        search_path_view = conn.scalar(sa.text("SELECT definition FROM pg_views WHERE schemaname = 't_two'"))
    assert tables == ["public.accounts", "shared.plans", "t_one.accounts", "t_two.accounts"]
    assert views == ["t_two.account_plans"]  # bootstrap --schema: only what declares no schema
    assert accounts == {"public": ["first of None"], "t_one": ["first of t_one"], "t_two": []}  # no data step
    assert fk == "shared.plans"
    assert "shared.plans" in search_path_view  # 'plans' resolved on the tenant's search path, to shared
    assert [r.applied for r in showmigrations(db_url, app=clinic, schema="t_two")] == [True]
    with pytest.raises(Exception, match="'shared' is a shared schema of app 'clinic', not a tenant"):
        migrate(db_url, app=clinic, schema="shared")


def test_plain_alembic_migrates_a_tenant_with_x_tenant(tmp_path, db_url, engine_for):
    from test_alembic_tools import alembic, ini

    ini(tmp_path, db_url)
    with engine_for(db_url).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA t_plain")
    up = alembic(tmp_path, "-x", "tenant=t_plain", "upgrade", "head")
    assert up.returncode == 0, up.stderr
    engine = engine_for(db_url)
    assert tenant_version(engine, "t_plain") == [HEAD] and version(engine) is None
    current = alembic(tmp_path, "-x", "tenant=t_plain", "current")
    assert f"{HEAD} (head)" in current.stdout
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM t_plain.myapp_db_revisions WHERE how = 'alembic'")) == 6


def test_workers_are_spawned_when_the_caller_has_threads(tenants, engine_for):
    """Forking a process that runs other threads is unsafe: then the workers start afresh (spawn)."""
    import threading

    from myapp.db.tenants import pool

    for schema in ("t_one", "t_two"):
        migrate_all(tenants, "-1", schemas=[schema])
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert pool._start_method() == "spawn"
        report = migrate_all(tenants, all_schemas=True, schemas_query=QUERY, jobs=2)
    finally:
        stop.set()
        other.join()
    assert [(o.schema, o.status) for o in report.outcomes] == [
        ("t_one", "applied"), ("t_three", "unchanged"), ("t_two", "applied")], report.outcomes
    assert all(tenant_version(engine_for(tenants), s) == [HEAD] for s in TENANTS)


def test_a_generated_revision_is_schema_agnostic_and_moves_every_tenant(cli, migrations_copy, head_url, engine_for,
                                                                         monkeypatch):
    import myapp.db.objects
    from myapp.db import ReplaceableView
    from myapp.db.objects import stations
    from myapp.db.replaceable.registry import Registry
    from test_autogen import APP, write

    for schema in ("t_one", "t_two"):
        assert cli("bootstrap", "--schema", schema, "--url", head_url).status == 0
    changed = ReplaceableView("station_positions", stations.station_positions.definition.replace(
        "h.valid_from", "h.valid_from, h.valid_to"))
    monkeypatch.setattr(myapp.db.objects, "registry", Registry([changed, *APP[2:]]))  # one changed, one removed
    source = write(cli, head_url, "positions with their end").read_text()
    assert "schema=" not in source  # the previous versions as the app declares them: in no schema
    assert cli("migrate", "--url", head_url).status == 0
    result = cli("migrate", "--all-schemas", "--schemas-query", QUERY, "--url", head_url)
    assert result.status == 0 and result.out.splitlines()[-1].endswith("2 applied"), result
    with engine_for(head_url).connect() as conn:
        for schema in ("public", "t_one", "t_two"):
            assert "valid_to" in conn.scalar(sa.text("SELECT definition FROM pg_views WHERE schemaname = :s"
                                                     " AND viewname = 'station_positions'"), {"s": schema})
            assert conn.scalar(sa.text("SELECT to_regclass(:v)"), {"v": f"{schema}.active_station_positions"}) is None
    result = cli("migrate", "-1", "--all-schemas", "--schemas-query", QUERY, "--url", head_url)
    assert result.status == 0, result
    with engine_for(head_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT to_regclass('t_two.active_station_positions')")) is not None
        assert conn.scalar(sa.text("SELECT to_regclass('public.active_station_positions')")) is None  # its own run
