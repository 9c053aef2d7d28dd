"""Alembic's own command line and pytest-alembic drive the generic env.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dbhelpers import HEAD, REVISIONS, snapshot, version

ALEMBIC = str(Path(sys.executable).parent / "alembic")


def ini(folder: Path, url: str = "", extra: str = "") -> Path:
    """The few-line alembic.ini the README shows (a '%' in the URL doubled, as configparser wants)."""
    path = folder / "alembic.ini"
    text = "[alembic]\nscript_location = myapp.db:migrations\n"
    if url:
        text += f"sqlalchemy.url = {url.replace('%', '%%')}\n"
    path.write_text(text + extra)
    return path


def alembic(folder: Path, *args, env=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MYAPP_DATABASE")}
    full_env.update(env or {})
    return subprocess.run([ALEMBIC, "-c", str(folder / "alembic.ini"), *args],
                          capture_output=True, text=True, cwd=folder, env=full_env)


def test_plain_alembic_upgrade_current_check_stamp_downgrade(tmp_path, db_url, head_url, engine_for):
    ini(tmp_path, db_url)
    engine = engine_for(db_url)
    up = alembic(tmp_path, "upgrade", "head")
    assert up.returncode == 0, up.stderr
    assert version(engine) == [HEAD]
    assert snapshot(engine) == snapshot(engine_for(head_url))  # replaceable objects, grants and all
    current = alembic(tmp_path, "current")
    assert current.returncode == 0 and f"{HEAD} (head)" in current.stdout
    check = alembic(tmp_path, "check")
    assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout, check.stderr
    down = alembic(tmp_path, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert version(engine) == []
    stamp = alembic(tmp_path, "stamp", REVISIONS[1])
    assert stamp.returncode == 0 and version(engine) == [REVISIONS[1]]


def test_plain_alembic_check_sees_a_changed_view(tmp_path, head_url, engine_for):
    """alembic check compares the registry too, not just the tables."""
    ini(tmp_path, head_url)
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE OR REPLACE VIEW active_station_positions AS"
                             " SELECT p.station_id, p.code, p.name, p.latitude, p.longitude FROM station_positions p")
    check = alembic(tmp_path, "check")
    assert check.returncode != 0 and "replace_replaceable_object" in (check.stdout + check.stderr)


def test_plain_alembic_with_x_url_and_offline_sql(tmp_path, db_url, engine_for):
    ini(tmp_path)
    up = alembic(tmp_path, "-x", f"url={db_url}", "upgrade", REVISIONS[2])
    assert up.returncode == 0, up.stderr
    assert version(engine_for(db_url)) == [REVISIONS[2]]
    offline = alembic(tmp_path, "upgrade", "--sql", f"{REVISIONS[2]}:head")
    assert offline.returncode == 0, offline.stderr
    assert "CREATE VIEW station_positions" in offline.stdout and "UPDATE alembic_version" in offline.stdout


def test_plain_alembic_takes_the_migration_lock(tmp_path, db_url, engine_for):
    """A run through plain Alembic waits for a myapp.db run, like two myapp.db runs do."""
    from myapp.apps import app

    ini(tmp_path, db_url)
    with engine_for(db_url).connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({app.lock_key})")
        blocked = subprocess.Popen([ALEMBIC, "-c", str(tmp_path / "alembic.ini"), "upgrade", "head"],
                                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            blocked.wait(timeout=3)
        assert version(engine_for(db_url)) is None
        holder.exec_driver_sql(f"SELECT pg_advisory_unlock({app.lock_key})")
    assert blocked.wait(timeout=60) == 0
    assert version(engine_for(db_url)) == [HEAD]


def test_plain_alembic_revision_autogenerate_through_the_scaffold(tmp_path, migrations_copy, head_url, engine_for):
    """script_location at the framework's env.py and template, version_locations at the app's revisions."""
    ini(tmp_path, head_url)
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = myapp.db.runtime:scaffold\n"
        f"version_locations = {migrations_copy / 'versions'}\nmyapp.db.app = myapp.apps:app\n"
        f"sqlalchemy.url = {head_url.replace('%', '%%')}\n"
    )
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE VIEW extra_view AS SELECT 1 AS one")
    made = alembic(tmp_path, "revision", "--autogenerate", "-m", "drop extra view")
    assert made.returncode == 0, made.stderr
    [path] = (migrations_copy / "versions").glob("*_drop_extra_view.py")
    source = path.read_text()
    assert "previous_extra_view = ReplaceableView(" in source and "op.drop_replaceable_object(previous_extra_view)" in source
    assert alembic(tmp_path, "upgrade", "head").returncode == 0
    assert alembic(tmp_path, "check").returncode == 0


def test_plain_alembic_prints_a_mistake_as_one_failed_line(tmp_path, migrations_copy, head_url):
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = myapp.db.runtime:scaffold\n"
        f"version_locations = {migrations_copy / 'versions'}\n"
        "myapp.db.app = shop.apps:app   # a comment after the value stays in it\n"
        f"sqlalchemy.url = {head_url.replace('%', '%%')}\n"
    )
    failed = alembic(tmp_path, "current")
    said = failed.stdout + failed.stderr  # Alembic prints FAILED on stdout
    assert failed.returncode != 0 and "Traceback" not in said, said
    assert said.strip().splitlines()[-1].startswith("FAILED: cannot import the app 'shop.apps:app "), said


CONFTEST = '''\
import os
import uuid

import pytest
import sqlalchemy as sa


@pytest.fixture
def alembic_engine():
    admin = sa.create_engine(os.environ["ADMIN_URL"], isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"pa_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = sa.create_engine(sa.make_url(os.environ["ADMIN_URL"]).set(database=name), poolclass=sa.NullPool)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()
'''


def test_pytest_alembics_built_in_tests_pass(tmp_path, pytest8_site, server_url):
    """pytest-alembic's documented set-up: alembic.ini, and an alembic_engine fixture in tests/conftest.py."""
    ini(tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(CONFTEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_DATABASE", "PYTEST_"))}
    env.update(PYTHONPATH=str(pytest8_site), ADMIN_URL=server_url.render_as_string(hide_password=False))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--test-alembic", "-p", "no:cacheprovider", "-q", "-p", "no:myapp_db"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert "4 passed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0
