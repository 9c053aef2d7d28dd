"""bootstrap, the listings, makemigrations, connection errors and the Python API."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

import myapp.db
from myapp.db.errors import CommandError
from myapp.db.autogenerate.describe import describe_diff
from myapp.db.catalog.snapshot import schema_snapshot
from myapp.db.commands.makemigrations import check_writable
from myapp.db.settings import Settings

from dbhelpers import HEAD, REVISIONS, snapshot, tables, version


# -- bootstrap ---------------------------------------------------------------


def test_bootstrap_creates_schema_and_stamps_head(cli, db_url, engine_for):
    result = cli("bootstrap", "--url", db_url)
    assert result.status == 0, result
    assert "Database: " in result.err and f"stamped {HEAD}" in result.err
    engine = engine_for(db_url)
    assert version(engine) == [HEAD]
    assert "observations" in tables(engine)


def test_bootstrap_refuses_a_migrated_database(cli, head_url, engine_for):
    before = snapshot(engine_for(head_url))
    result = cli("bootstrap", "--url", head_url)
    assert result.status == 2
    assert result.err.count("error:") == 1 and HEAD in result.err and "migrate" in result.err
    assert "Traceback" not in result.err
    assert snapshot(engine_for(head_url)) == before


def test_bootstrap_refuses_a_database_with_app_tables(cli, db_url, engine_for):
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE stations (id int)")
    before = snapshot(engine)
    result = cli("bootstrap", "--url", db_url)
    assert result.status == 2 and "stations" in result.err and "migrate" in result.err
    assert snapshot(engine) == before and version(engine) is None


def test_bootstrap_then_migrate_is_a_no_op(cli, db_url):
    assert cli("bootstrap", "--url", db_url).status == 0
    result = cli("migrate", "--url", db_url)
    assert result.status == 0 and "No migrations to apply." in result.err


# -- listings ----------------------------------------------------------------


def test_showmigrations_marks_applied_head_and_current(cli, db_url):
    assert cli("migrate", REVISIONS[1], "--url", db_url).status == 0
    lines = cli("showmigrations", "--url", db_url).out.splitlines()
    assert [line[4:].split()[0] for line in lines] == REVISIONS
    assert lines[0].startswith("[X]") and lines[1].startswith("[X]") and lines[2].startswith("[ ]")
    assert lines[1].endswith("(current)") and lines[-1].endswith("(head)")


def test_showmigrations_on_an_empty_database(cli, db_url, engine_for):
    lines = cli("showmigrations", "--url", db_url).out.splitlines()
    assert len(lines) == len(REVISIONS) and all(line.startswith("[ ]") for line in lines)
    assert version(engine_for(db_url)) is None


def test_current_heads_history(cli, db_url, head_url):
    assert cli("current", "--url", head_url).out.strip() == f"{HEAD} (head)"
    empty = cli("current", "--url", db_url)
    assert empty.status == 0 and empty.out == "" and "base" in empty.err
    assert cli("heads").out.strip() == f"{HEAD} (head)"
    history = cli("history").out.splitlines()
    assert len(history) == len(REVISIONS) and history[0].startswith(f"{REVISIONS[-2]} -> {HEAD} (head)")
    assert history[-1].startswith(f"<base> -> {REVISIONS[0]}")


def test_every_command_has_help(cli):
    for command in ("bootstrap", "migrate", "showmigrations", "current", "heads", "history", "makemigrations", "embedded"):
        result = cli(command, "--help")
        assert result.status == 0 and "usage:" in result.out, command


# -- makemigrations ----------------------------------------------------------


def test_makemigrations_check_in_sync(cli, head_url):
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 0 and "No changes detected." in result.err


def drop_description(engine):
    """Make the database disagree with the models (no view reads this column)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE variables DROP COLUMN description")


def test_makemigrations_check_finds_drift(cli, head_url, engine_for):
    drop_description(engine_for(head_url))
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 1
    assert "add column variables.description" in result.out
    assert "makemigrations -m" in result.err


def test_makemigrations_writes_a_revision_that_applies(cli, migrations_copy, head_url, engine_for):
    engine = engine_for(head_url)
    drop_description(engine)
    result = cli("makemigrations", "-m", "restore description", "--url", head_url)
    assert result.status == 0, result
    path = Path(result.out.strip())
    assert path.parent == migrations_copy / "versions" and path.name.endswith("_restore_description.py")
    source = path.read_text()
    assert "op.add_column('variables'" in source and f"down_revision = '{HEAD}'" in source
    assert cli("migrate", "--url", head_url).status == 0
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    assert cli("migrate", "-1", "--url", head_url).status == 0  # and it reverses
    assert not [c for c in snapshot(engine)["columns"] if c[1] == "variables" and c[3] == "description"]


def test_makemigrations_nothing_changed_writes_nothing(cli, migrations_copy, head_url):
    before = sorted(p.name for p in (migrations_copy / "versions").iterdir())
    result = cli("makemigrations", "-m", "nothing", "--url", head_url)
    assert result.status == 0 and result.out == "" and "No changes detected." in result.err
    assert sorted(p.name for p in (migrations_copy / "versions").iterdir()) == before


def test_makemigrations_empty(cli, migrations_copy):
    result = cli("makemigrations", "--empty", "-m", "backfill something")
    assert result.status == 0
    path = Path(result.out.strip())
    assert path.exists() and "def upgrade():\n    pass" in path.read_text()


def test_makemigrations_refuses_an_outdated_database(cli, migrations_copy, db_url, engine_for):
    assert cli("migrate", REVISIONS[0], "--url", db_url).status == 0
    result = cli("makemigrations", "-m", "x", "--url", db_url)
    assert result.status == 2 and "not at head" in result.err and "migrate" in result.err
    assert list((migrations_copy / "versions").glob("*_x.py")) == []


def test_makemigrations_needs_a_message(cli, migrations_copy, head_url):
    result = cli("makemigrations", "--url", head_url)
    assert result.status == 2 and "-m" in result.err


def test_makemigrations_refuses_an_installed_package(tmp_path):
    site_dir = Path(sysconfig.get_paths()["purelib"]) / "myapp" / "db" / "migrations" / "versions"
    with pytest.raises(CommandError, match="installed package"):
        check_writable(site_dir)


# -- connection errors -------------------------------------------------------


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("not a url", "malformed database URL"),
        ("mysql://localhost/x", "needs PostgreSQL"),
        ("postgresql://localhost", "names no database"),
        ("postgresql://nobody@127.0.0.1:1/db", "cannot connect"),
    ],
)
def test_bad_urls_are_one_line(cli, url, fragment):
    result = cli("migrate", "--url", url)
    assert result.status == 2
    assert fragment in result.err and result.err.count("\n") <= 2 and "Traceback" not in result.err


def test_missing_database_is_one_line(cli, admin_url):
    url = admin_url.set(database="no_such_database_here").render_as_string(hide_password=False)
    result = cli("showmigrations", "--url", url)
    assert result.status == 2
    assert 'database "no_such_database_here" does not exist' in result.err and "createdb" in result.err


def test_password_is_masked():
    settings = Settings.from_env("postgresql://me:s3cret@db.example/app")
    assert "s3cret" not in settings.describe() and "***" in settings.describe()


def test_url_resolution_order(monkeypatch):
    monkeypatch.setenv("MYAPP_DATABASE_URL", "postgresql://env/envdb")
    assert Settings.from_env("postgresql://arg/argdb").url.database == "argdb"
    assert Settings.from_env().url.database == "envdb"
    monkeypatch.delenv("MYAPP_DATABASE_URL")
    monkeypatch.setenv("MYAPP_DATA_DIR", "/tmp/somewhere")
    settings = Settings.from_env()
    assert settings.embedded and settings.data_dir == Path("/tmp/somewhere")


# -- the Python API ----------------------------------------------------------


def test_api_migrate_on_a_callers_connection(db_url, engine_for):
    """The cookbook's "sharing a connection": the caller's transaction decides."""
    engine = engine_for(db_url)
    with engine.connect() as conn:
        with conn.begin() as trans:
            result = myapp.db.migrate(conn)
            assert [s.revision for s in result.plan.steps] == REVISIONS
            assert conn.exec_driver_sql("SELECT count(*) FROM networks").scalar() == 0
            trans.rollback()
    assert version(engine) is None and tables(engine) == []
    with engine.connect() as conn:
        myapp.db.migrate(conn)  # no transaction open: migrate commits its own
        assert not conn.in_transaction()
    assert version(engine) == [HEAD]


def test_api_takes_a_url_and_reports_progress(db_url):
    events = []

    class Recorder(myapp.db.Progress):
        def step_done(self, step, elapsed_ms):
            events.append(step.revision)

    myapp.db.migrate(db_url, "+1", progress=Recorder())
    assert events == [REVISIONS[0]]
    assert [r.revision for r in myapp.db.current(db_url)] == [REVISIONS[0]]


def test_schema_snapshot_sees_column_order(db_url, engine_for):
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a int, b text)")
        first = schema_snapshot(conn)
        conn.exec_driver_sql("ALTER TABLE t DROP COLUMN a; ALTER TABLE t ADD COLUMN a int")
        assert schema_snapshot(conn) != first


# -- found in review ---------------------------------------------------------


def test_failure_on_a_callers_transaction_keeps_it_usable_and_releases_the_lock(
    migrations_copy, db_url, engine_for
):
    from test_migrate import FAILING

    (migrations_copy / "versions" / "fa11fa11fa11_breaks.py").write_text(FAILING.format(down=HEAD))
    with engine_for(db_url).connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("CREATE TABLE callers_work (id int)")
            with pytest.raises(CommandError, match="fa11fa11fa11"):
                myapp.db.migrate(conn)
            assert conn.exec_driver_sql("SELECT count(*) FROM callers_work").scalar() == 0
            held = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            ).scalar()
            assert held == 0
            assert conn.exec_driver_sql("SELECT to_regclass('networks')").scalar() is None


def test_check_on_a_callers_transaction_keeps_its_work(head_url, engine_for):
    with engine_for(head_url).connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("CREATE TABLE callers_work (id int)")
            result = myapp.db.migrate(conn, check=True)
            assert [describe for describe in map(describe_diff, result.drift)] == [
                "remove table callers_work"
            ]
            assert conn.in_transaction()
            assert conn.exec_driver_sql("SELECT to_regclass('callers_work')").scalar() is not None


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--url", ""], "--url is empty"),
        (["--url", "postgresql+asyncpg://h/db"], "unsupported driver"),
    ],
)
def test_more_bad_urls(cli, args, fragment):
    result = cli("current", *args)
    assert result.status == 2 and fragment in result.err and "Traceback" not in result.err


def test_password_in_the_query_string_is_masked():
    text = Settings.from_env("postgresql://u@/db?host=/tmp&password=hunter2").describe()
    assert "hunter2" not in text and "password=%2A%2A%2A" in text


def test_missing_migrations_folder_is_one_line(cli, monkeypatch):
    monkeypatch.setenv("MYAPP_MIGRATIONS_DIR", "/nonexistent/migrations")
    result = cli("heads")
    assert result.status == 2 and result.err.count("\n") == 1 and "Traceback" not in result.err


def test_revision_with_a_syntax_error_is_one_line(cli, migrations_copy):
    (migrations_copy / "versions" / "bad0bad0bad0_oops.py").write_text("revision = 'bad0bad0bad0'\ndef upgrade(:\n")
    result = cli("history")
    assert result.status == 2 and "syntax error" in result.err and "bad0bad0bad0_oops.py" in result.err


def test_sql_of_a_failing_revision_is_one_line(cli, migrations_copy):
    (migrations_copy / "versions" / "fa11fa11fa12_py.py").write_text(
        f'"""python error"""\nrevision = "fa11fa11fa12"\ndown_revision = "{HEAD}"\n'
        "branch_labels = None\ndepends_on = None\n\ndef upgrade():\n    raise ValueError('boom')\n"
    )
    result = cli("migrate", "--sql")
    assert result.status == 2
    assert "fa11fa11fa12" in result.err and "ValueError: boom" in result.err and "Traceback" not in result.err


def test_sql_with_an_unknown_from_names_the_option(cli):
    result = cli("migrate", "--sql", "--from", "nosuch")
    assert result.status == 2 and "--from revision 'nosuch'" in result.err


def test_registry_error_names_the_broken_object(cli, db_url, monkeypatch):
    import myapp.db.objects
    from myapp.db import ReplaceableView
    from myapp.db.replaceable.registry import Registry

    monkeypatch.setattr(myapp.db.objects, "registry", Registry([
        ReplaceableView("b_dep", "SELECT * FROM a_bad"), ReplaceableView("a_bad", "SELEC 1"),
    ]))
    result = cli("bootstrap", "--url", db_url)
    assert result.status == 2 and "view a_bad" in result.err and "syntax error" in result.err


def test_refresh_concurrently_needs_a_plain_unique_index(cli, head_url, engine_for):
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE MATERIALIZED VIEW mv_partial AS SELECT 1 AS id")
        conn.exec_driver_sql("CREATE UNIQUE INDEX ux_mv_partial ON mv_partial (id) WHERE id > 0")
    result = cli("refresh", "--concurrently", "--url", head_url)
    assert result.status == 0, result
    assert "Refreshing public.mv_partial... OK" in result.err
    assert "Refreshing public.daily_observations concurrently... OK" in result.err


def test_dropped_column_and_the_view_that_used_it(cli, migrations_copy, head_url, engine_for):
    """The view must go before the column, in the comparison and in the revision."""
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE networks ADD COLUMN extra int")
        conn.exec_driver_sql("CREATE VIEW extra_view AS SELECT extra FROM networks")
    check = cli("makemigrations", "--check", "--url", head_url)
    assert check.status == 1
    assert check.out.splitlines() == ["drop view public.extra_view", "remove column networks.extra"]
    written = cli("makemigrations", "-m", "tidy up", "--url", head_url)
    assert written.status == 0, written
    for target in ("head", "-1", "head"):
        assert cli("migrate", target, "--url", head_url).status == 0, target
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
