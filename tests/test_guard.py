"""`ensure_at_head`, the start-up guard, and the revision graph it reads without Alembic."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

import myapp.db
from dbhelpers import HEAD, REVISIONS
from myapp.db.runtime import history


def test_at_head_it_returns_the_heads(head_url, engine_for):
    assert myapp.db.ensure_at_head(head_url) == (HEAD,)
    engine = engine_for(head_url)
    assert myapp.db.ensure_at_head(engine) == (HEAD,)
    with engine.connect() as conn:
        assert myapp.db.ensure_at_head(conn) == (HEAD,)
        assert not conn.in_transaction()  # it leaves no transaction open on the caller's connection


def test_an_empty_database_misses_every_revision(db_url):
    with pytest.raises(myapp.db.NotAtHead) as caught:
        myapp.db.ensure_at_head(db_url)
    error = caught.value
    assert error.current == () and error.heads == (HEAD,) and error.unknown == []
    assert [m.split()[0] for m in error.missing] == REVISIONS
    assert str(error).startswith("the database is at no revision (an empty or unmigrated database), "
                                 f"not at head ({HEAD}): {len(REVISIONS)} revision(s) missing: "
                                 f"{REVISIONS[0]} (initial schema), ")
    assert f"and {len(REVISIONS) - 5} more; run 'python -m myapp.db migrate'" in str(error)
    assert isinstance(error, myapp.db.CommandError)


def test_an_old_database_names_what_is_missing_oldest_first(cli, db_url):
    assert cli("migrate", REVISIONS[2], "--url", db_url).status == 0
    with pytest.raises(myapp.db.NotAtHead) as caught:
        myapp.db.ensure_at_head(db_url)
    assert [m.split()[0] for m in caught.value.missing] == REVISIONS[3:]
    assert caught.value.missing[-1].startswith(f"{HEAD} (daily_observations: leave out rejected")
    assert f"the database is at {REVISIONS[2]}, not at head" in str(caught.value)


def test_a_revision_the_code_does_not_have(head_url, engine_for):
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffffeeee0000'")
    with pytest.raises(myapp.db.NotAtHead, match="revision.s. ffffeeee0000, which this app's history does not have"):
        myapp.db.ensure_at_head(head_url)


def test_it_imports_neither_alembic_nor_a_revision(head_url):
    code = textwrap.dedent(f"""
        import json, sys
        import myapp.db
        heads = myapp.db.ensure_at_head({head_url!r})
        print(json.dumps([heads, sorted(m for m in sys.modules if m.startswith("alembic")
                                        or "migrations.versions" in m or m == "myapp.models")]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [[HEAD], []]


BRANCHY = {
    "aaaa00000001_base.py": '"""the base\n\nmore text\n"""\nrevision = "aaaa00000001"\ndown_revision = None\n',
    "aaaa00000002_left.py": ('"""left"""\nfrom typing import Union\n\nrevision: str = "aaaa00000002"\n'
                             'down_revision: Union[str, None] = "aaaa00000001"  # a comment\n'),
    "aaaa00000003_right.py": "'''right'''\nrevision = 'aaaa00000003'\ndown_revision = 'aaaa00000001'\n",
    "aaaa00000004_merge.py": '"""merge"""\nrevision = "aaaa00000004"\ndown_revision = (\n    "aaaa00000002",\n'
                             '    "aaaa00000003",\n)\n',
    "aaaa00000005_other_base.py": '"""another base"""\nrevision = "aaaa00000005"\ndown_revision = None\n'
                                  'depends_on = ["aaaa00000002"]\n',
    "aaaa00000006_branch.py": '"""a second head"""\nrevision = "aaaa00000006"\ndown_revision = "aaaa00000005"\n',
    "__init__.py": "",
}


def write(folder, files):
    versions = folder / "versions"
    versions.mkdir(exist_ok=True)
    for name, text in files.items():
        (versions / name).write_text(text)
    return folder


@pytest.mark.parametrize("current", [(), ("aaaa00000001",), ("aaaa00000003",), ("aaaa00000002", "aaaa00000003"),
                                     ("aaaa00000004",), ("aaaa00000006",), ("aaaa00000004", "aaaa00000006")])
def test_the_fast_reader_agrees_with_alembic(tmp_path, current):
    folder = write(tmp_path, BRANCHY)
    fast = history._fast(folder / "versions")
    alembic = history._AlembicHistory(folder)
    assert not isinstance(fast, history._AlembicHistory)
    assert fast.heads == alembic.heads == ("aaaa00000004", "aaaa00000006")
    missing = fast.missing(current)
    assert sorted(map(str, missing)) == sorted(map(str, alembic.missing(current)))
    position = {r.id: i for i, r in enumerate(missing)}
    for r in missing:  # oldest first: each after what it follows or depends on
        assert all(position[p] < position[r.id] for p in r.parents + r.depends_on if p in position)
    assert fast.revisions["aaaa00000001"].message == "the base"


def test_the_apps_history_reads_fast_and_as_alembic_does():
    folder = myapp.db.App("x", migrations="myapp.db.migrations").migrations_dir()
    fast = history._fast(folder / "versions")
    assert [str(r) for r in fast.missing(())] == [str(r) for r in history._AlembicHistory(folder).missing(())]
    assert [r.id for r in fast.missing(())] == REVISIONS


def test_a_file_it_cannot_read_goes_through_alembic(tmp_path):
    files = dict(BRANCHY)
    files["aaaa00000006_branch.py"] = ('"""computed"""\n'
                                       'revision = "aaaa00000006"\ndown_revision = "aaaa0000" + "0005"\n')
    folder = write(tmp_path, files)
    read = history.read(folder)
    assert isinstance(read, history._AlembicHistory)
    assert read.heads == ("aaaa00000004", "aaaa00000006")


def test_a_new_revision_file_is_seen(tmp_path):
    folder = write(tmp_path, {k: v for k, v in BRANCHY.items() if "0005" not in k and "0006" not in k})
    assert history.read(folder).heads == ("aaaa00000004",)
    write(folder, {"aaaa00000006_next.py": 'revision = "aaaa00000006"\ndown_revision = "aaaa00000004"\n'})
    assert history.read(folder).heads == ("aaaa00000006",)


def test_another_apps_guard(tmp_path, databases):
    """The guard goes by the App it is given: a database at myapp's head is not at another app's."""
    folder = write(tmp_path, {k: v for k, v in BRANCHY.items() if "0005" not in k and "0006" not in k})
    other = myapp.db.App("other", migrations=folder)
    url = databases.create().render_as_string(hide_password=False)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('aaaa00000002'), ('aaaa00000003')")
    engine.dispose()
    with pytest.raises(myapp.db.NotAtHead) as caught:
        myapp.db.ensure_at_head(url, app=other)
    assert caught.value.missing == ["aaaa00000004 (merge)"]
