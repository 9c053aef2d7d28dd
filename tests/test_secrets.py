"""Nothing we print holds a password: not errors, not URL parse errors, not --traceback or -v output."""

from __future__ import annotations

import urllib.parse

import pytest
import sqlalchemy as sa

from conftest import run_process
from dbhelpers import HEAD, assert_one_line

PASSWORD = "Zq7-hunter2-Secret"
ENCODED = urllib.parse.quote(PASSWORD, safe="")


def socket_host(server_url) -> str:
    return urllib.parse.quote(server_url.query["host"], safe="")


def bad_urls(server_url):
    """URLs that fail in every way we know, each holding the password."""
    host = socket_host(server_url)
    return [
        f"postgresql://me:{PASSWORD}@127.0.0.1:notaport/x",         # malformed port
        f"postgresql://me:{PASSWORD}@127.0.0.1:1/x",                 # nothing listens
        f"postgresql://me:{PASSWORD}@/postgres?host={host}",        # refused by the server (peer)
        f"postgresql+psycopg://me:{PASSWORD}@/postgres?host={host}",
        f"postgresql://me:{PASSWORD}@/no_such_database?host={host}",
        f"mysql://me:{PASSWORD}@127.0.0.1/x",                        # not PostgreSQL
        f"postgresql+asyncpg://me:{PASSWORD}@127.0.0.1/x",           # async driver
        f"postgresql+nodriver://me:{PASSWORD}@127.0.0.1/x",
        f"postgresql://me:{PASSWORD}@127.0.0.1:1",                   # no database
        f"postgresql://me:p@{PASSWORD}@127.0.0.1:1/x",               # an unencoded @ in it
        f"postgresql://me:{ENCODED}@127.0.0.1:1/x",                  # percent-encoded
        f"postgresql://me@127.0.0.1:1/x?password={PASSWORD}",        # in the query string
        f"postgresql://me@127.0.0.1:1/x?sslpassword={PASSWORD}&sslmode=nonsense",
        f"postgres ql://me:{PASSWORD}@x/y",
        f"postgres//me:{PASSWORD}@x/y",                               # no '://' at all
        f"postgresql:/me:{PASSWORD}@x/y",
    ]


COMMANDS = [["migrate"], ["migrate", "--check"], ["showmigrations"], ["current"], ["bootstrap"],
            ["makemigrations", "--check"], ["refresh"]]


@pytest.fixture(autouse=True)
def forget_secrets(monkeypatch):
    """Each test starts with no password remembered, as a fresh process does."""
    from myapp.db import settings

    monkeypatch.setattr(settings, "_secrets", set())


def test_mask():
    from myapp.db.settings import mask

    assert mask(f"identified by 'postgresql://me:{PASSWORD}'; run") == "identified by 'postgresql://me:***'; run"
    assert mask(f"postgresql://me:{PASSWORD}@db/x and postgresql://db:5432/x") == \
        "postgresql://me:***@db/x and postgresql://db:5432/x"
    assert mask(f"host=db password={PASSWORD} user=me") == "host=db password=*** user=me"
    assert mask(f"CREATE ROLE r LOGIN PASSWORD '{PASSWORD}'") == "CREATE ROLE r LOGIN PASSWORD '***'"
    assert mask(f"boom password={PASSWORD}; every step") == "boom password=***; every step"
    assert mask(f"malformed 'postgres//me:{PASSWORD}@db/x'") == "malformed 'postgres//me:***@db/x'"
    assert mask("at db:5432 at 12:30") == "at db:5432 at 12:30"


def assert_no_secret(result):
    text = result.out + result.err
    assert PASSWORD not in text and ENCODED not in text, result
    assert "hunter2" not in text, result


@pytest.mark.parametrize("flags", [[], ["--traceback"], ["-v"]])
def test_no_failing_command_prints_the_password(cli, server_url, monkeypatch, flags):
    for url in bad_urls(server_url):
        for command in COMMANDS:
            result = cli(*command, "--url", url, *flags)
            assert result.status == 2, (url, command, result)
            assert_no_secret(result)
        # From the environment too.
        monkeypatch.setenv("MYAPP_DATABASE_URL", url)
        result = cli("migrate", *flags)
        monkeypatch.delenv("MYAPP_DATABASE_URL")
        assert result.status == 2, result
        assert_no_secret(result)


def test_the_password_in_misplaced_arguments_is_masked(cli, db_url):
    url = f"postgresql://me:{PASSWORD}@127.0.0.1:1/x"
    for args in (["migrate", url, "--url", db_url], ["migrate", "--ulr", url], ["migrate", "--url", url, url],
                 ["migrate", "--sql", "--from", url], ["refresh", url, "--url", db_url]):
        result = cli(*args)
        assert result.status == 2, result
        assert_no_secret(result)
        assert_one_line(result)


def test_sql_with_a_password_is_masked_in_errors_and_tracebacks(cli, migrations_copy, db_url):
    (migrations_copy / "versions" / "c0ffeec0ffee_role.py").write_text(
        '"""make a role"""\nfrom alembic import op\n\n'
        f'revision = "c0ffeec0ffee"\ndown_revision = "{HEAD}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        f"def upgrade():\n    op.execute(\"CREATE ROLE app_user PASSWORD '{PASSWORD}' NOT_AN_OPTION\")\n\n\n"
        "def downgrade():\n    pass\n"
    )
    for flags in ([], ["--traceback"], ["-v"]):
        result = cli("migrate", "--url", db_url, *flags)
        assert result.status == 2 and "c0ffeec0ffee" in result.err, result
        assert_no_secret(result)


def test_a_subprocess_with_the_url_in_the_environment(server_url):
    for url in bad_urls(server_url)[:3]:
        done = run_process("migrate", "-v", env={"MYAPP_DATABASE_URL": url})
        assert done.returncode == 2, done
        assert PASSWORD not in done.stdout + done.stderr, done.stderr


def test_a_caller_engine_password_is_masked(cli, server_url):
    from myapp.db import CommandError, showmigrations

    engine = sa.create_engine(f"postgresql://me:{PASSWORD}@127.0.0.1:1/x")
    with pytest.raises(CommandError) as raised:
        showmigrations(engine)
    assert PASSWORD not in str(raised.value)
