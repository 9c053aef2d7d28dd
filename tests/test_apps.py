"""A second app on the framework: its own models, registry and revisions, none of myapp's content loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dbhelpers import snapshot

MODELS = '''\
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
{extra})
'''

OBJECTS = '''\
from myapp.db import Registry, ReplaceableView

registry = Registry([ReplaceableView("item_names", "SELECT id, name FROM items", grants={"PUBLIC": ["SELECT"]})])
'''

APPS = '''\
from myapp.db import App

app = App("shopapp", metadata="shopapp.models:metadata", objects="shopapp.objects:registry",
          migrations="shopapp.migrations")
'''

# Runs the CLI (or the Python API) in a process, then reports which modules of
# myapp's own content were imported: none may be.
DRIVER = '''\
import json, sys
args = json.loads(sys.argv[1])
if args[0] == "api":
    import myapp.db
    from shopapp.apps import app
    url = args[1]
    myapp.db.migrate(url, app=app)
    rows = myapp.db.showmigrations(url, app=app)
    check = myapp.db.makemigrations(url, app=app, check=True)
    myapp.db.migrate(url, "zero", app=app)
    result = {"rows": [r.revision for r in rows], "diffs": len(check.diffs), "status": 0}
else:
    from myapp.db.cli import main
    result = {"status": main(args)}
content = [m for m, mod in sys.modules.items()
           if m in ("myapp.models", "myapp.apps") or m.startswith("myapp.db.objects")
           or "myapp/db/migrations/versions" in (getattr(mod, "__file__", None) or "")]
result["content"] = content
result["models"] = "shopapp.models" in sys.modules
sys.stdout.write("\\n" + json.dumps(result) + "\\n")
'''


@pytest.fixture
def shop(tmp_path):
    """The second app, written into a temporary folder on PYTHONPATH."""
    root = tmp_path / "src"
    package = root / "shopapp"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS.format(extra=""))
    (package / "objects.py").write_text(OBJECTS)
    (package / "apps.py").write_text(APPS)
    (root / "driver.py").write_text(DRIVER)
    return root


def run(root: Path, *args, env=None):
    """Run the driver with ``args``; return (status, its report, stdout, stderr)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_DATABASE", "MYAPP_MIGRATIONS"))}
    full_env.update(PYTHONPATH=str(root), **(env or {}))
    proc = subprocess.run([sys.executable, str(root / "driver.py"), json.dumps(list(args))],
                          capture_output=True, text=True, env=full_env, cwd=root)
    report = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    return proc.returncode, report, proc.stdout, proc.stderr


def cli(root, *args, env=None):
    status, report, out, err = run(root, *args, env=env)
    assert report.get("content") == [], f"myapp's content was imported: {report}"
    return report.get("status", status), out, err


def test_second_app_through_the_cli(shop, databases, engine_for):
    migrated = databases.create().render_as_string(hide_password=False)
    app = ["--app", "shopapp.apps:app"]

    status, out, err = cli(shop, "makemigrations", "-m", "create items", *app, "--url", migrated)
    assert status == 0, err
    first = Path(out.strip().splitlines()[0])
    assert first.parent == shop / "shopapp" / "migrations" / "versions"
    source = first.read_text()
    assert "op.create_table('items'" in source and "op.create_replaceable_object(item_names)" in source
    assert cli(shop, "migrate", *app, "--url", migrated)[0] == 0

    (shop / "shopapp" / "models.py").write_text(MODELS.format(extra='    Column("price", Integer),\n'))
    status, out, err = cli(shop, "makemigrations", "-m", "add price", *app, "--url", migrated)
    assert status == 0, err
    assert "op.add_column('items'" in Path(out.strip().splitlines()[0]).read_text()
    # The App may also come from the environment, and the URL from the App's own variable.
    env = {"MYAPP_DB_APP": "shopapp.apps:app", "SHOPAPP_DATABASE_URL": migrated}
    status, out, err = cli(shop, "migrate", env=env)
    assert status == 0 and "Applying" in err and f"Database: {migrated.rsplit('/', 1)[0]}" in err.replace(":***@", ":@"), err

    status, out, err = cli(shop, "showmigrations", *app, "--url", migrated)
    lines = [line for line in out.splitlines()[:-1] if line]
    assert status == 0 and len(lines) == 2 and all(line.startswith("[X]") for line in lines)
    assert "create items" in lines[0] and lines[1].endswith("(head, current)")
    assert cli(shop, "makemigrations", "--check", *app, "--url", migrated)[0] == 0

    bootstrapped = databases.create().render_as_string(hide_password=False)
    assert cli(shop, "bootstrap", *app, "--url", bootstrapped)[0] == 0
    assert snapshot(engine_for(bootstrapped)) == snapshot(engine_for(migrated))

    # A command an error suggests works on the same app when run as printed.
    status, out, err = cli(shop, "migrate", "nosuchrevision", *app, "--url", migrated)
    assert status == 2 and "'python -m myapp.db --app shopapp.apps:app " in err, err
    (shop / "shopapp" / "models.py").write_text(MODELS.format(extra='    Column("price", Integer),\n'
                                                                   '    Column("weight", Integer),\n'))
    status, out, err = cli(shop, "makemigrations", "--check", *app, "--url", migrated)
    assert status == 1 and "run 'python -m myapp.db --app shopapp.apps:app makemigrations -m MESSAGE'" in err, err

    status, out, err = cli(shop, "migrate", "zero", *app, "--url", migrated)
    assert status == 0 and err.count("Unapplying") == 2
    with engine_for(migrated).connect() as conn:
        assert conn.exec_driver_sql("SELECT to_regclass('items'), to_regclass('item_names')").one() == (None, None)


def test_second_app_through_the_python_api(shop, databases):
    url = databases.create().render_as_string(hide_password=False)
    assert cli(shop, "makemigrations", "-m", "create items", "--app", "shopapp.apps:app", "--url", url)[0] == 0
    status, report, out, err = run(shop, "api", url)
    assert status == 0, err
    assert report["content"] == [] and len(report["rows"]) == 1 and report["diffs"] == 0


def test_a_check_remembers_tables_in_sync_until_anything_changes(shop, databases, engine_for, tmp_path):
    """A check that found the tables in sync remembers it; the next one imports no model and reflects
    nothing, until a table, a model file or the env.py changes."""
    url = databases.create().render_as_string(hide_password=False)
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache)}
    app = ["--app", "shopapp.apps:app"]
    assert cli(shop, "makemigrations", "-m", "create items", *app, "--url", url)[0] == 0
    assert cli(shop, "migrate", *app, "--url", url)[0] == 0

    def check(command="makemigrations", **more):
        status, report, out, err = run(shop, command, "--check", *app, "--url", url, env=dict(env, **more))
        return report.get("status", status), report.get("models"), out + err

    assert check()[:2] == (0, True)  # compared in full, then remembered
    assert check()[:2] == (0, False)  # remembered: the models were not even imported
    assert check("migrate")[:2] == (0, False)
    (remembered,) = cache.joinpath("myapp.db").glob("tables-*.json")
    assert remembered.stat().st_mode & 0o777 == 0o600 and remembered.parent.stat().st_mode & 0o777 == 0o700

    with engine_for(url).begin() as conn:  # by hand, in psql
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN note text")
    status, models, err = check()
    assert (status, models) == (1, True) and "note" in err, err
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE items DROP COLUMN note")
    assert check()[:2] == (0, True)  # new row versions: compared again, then remembered
    assert check()[:2] == (0, False)
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("COMMENT ON COLUMN items.name IS 'changed by hand'")
    assert check()[:2] == (1, True)
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("COMMENT ON COLUMN items.name IS NULL")
    assert check()[:2] == (0, False)  # the catalog rows are again those found in sync

    assert check(MYAPP_DB_TABLE_CACHE="off")[:2] == (0, True)
    (shop / "shopapp" / "models.py").write_text(MODELS.format(extra='    Column("price", Integer),\n'))
    assert check()[:2] == (1, True)
    (shop / "shopapp" / "models.py").write_text(MODELS.format(extra=""))
    assert check()[:2] == (0, True)
    assert check()[:2] == (0, False)
    # The registry's file is not the tables' code: a new object in it keeps the memo.
    (shop / "shopapp" / "objects.py").write_text(OBJECTS.replace(
        "])", ', ReplaceableView("item_ids", "SELECT id FROM items")])'))
    status, models, output = check()
    assert (status, models) == (1, False) and "create view item_ids" in output, output
    (shop / "shopapp" / "objects.py").write_text(OBJECTS)
    # A revision written on remembered tables: the objects alone are compared.
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("DROP VIEW item_names")
    status, report, out, err = run(shop, "makemigrations", "-m", "put it back", *app, "--url", url, env=env)
    assert (report.get("status"), report.get("models")) == (0, False), err
    written = Path(out.strip().splitlines()[0]).read_text()
    assert "op.create_replaceable_object(item_names)" in written and "create_table" not in written
    assert cli(shop, "migrate", *app, "--url", url, env=env)[0] == 0
    env_py = shop / "shopapp" / "migrations" / "env.py"
    env_py.write_text('"""The generic environment, with a docstring of its own."""\n'
                      "from myapp.db.runtime.env import run\n\nrun()\n")
    assert check()[:2] == (0, False)  # the same code
    env_py.write_text("from myapp.db.runtime.env import run\nimport os\nrun()\n")
    assert check()[:2] == (0, True) and check()[:2] == (0, True)  # an env.py of its own: never remembered


def test_an_app_may_bring_its_own_env_and_template(shop, db_url):
    migrations = shop / "shopapp" / "migrations"
    (migrations / "env.py").write_text(
        "import sys\nsys.stderr.write('shop env.py ran\\n')\nfrom myapp.db.runtime.env import run\nrun()\n"
    )
    from myapp.db.runtime.scripts import SCAFFOLD

    template = (SCAFFOLD / "script.py.mako").read_text()
    (migrations / "script.py.mako").write_text("# shop's own template\n" + template)
    status, out, err = cli(shop, "makemigrations", "-m", "create items", "--app", "shopapp.apps:app", "--url", db_url)
    assert status == 0 and "shop env.py ran" in err, err
    assert Path(out.strip().splitlines()[0]).read_text().startswith("# shop's own template\n")


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("nosuchmodule:app", "cannot import the app 'nosuchmodule:app': ModuleNotFoundError"),
        ("shopapp.apps:nope", "has no attribute 'nope'"),
        ("shopapp.models:metadata", "not a myapp.db.App"),
    ],
)
def test_a_wrong_app_is_one_line(shop, spec, fragment):
    status, _, err = cli(shop, "heads", "--app", spec)
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_app_declaration_checks_its_label():
    from myapp.db import App, ConfigurationError

    with pytest.raises(ConfigurationError, match="lower-case identifier"):
        App("Shop App", migrations="x")
    app = App("shop", migrations="shop.db.migrations")
    assert app.variable("DATABASE_URL") == "SHOP_DATABASE_URL" and app.database_name == "shop"
    assert app.lock_key != App("other", migrations="x").lock_key


def test_framework_modules_never_name_myapps_content():
    """No framework module imports myapp.models, myapp.db.objects or a revision by name."""
    framework = Path(__file__).resolve().parent.parent / "myapp" / "db"
    offenders = []
    for path in framework.rglob("*.py"):
        relative = path.relative_to(framework).as_posix()
        if relative.startswith(("objects/", "migrations/")):
            continue  # myapp's own content
        text = path.read_text()
        for needle in ("myapp.models", "myapp.db.objects", "myapp.apps", "migrations.versions"):
            if needle in text and not (relative == "app.py" and needle == "myapp.apps"):
                offenders.append(f"{relative}: {needle}")
    assert offenders == []


def test_what_a_command_accepts_as_its_database(head_url, engine_for):
    import sqlalchemy as sa

    import myapp.db

    engine = engine_for(head_url)
    for database in (head_url, sa.make_url(head_url), engine):
        assert [r.revision for r in myapp.db.current(database)] == [myapp.db.heads()[0].revision]
    with pytest.raises(myapp.db.ConfigurationError, match="cannot use a int as the database: give a URL"):
        myapp.db.current(42)
    with pytest.raises(myapp.db.ConfigurationError, match="cannot use a module as the database"):
        myapp.db.migrate(textwrap)
