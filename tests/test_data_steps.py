"""Data steps: data_upgrade()/data_downgrade() beside a revision's schema steps, switched off and caught up."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from dbhelpers import HEAD, version

DATA = "da7a5e000001"
REVISION = '''\
"""grade networks"""
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("networks", sa.Column("grade", sa.Integer))


def downgrade():
    op.drop_column("networks", "grade")


def data_upgrade():
    op.execute("UPDATE networks SET grade = length(name)")
    op.execute("INSERT INTO data_log VALUES ('up')")
    {fail}


def data_downgrade():
    op.execute("INSERT INTO data_log VALUES ('down')")
'''


def write(migrations, fail: str = "pass"):
    (migrations / "versions" / f"{DATA}_grade_networks.py").write_text(
        REVISION.format(revision=DATA, down=HEAD, fail=fail))


@pytest.fixture
def graded(migrations_copy, head_url, engine_for):
    """A database at the package's head with one network and a log table, and a revision with data steps."""
    write(migrations_copy)
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE data_log (what text)")
        conn.exec_driver_sql("INSERT INTO networks (name) VALUES ('abcd')")
    return head_url


def state(url, engine_for, schema="public"):
    """(grades, log, the data revision's data_step record)."""
    with engine_for(url).connect() as conn:
        has_grade = conn.scalar(sa.text("SELECT count(*) FROM information_schema.columns WHERE table_schema = :s"
                                        " AND table_name = 'networks' AND column_name = 'grade'"), {"s": schema})
        grades = conn.execute(sa.text(f'SELECT grade FROM "{schema}".networks')).scalars().all() if has_grade else None
        log = conn.execute(sa.text(f'SELECT what FROM "{schema}".data_log')).scalars().all()
        record = conn.execute(sa.text(f'SELECT data_step FROM "{schema}".myapp_db_revisions WHERE revision = :r'),
                              {"r": DATA}).scalars().all()
    return grades, log, record


def test_migrate_runs_the_data_step_after_upgrade_and_before_downgrade(cli, graded, engine_for):
    plan = cli("migrate", "--plan", "--url", graded)
    assert plan.out.strip() == f"Apply {DATA} (grade networks) [data]"
    assert cli("migrate", "--plan", "--no-data", "--url", graded).out.strip().endswith("[data left pending]")
    result = cli("migrate", "--url", graded)
    assert result.status == 0, result
    assert state(graded, engine_for) == ([4], ["up"], ["applied"])
    assert "data pending" not in cli("showmigrations", "--url", graded).out
    down = cli("migrate", "-1", "--url", graded)
    assert down.status == 0, down
    assert state(graded, engine_for) == (None, ["up", "down"], [])


def test_no_data_leaves_it_pending_until_data_only(cli, graded, engine_for):
    result = cli("migrate", "--no-data", "--url", graded)
    assert result.status == 0, result
    assert f"1 data step(s) pending ({DATA}): run 'python -m myapp.db migrate --data-only'" in result.err
    assert state(graded, engine_for) == ([None], [], ["pending"])
    listing = cli("showmigrations", "--url", graded).out.splitlines()
    assert listing[-1] == f"[X] {DATA}  grade networks (head, current, data pending)"
    plan = cli("migrate", "--plan", "--url", graded)  # the schema is at head: data steps are another matter
    assert plan.out == "No migrations to apply.\n" and "'migrate --data-only' runs them" in plan.err
    data_check = cli("migrate", "--data-only", "--check", "--url", graded)
    assert data_check.status == 1 and data_check.out.strip() == f"Run the data step of {DATA} (grade networks)"
    assert cli("migrate", "--data-only", "--plan", "--url", graded).status == 0
    assert state(graded, engine_for) == ([None], [], ["pending"])  # plan and check change nothing
    caught_up = cli("migrate", "--data-only", "--url", graded)
    assert caught_up.status == 0, caught_up
    assert f"Running the data step of {DATA} (grade networks)... OK" in caught_up.err
    assert state(graded, engine_for) == ([4], ["up"], ["applied"])
    again = cli("migrate", "--data-only", "--url", graded)
    assert again.status == 0 and "No data steps pending." in again.err
    assert "data pending" not in cli("showmigrations", "--url", graded).out


def test_a_data_step_that_never_ran_is_not_undone(cli, graded, engine_for):
    assert cli("migrate", "--no-data", "--url", graded).status == 0
    assert cli("migrate", "-1", "--url", graded).status == 0
    assert state(graded, engine_for) == (None, [], [])
    assert cli("migrate", "--url", graded).status == 0
    assert cli("migrate", "-1", "--no-data", "--url", graded).status == 0  # switched off on the way down too
    assert state(graded, engine_for) == (None, ["up"], [])


def test_bootstrap_never_runs_data_steps(cli, migrations_copy, db_url, engine_for):
    write(migrations_copy)
    with engine_for(db_url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE data_log (what text)")
    assert cli("bootstrap", "--url", db_url).status == 0
    assert state(db_url, engine_for) == (None, [], ["skipped"])  # the models have no grade: create_all made none
    assert "No data steps pending." in cli("migrate", "--data-only", "--url", db_url).err
    assert "data pending" not in cli("showmigrations", "--url", db_url).out


def test_fake_records_data_steps_as_skipped(cli, graded, engine_for):
    assert cli("migrate", "--fake", "--url", graded).status == 0
    assert state(graded, engine_for) == (None, [], ["skipped"])  # nothing ran: no column, no data


def test_a_failing_data_step_rolls_its_revision_back(cli, migrations_copy, head_url, engine_for):
    write(migrations_copy, fail='raise RuntimeError("bad data")')
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE data_log (what text)")
    result = cli("migrate", "--url", head_url)
    assert result.status == 2 and f"revision {DATA} (grade networks) failed: RuntimeError: bad data" in result.err
    assert version(engine_for(head_url)) == [HEAD] and state(head_url, engine_for) == (None, [], [])
    assert cli("migrate", "--no-data", "--url", head_url).status == 0
    failed = cli("migrate", "--data-only", "--url", head_url)
    assert failed.status == 2
    assert f"revision {DATA} (data step of grade networks) failed: RuntimeError: bad data" in failed.err
    assert state(head_url, engine_for) == ([], [], ["pending"])  # rolled back: still pending


def test_a_records_table_from_before_gets_the_column(cli, graded, engine_for):
    with engine_for(graded).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE myapp_db_revisions DROP COLUMN data_step")
    assert cli("showmigrations", "--url", graded).status == 0
    assert "No data steps pending." in cli("migrate", "--data-only", "--url", graded).err
    assert cli("migrate", "--no-data", "--url", graded).status == 0
    assert state(graded, engine_for) == ([None], [], ["pending"])


def test_sql_renders_data_steps_unless_switched_off(cli, migrations_copy):
    write(migrations_copy)
    with_data = cli("migrate", "--sql", "--from", HEAD).out
    without = cli("migrate", "--sql", "--from", HEAD, "--no-data").out
    assert "UPDATE networks SET grade = length(name)" in with_data
    assert "ALTER TABLE networks ADD COLUMN grade INTEGER" in without and "UPDATE networks" not in without
    assert "'pending'" in without and "'applied'" in with_data


def test_data_only_takes_no_target_and_not_no_data(cli, head_url):
    for args in (["--data-only", "--no-data"], ["--data-only", HEAD], ["--data-only", "--fake"]):
        result = cli("migrate", *args, "--url", head_url)
        assert result.status == 2 and "--data-only" in result.err and "Traceback" not in result.err


def test_data_only_over_tenants_runs_only_where_pending(cli, migrations_copy, db_url, engine_for):
    write(migrations_copy)
    with engine_for(db_url).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA t_a; CREATE SCHEMA t_b")
    assert cli("migrate", HEAD, "--schema", "t_a", "--schema", "t_b", "--url", db_url).status == 0
    for schema in ("t_a", "t_b"):
        with engine_for(db_url).begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {schema}.data_log (what text)")
            conn.exec_driver_sql(f"INSERT INTO {schema}.networks (name) VALUES ('xy')")
    deferred = cli("migrate", "--schema", "t_a", "--no-data", "--url", db_url)
    assert deferred.status == 0 and deferred.out.startswith("t_a  1 step done in ")
    assert deferred.out.splitlines()[0].endswith(f"(grade networks) (data step(s) pending: {DATA})")
    assert cli("migrate", "--schema", "t_b", "--url", db_url).status == 0
    assert state(db_url, engine_for, "t_a") == ([None], [], ["pending"])
    assert "data pending)" in cli("showmigrations", "--schema", "t_a", "--url", db_url).out
    result = cli("migrate", "--data-only", "--schema", "t_a", "--schema", "t_b", "--json", "--url", db_url)
    report = json.loads(result.out)
    assert result.status == 0, result
    assert [(t["schema"], t["status"], t["detail"]) for t in report["targets"]] == [
        ("t_a", "applied", ""), ("t_b", "unchanged", "no data steps pending")]
    assert report["targets"][0]["steps"] == [f"Running the data step of {DATA} (grade networks)"]
    assert state(db_url, engine_for, "t_a") == ([2], ["up"], ["applied"])
    assert state(db_url, engine_for, "t_b") == ([2], ["up"], ["applied"])


def test_plain_alembic_switches_data_steps_with_x_data(tmp_path, graded, migrations_copy, engine_for):
    from test_alembic_tools import alembic, ini

    folder = tmp_path / "ini"
    folder.mkdir()
    path = ini(folder, graded)
    path.write_text(path.read_text().replace("myapp.db:migrations", "myapp.db.runtime:scaffold")
                    + f"version_locations = {migrations_copy / 'versions'}\n")
    up = alembic(folder, "-x", "data=false", "upgrade", "head")
    assert up.returncode == 0, up.stderr
    assert state(graded, engine_for) == ([None], [], ["pending"])
    assert alembic(folder, "downgrade", "-1").returncode == 0
    assert alembic(folder, "upgrade", "head").returncode == 0  # data steps run by default, as with migrate
    assert state(graded, engine_for) == ([4], ["up"], ["applied"])
