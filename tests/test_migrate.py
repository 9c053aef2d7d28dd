"""`migrate`: targets in both directions, --plan, --sql, --fake, --check, --step, failures."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

import pytest

from dbhelpers import HEAD, REVISIONS, snapshot, tables, version

def test_history_has_at_least_three_revisions():
    assert len(REVISIONS) >= 3


def test_migrate_from_empty_applies_every_revision(cli, db_url, engine_for):
    result = cli("migrate", "--url", db_url)
    assert result.status == 0, result
    applying = [line for line in result.err.splitlines() if line.strip().startswith("Applying")]
    assert [line.split()[1] for line in applying] == REVISIONS
    assert all(line.rstrip().endswith("ms") and " OK " in line for line in applying)
    assert "Database: " in result.err and db_url.rsplit("/", 1)[1] in result.err
    assert result.out == ""
    assert version(engine_for(db_url)) == [HEAD]


def test_migrate_at_head_is_a_no_op(cli, head_url, engine_for):
    before = snapshot(engine_for(head_url))
    result = cli("migrate", "--url", head_url)
    assert result.status == 0
    assert "No migrations to apply." in result.err
    assert snapshot(engine_for(head_url)) == before


# A no-op migrate, in a process of its own: what it imported beyond the libraries it stands on.
NOOP_DRIVER = """\
import json, sys
from myapp.db.cli import main  # first, as in python -m myapp.db
import sqlalchemy, alembic, psycopg2
before = set(sys.modules)
status = main(sys.argv[1:])
print(json.dumps([status, sorted(set(sys.modules) - before), "pygments" in sys.modules]))
"""


def test_a_no_op_migrate_imports_only_what_it_needs(head_url, tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(NOOP_DRIVER)
    proc = subprocess.run([sys.executable, str(driver), "migrate", "--url", head_url], capture_output=True, text=True)
    status, imported, pygments = json.loads(proc.stdout.splitlines()[-1])
    assert status == 0 and "No migrations to apply." in proc.stderr, proc.stderr
    assert not pygments  # installed (pytest's), but only Mako's HTML error pages would use it
    needless = [m for m in imported if m.startswith((
        "myapp.db.replaceable", "myapp.db.ddl", "myapp.db.autogenerate", "myapp.db.runtime.executor",
        "myapp.db.runtime.env", "myapp.db.lint", "myapp.db.catalog.objects", "myapp.models", "myapp.db.objects",
    ))]
    assert needless == [], needless
    assert "myapp.db.runtime.index" in imported  # the no-op was decided by the index, not the revision map


# The command line as its own process's entry, with the collector on or off beforehand.
FREEZE_DRIVER = """\
import gc, json, sys
if sys.argv[1] == "off":
    gc.disable()
from myapp.db.cli import main
status = main(["heads"])
print(json.dumps([status, gc.get_freeze_count(), gc.isenabled()]))
"""


@pytest.mark.parametrize("collector", ["on", "off"])
def test_the_libraries_imported_at_start_up_are_frozen_for_the_collector(tmp_path, collector):
    driver = tmp_path / "driver.py"
    driver.write_text(FREEZE_DRIVER)
    proc = subprocess.run([sys.executable, str(driver), collector], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    status, frozen, enabled = json.loads(proc.stdout.splitlines()[-1])
    assert status == 0, proc.stderr
    assert frozen > 50_000  # SQLAlchemy's, Alembic's and psycopg2's objects: never scanned again
    assert enabled == (collector == "on")  # on again for what the command makes; a caller's "off" kept


def test_main_called_again_in_a_process_leaves_its_collector_alone(cli):
    before, enabled = gc.get_freeze_count(), gc.isenabled()
    assert cli("heads").status == 0
    assert gc.get_freeze_count() == before and gc.isenabled() == enabled


def test_a_failed_start_up_import_still_turns_the_collector_back_on(monkeypatch):
    from myapp.db import cli

    frozen = []
    monkeypatch.delitem(sys.modules, "sqlalchemy")  # as at start-up; put back at the end
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))  # not this test process's objects
    assert gc.isenabled()
    with pytest.raises(ImportError):
        with cli._libraries_frozen():
            assert not gc.isenabled()
            raise ImportError("a library missing")
    assert frozen == [True] and gc.isenabled()


def test_targets_zero_prefix_and_relative(cli, db_url, engine_for):
    engine = engine_for(db_url)
    assert cli("migrate", REVISIONS[0][:4], "--url", db_url).status == 0
    assert version(engine) == [REVISIONS[0]]
    assert cli("migrate", "+2", "--url", db_url).status == 0
    assert version(engine) == [REVISIONS[2]]
    # A target behind the current revision downgrades.
    result = cli("migrate", REVISIONS[0], "--url", db_url)
    assert result.status == 0 and "Unapplying" in result.err
    assert version(engine) == [REVISIONS[0]]
    assert cli("migrate", "zero", "--url", db_url).status == 0
    assert version(engine) == []
    assert tables(engine) == ["alembic_version"]


@pytest.mark.parametrize(
    "target, fragment",
    [("nonexistent", "nonexistent"), ("+9", "+9"), ("-9", "-9")],
)
def test_bad_target_is_one_line_and_changes_nothing(cli, head_url, engine_for, target, fragment):
    engine = engine_for(head_url)
    before = snapshot(engine)
    result = cli("migrate", target, "--url", head_url)
    assert result.status == 2
    error_lines = [line for line in result.err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and fragment in error_lines[0] and "showmigrations" in error_lines[0]
    assert "Traceback" not in result.err
    assert snapshot(engine) == before and version(engine) == [HEAD]


def test_ambiguous_prefix_is_refused(cli, migrations_copy, db_url, engine_for):
    first = REVISIONS[0]
    twin = first[:3] + "0" * (len(first) - 3)
    (migrations_copy / "versions" / f"{twin}_twin.py").write_text(
        textwrap.dedent(
            f'''\
            """twin"""
            revision = "{twin}"
            down_revision = "{HEAD}"
            branch_labels = None
            depends_on = None

            def upgrade():
                pass

            def downgrade():
                pass
            '''
        )
    )
    result = cli("migrate", first[:3], "--url", db_url)
    assert result.status == 2 and "error:" in result.err and first[:3] in result.err
    assert version(engine_for(db_url)) is None


def test_plan_prints_steps_and_changes_nothing(cli, db_url, engine_for):
    result = cli("migrate", "--plan", "--url", db_url)
    assert result.status == 0
    assert [line.split()[1] for line in result.out.splitlines()] == REVISIONS
    assert all(line.startswith("Apply ") for line in result.out.splitlines())
    assert version(engine_for(db_url)) is None and tables(engine_for(db_url)) == []


def test_plan_of_a_downgrade(cli, head_url):
    result = cli("migrate", "-2", "--plan", "--url", head_url)
    assert result.status == 0
    assert result.out.split() == [
        "Unapply", REVISIONS[-1], *result.out.split()[2:]
    ] and result.out.count("Unapply") == 2


def test_sql_does_not_connect(cli):
    # Port 1 on localhost has no server: --sql must not try it.
    result = cli("migrate", "--sql", "--url", "postgresql://nobody@127.0.0.1:1/nowhere")
    assert result.status == 0, result
    assert "CREATE TABLE networks" in result.out
    assert "INSERT INTO alembic_version" in result.out
    assert result.out.count("-- Running upgrade") == len(REVISIONS)
    assert "Database:" not in result.err


def test_sql_from_a_revision_and_downgrade(cli):
    up = cli("migrate", "--sql", "--from", REVISIONS[1])
    assert up.status == 0 and up.out.count("-- Running upgrade") == len(REVISIONS) - 2
    down = cli("migrate", "zero", "--sql", "--from", HEAD)
    assert down.status == 0
    assert down.out.count("-- Running downgrade") == len(REVISIONS)
    assert "DROP TABLE networks" in down.out


def test_sql_output_applies_with_the_same_result(cli, db_url, databases, engine_for):
    # Up to the last revision before replacements, whose offline SQL cannot see dependents.
    target = "e3c9a4f1d8b6"
    sql = cli("migrate", target, "--sql").out
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.connection.dbapi_connection.cursor().execute(sql.replace("BEGIN;", "").replace("COMMIT;", ""))
    online = databases.create().render_as_string(hide_password=False)
    assert cli("migrate", target, "--url", online).status == 0
    assert snapshot(engine) == snapshot(engine_for(online))


def test_fake_records_without_running(cli, db_url, engine_for):
    engine = engine_for(db_url)
    result = cli("migrate", REVISIONS[1], "--fake", "--url", db_url)
    assert result.status == 0 and result.err.count("FAKED") == 2
    assert version(engine) == [REVISIONS[1]]
    assert tables(engine) == ["alembic_version"]
    assert cli("migrate", "zero", "--fake", "--url", db_url).status == 0
    assert version(engine) == []


def test_check_exit_codes(cli, db_url, head_url, engine_for):
    pending = cli("migrate", "--check", "--url", db_url)
    assert pending.status == 1
    assert len(pending.out.splitlines()) == len(REVISIONS)
    assert version(engine_for(db_url)) is None
    clean = cli("migrate", "--check", "--url", head_url)
    assert clean.status == 0 and "No migrations to apply." in clean.out


@pytest.mark.parametrize(
    "args",
    [["--plan", "--sql"], ["--fake", "--check"], ["--from", "x"], ["--step", "--plan"]],
)
def test_conflicting_options_are_refused(cli, db_url, engine_for, args):
    result = cli("migrate", *args, "--url", db_url)
    assert result.status == 2 and "error:" in result.err
    assert version(engine_for(db_url)) is None


FAILING = '''\
"""breaks on purpose"""
from alembic import op
import sqlalchemy as sa

revision = "fa11fa11fa11"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("SELECT * FROM no_such_table")


def downgrade():
    op.drop_table("half_done")
'''


def test_failing_revision_rolls_everything_back(cli, migrations_copy, db_url, engine_for):
    (migrations_copy / "versions" / "fa11fa11fa11_breaks.py").write_text(FAILING.format(down=HEAD))
    engine = engine_for(db_url)
    before = snapshot(engine)
    result = cli("migrate", "--url", db_url)
    assert result.status == 2
    error = [line for line in result.err.splitlines() if "error:" in line]
    assert len(error) == 1
    assert "fa11fa11fa11 (breaks on purpose)" in error[0]
    assert 'relation "no_such_table" does not exist' in error[0]
    assert "Traceback" not in result.err
    assert snapshot(engine) == before and version(engine) is None


def test_failing_revision_with_step_stops_at_last_good(cli, migrations_copy, db_url, head_url, engine_for):
    (migrations_copy / "versions" / "fa11fa11fa11_breaks.py").write_text(FAILING.format(down=HEAD))
    engine = engine_for(db_url)
    result = cli("migrate", "--step", "--url", db_url)
    assert result.status == 2 and "fa11fa11fa11" in result.err and HEAD in result.err
    assert version(engine) == [HEAD]
    assert snapshot(engine) == snapshot(engine_for(head_url))


def test_traceback_flag_shows_the_traceback(cli, migrations_copy, db_url):
    (migrations_copy / "versions" / "fa11fa11fa11_breaks.py").write_text(FAILING.format(down=HEAD))
    result = cli("migrate", "--traceback", "--url", db_url)
    assert result.status == 2 and "Traceback" in result.err and "no_such_table" in result.err
