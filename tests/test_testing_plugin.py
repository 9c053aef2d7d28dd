"""The myapp_db pytest plugin: a user's project tested through it (pytest 9 and 8), its checks, its fixtures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbhelpers import HEAD, REVISIONS, version
from test_apps import APPS, MODELS, OBJECTS

FIRST = '''\
"""create items"""
from alembic import op
import sqlalchemy as sa

from myapp.db import ReplaceableView

revision = "aaaa00000001"
down_revision = None
branch_labels = None
depends_on = None

item_names = ReplaceableView("item_names", "SELECT id, name FROM items", grants={"PUBLIC": ["SELECT"]})


def upgrade():
    op.create_table("items", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("name", sa.String(50), nullable=False))
    op.create_replaceable_object(item_names)


def downgrade():
    op.drop_replaceable_object(item_names)
    op.drop_table("items")
'''

SECOND = '''\
"""add price, 0 for the items there are"""
from alembic import op
import sqlalchemy as sa

revision = "aaaa00000002"
down_revision = "aaaa00000001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("items", sa.Column("price", sa.Integer()))
    op.execute("UPDATE items SET price = 0")


def downgrade():
{downgrade}
'''

CONFTEST = '''\
import pytest
from sqlalchemy.orm import Session


@pytest.fixture
def session(myapp_db_connection):
    with Session(bind=myapp_db_connection, join_transaction_mode="create_savepoint") as session:
        yield session
'''

TESTS = '''\
import sqlalchemy as sa

from shopapp.models import items


def test_a_clone_at_head(myapp_db, myapp_db_driver):
    assert myapp_db.startswith(f"postgresql+{myapp_db_driver or 'psycopg2'}://")
    engine = sa.create_engine(myapp_db)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "aaaa00000002"
        assert conn.scalar(sa.text("SELECT count(*) FROM item_names")) == 0
    engine.dispose()


def test_the_session_sees_its_rows(session):
    session.execute(sa.insert(items).values(id=1, name="only here", price=3))
    session.commit()  # the savepoint; the test's transaction is rolled back afterwards
    assert session.execute(sa.select(items.c.name)).scalar_one() == "only here"


def test_the_connection_is_in_a_transaction(myapp_db_connection):
    assert myapp_db_connection.in_transaction()
    assert myapp_db_connection.scalar(sa.select(sa.func.count()).select_from(items)) == 0


def test_an_empty_database(myapp_db_empty):
    engine = sa.create_engine(myapp_db_empty)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT to_regclass('items')")) is None
    engine.dispose()


def test_the_price_is_filled_in(myapp_db_migrator):
    m = myapp_db_migrator
    assert m.revisions == ["aaaa00000001", "aaaa00000002"] and m.current() == ()
    assert m.migrate_before("aaaa00000002") == ("aaaa00000001",)
    m.insert("items", {"id": 1, "name": "old"}, {"id": 2, "name": "older"})
    m.migrate("aaaa00000002")
    with m.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT price FROM items ORDER BY id")).scalars().all() == [0, 0]
    m.migrate("zero")
    assert m.current() == ()
'''


def write_project(root: Path, *, ini: str = "", downgrade: str = 'op.drop_column("items", "price")',
                  extra_column: str = 'Column("price", Integer),\n', third: str = "") -> Path:
    """A user's project: the second app of test_apps with two revisions, a short conftest.py and tests."""
    package = root / "shopapp"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS.format(extra="    " + extra_column))
    (package / "objects.py").write_text(OBJECTS)
    (package / "apps.py").write_text(APPS)
    versions = package / "migrations" / "versions"
    (versions / "aaaa00000001_create_items.py").write_text(FIRST)
    (versions / "aaaa00000002_add_price.py").write_text(SECOND.format(downgrade=textwrap.indent(downgrade, "    ")))
    if third:
        (versions / "aaaa00000003_third.py").write_text(third)
    (root / "pytest.ini").write_text("[pytest]\nmyapp_db_app = shopapp.apps:app\n" + ini)
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_shop.py").write_text(TESTS)
    return root


def pytest_in(root: Path, *args, url=None, site=None):
    """Run pytest (9, or the one in ``site``) in the project; the plugin comes from the installed package."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MYAPP_DATABASE", "SHOPAPP_", "PYTEST_", "MYAPP_DB_APP"))}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (site, root) if p)
    options = ["--myapp-db-url", url.render_as_string(hide_password=False)] if url is not None else []
    return subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *options, *args],
                          capture_output=True, text=True, cwd=root, env=env)


def outcomes(result) -> dict:
    """{test id: PASSED/FAILED/ERROR} from pytest -v output."""
    return dict(re.findall(r"^(\S+) (PASSED|FAILED|ERROR)\b", result.stdout, re.M))


def databases_on(admin) -> set:
    with admin.connect() as conn:
        return set(conn.scalars(sa.text("SELECT datname FROM pg_database")))


CHECK_IDS = [
    "myapp_db::shopapp::single_head",
    "myapp_db::shopapp::up_down_up[aaaa00000001]",
    "myapp_db::shopapp::up_down_up[aaaa00000002]",
    "myapp_db::shopapp::bootstrap_equals_migrate",
    "myapp_db::shopapp::models_match",
]
USER_TESTS = ["test_a_clone_at_head", "test_the_session_sees_its_rows", "test_the_connection_is_in_a_transaction",
              "test_an_empty_database", "test_the_price_is_filled_in"]


def test_a_users_project_on_pytest_9_with_two_drivers(tmp_path, server_url, admin):
    root = write_project(tmp_path, ini="myapp_db_checks = all\nmyapp_db_drivers = psycopg2 psycopg\n")
    before = databases_on(admin)
    result = pytest_in(root, url=server_url)
    assert result.returncode == 0, result.stdout + result.stderr
    found = outcomes(result)
    for check in CHECK_IDS[1:]:
        name, _, param = check.partition("[")
        for driver in ("psycopg2", "psycopg"):
            full = f"{name}[{param[:-1]}-{driver}]" if param else f"{name}[{driver}]"
            assert found.get(full) == "PASSED", (full, result.stdout)
    assert found[CHECK_IDS[0]] == "PASSED"
    for test in USER_TESTS:
        for driver in ("psycopg2", "psycopg"):
            assert found.get(f"tests/test_shop.py::{test}[{driver}]") == "PASSED", result.stdout
    assert list(found)[0] == CHECK_IDS[0]  # the checks come first
    assert databases_on(admin) == before  # every database it made is gone, template included


def test_a_users_project_on_pytest_8_with_the_embedded_server(tmp_path, pytest8_site):
    root = write_project(tmp_path, ini="myapp_db_checks = all\n")
    result = pytest_in(root, site=pytest8_site)
    assert "pytest-8." in result.stdout, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    found = outcomes(result)
    assert [found.get(c) for c in CHECK_IDS] == ["PASSED"] * len(CHECK_IDS), result.stdout
    assert [found.get(f"tests/test_shop.py::{t}") for t in USER_TESTS] == ["PASSED"] * len(USER_TESTS)


def test_failures_name_the_revision_and_show_what_differs(tmp_path, server_url):
    """A downgrade that forgets a column, and a model column no revision adds."""
    root = write_project(tmp_path, ini="myapp_db_checks = all\n", downgrade="pass",
                         extra_column='Column("price", Integer),\n    Column("colour", String(20)),\n')
    result = pytest_in(root, "tests/test_shop.py::test_an_empty_database", "--myapp-db-checks", url=server_url)
    assert result.returncode == 1
    found = outcomes(result)
    assert found["myapp_db::shopapp::single_head"] == "PASSED"
    assert found["myapp_db::shopapp::up_down_up[aaaa00000001]"] == "PASSED"
    assert found["myapp_db::shopapp::up_down_up[aaaa00000002]"] == "FAILED"
    assert found["myapp_db::shopapp::bootstrap_equals_migrate"] == "FAILED"
    assert found["myapp_db::shopapp::models_match"] == "FAILED"
    out = result.stdout
    assert ("the downgrade of aaaa00000002 (add price, 0 for the items there are) "
            "did not restore the schema its upgrade started from:") in out
    assert "--- before the upgrade\n+++ after the downgrade\n+columns: public | items | 3 | price | integer" in out
    assert "bootstrap (the models and the registry) and migrate (the revisions) build different schemas" in out
    assert "+columns: public | items | 4 | colour | character varying(20)" in out
    assert "differ from the migrations at head" in out and "add column items.colour" in out
    assert "Traceback" not in out and "def runtest" not in out  # the report, not our code


def test_two_heads_fail_single_head(tmp_path, server_url):
    third = FIRST.replace('"aaaa00000001"', '"aaaa00000003"').replace("down_revision = None",
                                                                      'down_revision = "aaaa00000001"')
    root = write_project(tmp_path, third=third.replace("create items", "another branch"))
    result = pytest_in(root, "--myapp-db-checks=single_head", "tests/test_shop.py::test_an_empty_database",
                       url=server_url)
    assert result.returncode == 1
    assert outcomes(result)["myapp_db::shopapp::single_head"] == "FAILED"
    assert ("app 'shopapp' has 2 heads: aaaa00000002 (add price, 0 for the items there are), "
            "aaaa00000003 (another branch)") in result.stdout


def test_checks_from_the_ini_join_whole_runs_only(tmp_path, server_url):
    root = write_project(tmp_path, ini="myapp_db_checks = single_head models_match\n")
    one_file = pytest_in(root, "tests/test_shop.py", "--collect-only", "-q", "-q", url=server_url)
    assert one_file.returncode == 0 and "myapp_db::" not in one_file.stdout, one_file.stdout
    folder = pytest_in(root, "tests", "--collect-only", "-q", "-q", url=server_url)
    assert "myapp_db::shopapp::single_head" in folder.stdout and "myapp_db::shopapp::models_match" in folder.stdout
    assert "up_down_up" not in folder.stdout and "7 tests collected" in folder.stdout, folder.stdout
    chosen = pytest_in(root, "tests/test_shop.py", "--myapp-db-checks=up_down_up", "--collect-only", "-q", "-q",
                       url=server_url)
    assert chosen.stdout.count("myapp_db::shopapp::up_down_up[") == 2, chosen.stdout
    deselected = pytest_in(root, "-m", "not myapp_db_check", "--collect-only", "-q", "-q", url=server_url)
    assert "myapp_db::" not in deselected.stdout and "5/7 tests collected" in deselected.stdout, deselected.stdout


def test_reuse_keeps_the_template_until_the_history_changes(tmp_path, server_url, admin):
    root = write_project(tmp_path)
    kept = "test_shopapp_keep_"

    def templates():
        return sorted(name for name in databases_on(admin) if name.startswith(kept))

    def oid(name):
        with admin.connect() as conn:
            return conn.scalar(sa.text("SELECT oid FROM pg_database WHERE datname = :n"), {"n": name})

    try:
        first = pytest_in(root, "--myapp-db-reuse", "-k", "clone", url=server_url)
        assert first.returncode == 0, first.stdout + first.stderr
        [template] = templates()
        made = oid(template)
        second = pytest_in(root, "--myapp-db-reuse", "-k", "clone", url=server_url)
        assert second.returncode == 0 and templates() == [template] and oid(template) == made
        # A changed revision file: a new template, the old one dropped.
        path = root / "shopapp" / "migrations" / "versions" / "aaaa00000002_add_price.py"
        path.write_text(path.read_text().replace("SET price = 0", "SET price = 0 WHERE true"))
        third = pytest_in(root, "--myapp-db-reuse", "-k", "clone", url=server_url)
        assert third.returncode == 0, third.stdout
        [newer] = templates()
        assert newer != template
        # Without reuse, nothing is kept (the kept one stays, for the next reusing session).
        assert pytest_in(root, "-k", "clone", url=server_url).returncode == 0
        assert templates() == [newer]
    finally:
        for name in templates():
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}"')


@pytest.mark.parametrize("args, fragment", [
    (["--myapp-db-app", "nosuchmodule:app"], "--myapp-db-app: cannot import the app 'nosuchmodule:app'"),
    (["--myapp-db-checks=everything"], "unknown myapp_db check 'everything'"),
    (["--myapp-db-driver", "asyncpg"], "unknown driver 'asyncpg' for --myapp-db-driver"),
])
def test_wrong_options_are_one_line(tmp_path, server_url, args, fragment):
    root = write_project(tmp_path)
    result = pytest_in(root, *args, url=server_url)
    assert result.returncode == 4 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_fails_the_tests_in_one_line(tmp_path):
    root = write_project(tmp_path)
    result = pytest_in(root, "-k", "clone", url=sa.make_url("postgresql://nobody@127.0.0.1:9/x"))
    assert result.returncode == 1
    assert "no server for the test databases: cannot connect to postgresql+psycopg2://nobody@127.0.0.1:9/x" in result.stdout


# -- the fixtures, on myapp's own history (this suite runs them once per driver) -------------


def test_myapp_db_is_a_clone_of_the_template_at_head(myapp_db, myapp_db_template, myapp_db_driver, admin, engine_for):
    assert sa.make_url(myapp_db).drivername == f"postgresql+{myapp_db_driver}"
    assert version(engine_for(myapp_db)) == [HEAD]
    with admin.connect() as conn:
        allowed = conn.scalar(sa.text("SELECT datallowconn FROM pg_database WHERE datname = :n"),
                              {"n": myapp_db_template})
    assert allowed is False  # nobody can connect to the template, so cloning it never fails


def test_myapp_db_connection_is_rolled_back(myapp_db_connection):
    conn = myapp_db_connection
    conn.execute(sa.text("INSERT INTO networks (name) VALUES ('rolled back')"))
    assert conn.in_transaction() and conn.scalar(sa.text("SELECT count(*) FROM networks")) == 1


def test_a_data_migration_through_the_migrator(myapp_db_migrator):
    """b7d41e9a0c52 marks every existing observation 'raw' before making the column NOT NULL."""
    m = myapp_db_migrator
    assert m.revisions == REVISIONS and m.heads == (HEAD,)
    m.migrate_before("b7d41e9a0c52")
    assert m.current() == (REVISIONS[0],)
    m.insert("networks", {"id": 1, "name": "n"})
    m.insert("stations", {"id": 1, "network_id": 1, "code": "s", "name": "s"})
    m.insert("variables", {"id": 1, "network_id": 1, "name": "t", "unit": "C"})
    m.insert("station_histories", {"id": 1, "station_id": 1, "valid_from": sa.func.now(), "latitude": 1,
                                   "longitude": 2})
    m.insert("observations", {"history_id": 1, "variable_id": 1, "observed_at": sa.func.now(), "value": 2.5})
    m.migrate("b7d41e9a0c52")
    observations = m.table("observations")
    with m.engine.connect() as conn:
        assert conn.execute(sa.select(observations.c.quality)).scalars().all() == ["raw"]
    assert not observations.c.quality.nullable


def test_the_migrator_refuses_an_unknown_revision(myapp_db_migrator):
    from myapp.db import TargetError

    with pytest.raises(TargetError, match="no revision 'nope'"):
        myapp_db_migrator.migrate_before("nope")


def test_the_fingerprint_follows_revisions_models_and_registry(tmp_path):
    from myapp.db import App, ReplaceableView
    from myapp.db.testing.databases import fingerprint

    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "aaaa00000001_create_items.py").write_text(FIRST)
    metadata = sa.MetaData()
    sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True))
    view = ReplaceableView("item_ids", "SELECT id FROM items")

    def of(**kw):
        return fingerprint(App("fp", migrations=tmp_path, **{"metadata": metadata, "objects": [view], **kw}), tmp_path)

    base = of()
    assert of() == base
    other = sa.MetaData()
    sa.Table("items", other, sa.Column("id", sa.BigInteger, primary_key=True))
    assert of(metadata=other) != base
    assert of(objects=[ReplaceableView("item_ids", "SELECT id + 0 AS id FROM items")]) != base
    (tmp_path / "versions" / "aaaa00000001_create_items.py").write_text(FIRST + "\n# edited\n")
    assert of() != base


def test_one_revisions_check_alone_starts_from_the_revision_before(tmp_path, server_url):
    root = write_project(tmp_path)
    result = pytest_in(root, "--myapp-db-checks=up_down_up", "-k", "aaaa00000002", url=server_url)
    assert result.returncode == 0, result.stdout
    assert outcomes(result) == {"myapp_db::shopapp::up_down_up[aaaa00000002]": "PASSED"}


def test_a_session_that_uses_none_of_it_pays_nothing(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\ndef test_plain():\n    assert 'sqlalchemy' not in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:faulthandler"],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


def test_a_broken_history_is_reported_by_single_head(tmp_path, server_url):
    root = write_project(tmp_path)
    path = root / "shopapp" / "migrations" / "versions" / "aaaa00000002_add_price.py"
    path.write_text(path.read_text().replace('down_revision = "aaaa00000001"', 'down_revision = "nothere"'))
    result = pytest_in(root, "--myapp-db-checks=up_down_up", "tests/test_shop.py::test_an_empty_database",
                       url=server_url)
    assert result.returncode == 1
    assert outcomes(result)["myapp_db::shopapp::single_head"] == "FAILED"
    assert "the history of app 'shopapp' cannot be read:" in result.stdout and "nothere" in result.stdout


def test_the_lint_check_waits_for_the_lint_command(monkeypatch):
    import myapp.db.commands
    from myapp.db.testing import checks

    exists = (Path(myapp.db.commands.__file__).parent / "lint.py").is_file()
    assert checks.lint_available() is exists  # collected only once the command exists
    if exists:
        return
    monkeypatch.setattr(checks, "LINT_MODULE", "myapp.db.commands.migrate")
    assert checks.lint_available() is True
    with pytest.raises(checks.CheckFailed, match="(?s)lint --all exited 2:\n.*invalid choice: 'lint'"):
        checks.lint("myapp.apps:app")  # what it runs: python -m myapp.db lint --all --app SPEC


def test_every_app_named_gets_its_checks(tmp_path, server_url):
    root = write_project(tmp_path)
    result = pytest_in(root, "--myapp-db-app", "shopapp.apps:app", "--myapp-db-app", "myapp.apps:app",
                       "--myapp-db-checks=single_head,models_match", "-k", "single_head or models_match",
                       url=server_url)
    assert result.returncode == 0, result.stdout
    assert outcomes(result) == {f"myapp_db::{label}::{check}": "PASSED"
                                for label in ("shopapp", "myapp") for check in ("single_head", "models_match")}
