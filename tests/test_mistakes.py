"""Every mistake is one line on stderr, exit status 2, and the database exactly as it was.

Broken revision files (an import error, a missing parent, a cycle, a
duplicate id), a database at a revision no file has, two heads, a SystemExit
in a revision or a hook, a bare assert.
"""

from __future__ import annotations

import textwrap

import pytest

from dbhelpers import HEAD, REVISIONS, assert_one_line, snapshot, version
import test_plugins

site = test_plugins.site  # the fixture: plugin distributions on sys.path

LISTINGS = (["showmigrations"], ["heads"], ["history"], ["current"])


def write(migrations, name: str, revision: str, down, body: str = "pass", doc: str = "a test revision",
          header: str = "") -> str:
    path = migrations / "versions" / f"{name}.py"
    path.write_text(
        f'"""{doc}"""\nfrom alembic import op\nimport sqlalchemy as sa\n{header}\n'
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{textwrap.indent(textwrap.dedent(body), '    ')}\n\n\ndef downgrade():\n    pass\n"
    )
    return str(path)


def head_file(migrations):
    return next((migrations / "versions").glob(f"{HEAD}_*.py"))


def assert_unchanged(cli, url, engine_for, args, *fragments):
    """Run ``args`` against ``url``: one line naming ``fragments``, and nothing changed."""
    engine = engine_for(url)
    before, at = snapshot(engine), version(engine)
    line = assert_one_line(cli(*args, "--url", url), *fragments)
    assert snapshot(engine) == before and version(engine) == at
    return line


# -- broken revision files ---------------------------------------------------------


@pytest.mark.parametrize("statement, fragment", [
    ("import no_such_module_anywhere", "ModuleNotFoundError: No module named 'no_such_module_anywhere'"),
    ("x = {}['missing']", "KeyError: 'missing'"),
    ("raise SystemExit(0)", "SystemExit(0) was raised"),
])
def test_a_revision_that_fails_to_import(cli, migrations_copy, head_url, engine_for, statement, fragment):
    path = head_file(migrations_copy)
    path.write_text(path.read_text() + f"\n{statement}\n")
    for args in (["migrate"], ["migrate", "zero"], *LISTINGS):
        assert_unchanged(cli, head_url, engine_for, args, f"revision file {path} fails to import", fragment)


def test_a_down_revision_that_no_file_has(cli, migrations_copy, head_url, engine_for):
    path = head_file(migrations_copy)
    down = REVISIONS[-2]
    path.write_text(path.read_text().replace(f'down_revision = "{down}"', 'down_revision = "0badc0ffee00"'))
    for args in (["migrate"], *LISTINGS):
        assert_unchanged(cli, head_url, engine_for, args, f"revision {HEAD} ({path})",
                         "has down_revision '0badc0ffee00', which no revision file declares")


def test_a_cycle(cli, migrations_copy, head_url, engine_for):
    first = next((migrations_copy / "versions").glob(f"{REVISIONS[0]}_*.py"))
    first.write_text(first.read_text().replace("down_revision = None", f'down_revision = "{HEAD}"'))
    for args in (["migrate"], *LISTINGS):
        line = assert_unchanged(cli, head_url, engine_for, args, "the revisions form a cycle", first.name)
        assert f"{REVISIONS[0]} -> " in line


def test_a_cycle_beside_a_healthy_history_is_refused_at_head_too(cli, migrations_copy, head_url, db_url, engine_for,
                                                                 monkeypatch):
    """Two files naming each other: no head reaches them, so the quick no-op path must not say all is well."""
    import myapp.db
    from myapp.db.errors import HistoryError

    write(migrations_copy, "aa0000000001_one", "aa0000000001", "aa0000000002")
    write(migrations_copy, "aa0000000002_two", "aa0000000002", "aa0000000001")
    assert_unchanged(cli, head_url, engine_for, ["migrate"], "the revisions form a cycle")
    assert_unchanged(cli, db_url, engine_for, ["bootstrap"], "the revisions form a cycle")
    monkeypatch.setenv("MYAPP_MIGRATIONS_DIR", str(migrations_copy))
    with pytest.raises(HistoryError, match="cycle"):
        myapp.db.ensure_at_head(head_url)


def test_a_revision_that_is_its_own_parent(cli, migrations_copy, head_url, engine_for):
    path = head_file(migrations_copy)
    path.write_text(path.read_text().replace(f'down_revision = "{REVISIONS[-2]}"', f'down_revision = "{HEAD}"'))
    for args in (["heads"], ["showmigrations"]):
        assert_unchanged(cli, head_url, engine_for, args, str(path), "Self-loop")


def test_two_files_with_one_revision_id_are_refused_naming_both(cli, migrations_copy, head_url, engine_for):
    original = head_file(migrations_copy)
    copy = migrations_copy / "versions" / "zz_copy_of_head.py"
    copy.write_text(original.read_text())
    for args in (["migrate"], ["heads"], ["showmigrations"]):
        assert_unchanged(cli, head_url, engine_for, args, f"revision id {HEAD} is declared by two files",
                         str(original), str(copy))
    from myapp.db import DuplicateRevision, showmigrations

    with pytest.raises(DuplicateRevision) as raised:
        showmigrations(head_url)
    assert raised.value.revision == HEAD and {str(f) for f in raised.value.files} == {str(original), str(copy)}


def test_a_database_at_a_revision_no_file_has(cli, head_url, engine_for):
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'abcdefabcdef'")
    for args in (["showmigrations"], ["current"], ["migrate"], ["migrate", "--check"], ["migrate", "zero"]):
        assert_unchanged(cli, head_url, engine_for, args, "the database is at revision abcdefabcdef",
                         "which no revision file")


# -- two heads ----------------------------------------------------------------------


def add_second_head(migrations) -> str:
    return write(migrations, "b2b2b2b2b2b2_other_branch", "b2b2b2b2b2b2", REVISIONS[-2],
                 'op.create_table("branch_table", sa.Column("id", sa.Integer, primary_key=True))',
                 doc="the other branch")


def test_two_heads_are_refused_naming_both(cli, migrations_copy, db_url, engine_for):
    other = add_second_head(migrations_copy)
    for args in (["migrate"], ["migrate", "head"], ["migrate", "+1"], ["migrate", "--plan"],
                 ["migrate", "--check"], ["bootstrap"], ["makemigrations", "-m", "more"]):
        assert_unchanged(cli, db_url, engine_for, args, "the history has 2 heads", "b2b2b2b2b2b2", other,
                         HEAD, str(head_file(migrations_copy)), "makemigrations --merge")
    assert_one_line(cli("migrate", "--sql"), "the history has 2 heads")
    from myapp.db import DivergentHeads, migrate

    with pytest.raises(DivergentHeads) as raised:
        migrate(db_url)
    assert raised.value.heads == tuple(sorted(["b2b2b2b2b2b2", HEAD]))
    assert sorted(map(str, raised.value.files)) == sorted([other, str(head_file(migrations_copy))])
    assert len(list((migrations_copy / "versions").glob("*.py"))) == len(REVISIONS) + 1

    # A revision named on one branch is still a target, as with Alembic.
    assert cli("migrate", "b2b2b2b2b2b2", "--url", db_url).status == 0
    assert version(engine_for(db_url)) == ["b2b2b2b2b2b2"]


def test_merge_joins_the_heads_up_down_up(cli, migrations_copy, db_url, engine_for):
    add_second_head(migrations_copy)
    engine = engine_for(db_url)
    assert cli("migrate", "b2b2b2b2b2b2", "--url", db_url).status == 0

    merged = cli("makemigrations", "--merge")
    assert merged.status == 0, merged
    path = merged.out.strip()
    text = open(path).read()
    assert f"down_revision = ('b2b2b2b2b2b2', '{HEAD}')" in text
    assert text.startswith(f'"""merge b2b2b2b2b2b2 and {HEAD}\n')
    merge_id = cli("heads").out.split()[0]
    assert cli("heads").out.count("(head)") == 1

    assert cli("migrate", "--url", db_url).status == 0
    assert version(engine) == [merge_id]
    # Down below the merge (Alembic calls "-1" from a merge ambiguous: name a revision), then up again.
    assert_one_line(cli("migrate", "-1", "--url", db_url), "Ambiguous walk")
    assert cli("migrate", "b2b2b2b2b2b2", "--url", db_url).status == 0
    assert version(engine) == sorted(["b2b2b2b2b2b2", HEAD])
    assert cli("migrate", "--url", db_url).status == 0
    assert version(engine) == [merge_id]
    rows = cli("showmigrations", "--url", db_url).out.splitlines()
    assert all(row.startswith("[X]") for row in rows) and rows[-1].endswith("(head, current)")

    # Nothing left to merge: said, and nothing written.
    again = cli("makemigrations", "--merge")
    assert again.status == 0 and "No heads to merge" in again.err and not again.out


def test_merge_takes_a_message(cli, migrations_copy):
    add_second_head(migrations_copy)
    result = cli("makemigrations", "--merge", "-m", 'join "both" branches')
    assert result.status == 0, result
    assert 'join "both" branches' in cli("history").out


# -- exits and asserts in revisions and hooks ------------------------------------------------


def test_system_exit_in_a_revision_fails_the_run(cli, migrations_copy, db_url, engine_for):
    write(migrations_copy, "e0e0e0e0e0e0_exits", "e0e0e0e0e0e0", HEAD,
          'op.create_table("before_exit", sa.Column("id", sa.Integer, primary_key=True))\nraise SystemExit(0)',
          doc="exits")
    engine = engine_for(db_url)
    assert_unchanged(cli, db_url, engine_for, ["migrate"], "revision e0e0e0e0e0e0 (exits) failed",
                     "SystemExit(0) was raised", "every step was rolled back")
    assert version(engine) is None
    # With --step, the revisions before it stay; the one that exited does not count as applied.
    assert_one_line(cli("migrate", "--step", "--url", db_url), "SystemExit(0) was raised")
    assert version(engine) == [HEAD] and "before_exit" not in str(snapshot(engine))


def test_the_database_s_hint_stays_on_the_one_line(cli, migrations_copy, db_url, engine_for):
    """PostgreSQL's HINT is often the fix (``out of shared memory``: raise max_locks_per_transaction)."""
    write(migrations_copy, "e1e1e1e1e1e1_hinted", "e1e1e1e1e1e1", HEAD,
          'op.execute("SELECT no_such_function_anywhere(1)")', doc="hinted")
    assert_unchanged(cli, db_url, engine_for, ["migrate"], "revision e1e1e1e1e1e1 (hinted) failed",
                     "function no_such_function_anywhere(integer) does not exist",
                     "(hint: No function matches the given name and argument types.")


@pytest.mark.parametrize("where", ["before_revision", "after_migrate", "import"])
def test_system_exit_in_a_plugin_fails_the_run(cli, site, db_url, engine_for, where):
    if where == "import":
        site.add("quitter", "raise SystemExit(0)\n")
    else:
        argument = "revision" if where == "before_revision" else "revisions"
        site.add("quitter", f"""
            from myapp.db import hookimpl

            @hookimpl
            def {where}({argument}):
                raise SystemExit(0)
            """)
    assert_unchanged(cli, db_url, engine_for, ["migrate"], "quitter", "SystemExit(0) was raised")
    assert version(engine_for(db_url)) is None


def test_a_bare_assert_says_what_failed(cli, migrations_copy, db_url, engine_for):
    path = write(migrations_copy, "a5a5a5a5a5a5_asserts", "a5a5a5a5a5a5", HEAD,
                 "total = 1\nassert total == 2", doc="asserts")
    assert_unchanged(cli, db_url, engine_for, ["migrate"], "revision a5a5a5a5a5a5 (asserts) failed",
                     f"AssertionError in upgrade() at {path}, line", "assert total == 2")


def test_autocommit_block_in_one_transaction_says_what_failed(cli, migrations_copy, db_url, engine_for):
    write(migrations_copy, "a6a6a6a6a6a6_autocommit", "a6a6a6a6a6a6", HEAD,
          'with op.get_context().autocommit_block():\n    op.execute("SELECT 1")', doc="autocommit")
    result = cli("migrate", "--url", db_url)
    if result.status == 0:  # the production-safety work makes it run
        return
    line = assert_one_line(result, "revision a6a6a6a6a6a6 (autocommit) failed")
    assert "autocommit_block" in line and "AssertionError: AssertionError" not in line


def test_usage_mistakes_are_one_line(cli):
    for args in (["nosuchcommand"], ["migrate", "--no-such-option"], ["embedded", "explode"], []):
        assert_one_line(cli(*args), "--help'")


def test_a_driver_that_is_not_installed_is_one_line(cli, monkeypatch, server_url):
    """psycopg 3 is only in the test extra: a plain install given postgresql+psycopg:// says what to install."""
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    url = server_url.set(drivername="postgresql+psycopg", password="not-the-secret").render_as_string(hide_password=False)
    line = assert_one_line(cli("current", "--url", url), "names the driver psycopg, which is not installed",
                           "pip install 'psycopg[binary]'")
    assert "not-the-secret" not in line


@pytest.mark.parametrize("command", [("makemigrations", "--check"), ("migrate", "--check")])
def test_a_table_cache_setting_that_is_neither_on_nor_off(cli, head_url, engine_for, monkeypatch, command):
    monkeypatch.setenv("MYAPP_DB_TABLE_CACHE", "sometimes")
    before = snapshot(engine_for(head_url))
    assert_one_line(cli(*command, "--url", head_url), "MYAPP_DB_TABLE_CACHE='sometimes'", "set it to off")
    assert snapshot(engine_for(head_url)) == before
    monkeypatch.setenv("MYAPP_DB_TABLE_CACHE", "Off")
    assert cli(*command, "--url", head_url).status == 0
