"""The third-party example in examples/, installed with pip for real and used by migrations."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest
import sqlalchemy as sa

from myapp.db import plugins

from conftest import ROOT, run_process
from dbhelpers import HEAD, version

EXAMPLE = ROOT / "examples" / "myapp-db-pgextras"
LOAD = {plugins.LOAD_VARIABLE: "pgextras"}


def pip(*args):
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True, capture_output=True,
    )


@pytest.fixture(scope="session")
def pgextras(tmp_path_factory):
    """The environment that loads the example distribution, pip-installed into a folder of this test
    session's own (on PYTHONPATH) unless it is installed already.

    A folder per session, not this environment's site-packages: with ``-n 2`` each worker has a
    session, and one worker's uninstall at its end would pull the plugin from under the other.
    """
    if importlib.util.find_spec("myapp_db_pgextras") is not None:
        return dict(LOAD)
    # Build from a copy, so the checkout gets no build/ or egg-info; myapp is installed already.
    source = tmp_path_factory.mktemp("example") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)
    site = tmp_path_factory.mktemp("pgextras-site")
    pip("install", "--no-deps", "--target", str(site), str(source))
    return {**LOAD, "PYTHONPATH": str(site)}


EXTRAS_REVISION = '''\
"""use the example plugin's operations"""
from alembic import op

revision = "e8a3e5000001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_extension_if_not_exists("citext")
    op.create_sequence("Order numbers", start=1000)


def downgrade():
    op.drop_sequence("Order numbers")
    op.drop_extension_if_exists("citext")
'''


def test_example_plugin_is_listed(pgextras):
    result = run_process("plugins", "--json", env=pgextras)
    assert result.returncode == 0, result.stderr
    [listed] = [p for p in json.loads(result.stdout) if not p["builtin"]]
    assert listed == {
        "name": "pgextras", "entry_point": "myapp_db_pgextras.plugin",
        "distribution": "myapp-db-pgextras", "version": "0.1.0", "builtin": False, "disabled": False,
        "hooks": ["register_operations"],
        "operations": ["create_extension_if_not_exists", "create_sequence", "drop_extension_if_exists",
                       "drop_sequence"],
    }


def test_example_plugin_migrates_up_and_down(pgextras, migrations_copy, head_url, engine_for):
    (migrations_copy / "versions" / "e8a3e5000001_extras.py").write_text(EXTRAS_REVISION.format(down=HEAD))
    engine = engine_for(head_url)

    offline = run_process("migrate", "--sql", "--from", HEAD, env=pgextras)
    assert offline.returncode == 0, offline.stderr
    assert "CREATE EXTENSION IF NOT EXISTS citext;" in offline.stdout
    assert 'CREATE SEQUENCE "Order numbers" START WITH 1000;' in offline.stdout

    up = run_process("migrate", "--url", head_url, env=pgextras)
    assert up.returncode == 0, up.stderr
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT nextval('\"Order numbers\"')")) == 1000
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'citext'")) == 1

    down = run_process("migrate", "-1", "--url", head_url, env=pgextras)
    assert down.returncode == 0, down.stderr
    assert version(engine) == [HEAD]
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_class WHERE relname = 'Order numbers'")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'citext'")) == 0


def test_example_plugin_disabled_leaves_its_operations_out(pgextras, migrations_copy, head_url, engine_for):
    (migrations_copy / "versions" / "e8a3e5000001_extras.py").write_text(EXTRAS_REVISION.format(down=HEAD))
    result = run_process("migrate", "--url", head_url, env={**pgextras, plugins.DISABLE_VARIABLE: "pgextras"})
    assert result.returncode == 2
    assert "revision e8a3e5000001" in result.stderr and "create_extension_if_not_exists" in result.stderr
    assert version(engine_for(head_url)) == [HEAD]
