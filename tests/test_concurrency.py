"""Several `migrate` processes at once: one applies, the others wait and find nothing to do."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT
from dbhelpers import HEAD, REVISIONS, version
from myapp.db import commands

SLOW = '''\
"""takes its time"""
from alembic import op
import sqlalchemy as sa

revision = "5105105105aa"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.select(sa.func.pg_sleep(2)))


def downgrade():
    pass
'''


def start(args, env):
    full_env = {k: v for k, v in os.environ.items() if k != "MYAPP_DATABASE_URL"}
    full_env.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "myapp.db", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT,
    )


def finish(processes):
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    return results


def test_four_simultaneous_migrates_apply_the_history_once(migrations_copy, db_url, engine_for):
    (migrations_copy / "versions" / "5105105105aa_slow.py").write_text(SLOW.format(down=HEAD))
    env = {"MYAPP_MIGRATIONS_DIR": str(migrations_copy)}
    results = finish([start(["migrate", "--url", db_url], env) for _ in range(4)])
    assert [status for status, _, _ in results] == [0, 0, 0, 0], results
    errs = [err for _, _, err in results]
    applying = [line for err in errs for line in err.splitlines() if "Applying" in line]
    assert sorted(line.split()[1] for line in applying) == sorted(REVISIONS + ["5105105105aa"])
    assert sum("No migrations to apply." in err for err in errs) == 3
    assert any("Waiting for the migration lock" in err for err in errs)
    assert version(engine_for(db_url)) == ["5105105105aa"]


def test_simultaneous_first_runs_on_the_embedded_default(tmp_path):
    """No URL at all: the embedded server and its database are created once, racing safely."""
    data_dir = tmp_path / "pgdata"
    env = {"MYAPP_DATA_DIR": str(data_dir)}
    try:
        results = finish([start(["migrate"], env) for _ in range(4)])
        assert [status for status, _, _ in results] == [0, 0, 0, 0], results
        errs = [err for _, _, err in results]
        assert all(f"embedded PostgreSQL, database 'myapp' in {data_dir}" in err for err in errs)
        applied = [line for err in errs for line in err.splitlines() if "Applying" in line]
        assert len(applied) == len(REVISIONS)
        check = start(["migrate", "--check"], env)
        assert check.wait(timeout=60) == 0
    finally:
        assert "stopped" in commands.embedded("stop", data_dir=data_dir)
