"""The record of applied revisions: checksums, when and how, and refusing edited history."""

from __future__ import annotations

import sqlalchemy as sa

from dbhelpers import HEAD, REVISIONS, version


def recorded(engine):
    with engine.connect() as conn:
        return {row.revision: row for row in conn.execute(sa.text("SELECT * FROM myapp_db_revisions"))}


def revision_file(migrations, revision):
    [path] = (migrations / "versions").glob(f"{revision}_*.py")
    return path


def test_migrate_records_every_revision_and_showmigrations_shows_it(cli, db_url, engine_for):
    assert cli("migrate", "--url", db_url).status == 0
    rows = recorded(engine_for(db_url))
    assert sorted(rows) == sorted(REVISIONS)
    row = rows[HEAD]
    assert row.how == "migrate" and row.applied_by and row.duration_ms >= 0 and row.package_version
    assert len(row.checksum) == 64 and row.applied_at is not None
    listing = cli("showmigrations", "-v", "--url", db_url).out.splitlines()
    assert all("[migrate 20" in line and " by " in line for line in listing)
    assert "[migrate" not in cli("showmigrations", "--url", db_url).out
    assert cli("migrate", "-1", "--url", db_url).status == 0
    assert HEAD not in recorded(engine_for(db_url))  # unapplied: its record goes with it


def test_bootstrap_and_fake_record_how(cli, db_url, databases, engine_for):
    assert cli("bootstrap", "--url", db_url).status == 0
    assert {row.how for row in recorded(engine_for(db_url)).values()} == {"bootstrap"}
    faked = databases.create().render_as_string(hide_password=False)
    assert cli("migrate", REVISIONS[1], "--fake", "--url", faked).status == 0
    assert sorted((r, row.how) for r, row in recorded(engine_for(faked)).items()) == sorted(
        (r, "fake") for r in REVISIONS[:2])


def test_an_edited_applied_revision_is_refused(cli, migrations_copy, head_url, engine_for):
    path = revision_file(migrations_copy, REVISIONS[1])
    original = path.read_text()
    path.write_text(original.replace('server_default="raw"', 'server_default="unknown"')
                    if 'server_default="raw"' in original else original + "\nEXTRA = 1\n")
    result = cli("migrate", "--url", head_url)
    assert result.status == 2 and "Traceback" not in result.err
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert f"revision {REVISIONS[1]}'s file {path} changed since it was applied" in line
    assert f"--accept-edited {REVISIONS[1]}" in line
    assert cli("showmigrations", "--url", head_url).status == 0  # listing still works
    accepted = cli("migrate", "--accept-edited", REVISIONS[1], "--url", head_url)
    assert accepted.status == 0, accepted
    assert recorded(engine_for(head_url))[REVISIONS[1]].how == "accepted"
    assert cli("migrate", "--url", head_url).status == 0


def test_comments_blank_lines_and_docstrings_do_not_count(cli, migrations_copy, head_url):
    path = revision_file(migrations_copy, REVISIONS[0])
    text = path.read_text()
    first_def = text.index("def upgrade")
    after_docstring = text.index('"""', 3) + 3
    path.write_text('"""a better docstring"""\n# a comment\n\n' + text[after_docstring:first_def]
                    + "\n\n# why this revision exists\n" + text[first_def:] + "\n\n")
    result = cli("migrate", "--url", head_url)
    assert result.status == 0, result


def test_databases_from_before_the_records_get_them_without_refusing(cli, head_url, engine_for):
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE myapp_db_revisions")
    result = cli("migrate", "--url", head_url)
    assert result.status == 0 and "No migrations to apply." in result.err
    assert {row.how for row in recorded(engine).values()} == {"recorded"} and len(recorded(engine)) == len(REVISIONS)


def test_accept_edited_names_an_applied_revision(cli, db_url):
    assert cli("migrate", REVISIONS[0], "--url", db_url).status == 0
    result = cli("migrate", "--accept-edited", REVISIONS[-1], "--url", db_url)
    assert result.status == 2 and f"--accept-edited {REVISIONS[-1]}: no applied revision" in result.err


def test_offline_sql_writes_the_records_too(cli):
    sql = cli("migrate", "--sql").out
    assert "CREATE TABLE IF NOT EXISTS myapp_db_revisions" in sql
    assert sql.count("INSERT INTO myapp_db_revisions") == len(REVISIONS)
    down = cli("migrate", "zero", "--sql", "--from", HEAD).out
    assert down.count("DELETE FROM myapp_db_revisions") == len(REVISIONS)


def test_the_record_table_is_not_drift(cli, head_url):
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 0 and "myapp_db_revisions" not in result.out


def test_check_refuses_edited_history_without_writing(cli, migrations_copy, head_url, engine_for):
    path = revision_file(migrations_copy, REVISIONS[0])
    path.write_text(path.read_text() + "\nEXTRA = 1\n")
    before = recorded(engine_for(head_url))
    result = cli("migrate", "--check", "--url", head_url)
    assert result.status == 2 and "changed since it was applied" in result.err
    assert recorded(engine_for(head_url)) == before
    assert version(engine_for(head_url)) == [HEAD]
