"""A revision's message is written as an escaped literal: the file is safe Python whatever the message,
and the message reads back exactly in ``history`` and ``showmigrations``."""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dbhelpers import HEAD, assert_one_line
from myapp.db.runtime import scripts

HOSTILE = [
    'quote """; import os; os.system("touch {canary}")  #',
    "'''; import os; os.system('touch {canary}')  #",
    'ends with a quote"',
    "ends with a backslash \\",
    'backslash then quotes \\"""',
    "mako ${{__import__('os').system('touch {canary}')}} and <% x %>",
    "percent %(rev)s and {{braces}} and $dollar",
    "unicode: é, ß, 北京, emoji 🚀, non-breaking\u00a0space",
    '"""',
    "\\N{{BULLET}} and \\x41 stay as typed",
]

REFUSED = ["two\nlines", "carriage\rreturn", "a\ttab", "escape \x1b[31m red", "nul \x00",
           "line\u2028separator", "right-to-left \u202e override", "surrogate \udcff", "   "]


def write_and_read_back(cli, url, message: str):
    """Write an empty revision with ``message``; return its file, and its history and showmigrations lines."""
    made = cli("makemigrations", "--empty", "-m", message)
    assert made.status == 0, made
    path = Path(made.out.strip())
    tree = ast.parse(path.read_text(encoding="utf-8"))  # valid Python ...
    py_compile.compile(str(path), doraise=True)
    # ... whose only top-level statements are the docstring, imports and plain assignments and defs.
    assert all(isinstance(node, (ast.Expr, ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef))
               for node in tree.body)
    assert isinstance(tree.body[0], ast.Expr) and all(not isinstance(n, ast.Expr) for n in tree.body[1:])
    revision = path.name.split("_")[0]
    history = [line for line in cli("history").out.splitlines() if f"-> {revision}" in line]
    shown = [line for line in cli("showmigrations", "--url", url).out.splitlines() if revision in line]
    return path, revision, history, shown


@pytest.mark.parametrize("template", HOSTILE)
def test_any_message_is_a_literal_and_round_trips(cli, migrations_copy, db_url, tmp_path, template):
    canary = tmp_path / "pwned"
    message = template.format(canary=canary)
    path, revision, history, shown = write_and_read_back(cli, db_url, message)
    assert history == [f"{HEAD} -> {revision} (head), {message}"]
    assert shown == [f"[ ] {revision}  {message} (head)"]
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).split("\n\n")[0] == message
    assert not canary.exists()  # the commands above imported the revision: nothing ran


@pytest.mark.parametrize("message", REFUSED)
def test_a_message_that_is_not_one_printable_line_is_refused(cli, migrations_copy, message):
    before = sorted((migrations_copy / "versions").iterdir())
    assert_one_line(cli("makemigrations", "--empty", "-m", message), "message")
    assert sorted((migrations_copy / "versions").iterdir()) == before


def test_the_template_escapes_for_plain_alembic_too():
    """The literal itself: whatever the text (control characters, surrogates), it reads back as is."""
    for text in ["a\nb", "\x00\x1b", "\udcff\ud800", '\\"""\\', "\u2028\u202e"]:
        assert ast.literal_eval('"""' + scripts.docstring(text) + '"""') == text


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40))
def test_generated_messages_are_refused_or_round_trip(cli, migrations_copy, db_url, message):
    assert ast.literal_eval('"""' + scripts.docstring(message) + '"""') == message
    versions = migrations_copy / "versions"
    before = set(versions.iterdir())
    made = cli("makemigrations", "--empty", "-m", message)
    try:
        if made.status != 0:
            assert_one_line(made)
            assert set(versions.iterdir()) == before
            return
        path = Path(made.out.strip())
        revision = path.name.split("_")[0]
        history = [line for line in cli("history").out.splitlines() if f"-> {revision}" in line]
        assert history == [f"{HEAD} -> {revision} (head), {message.strip()}"]
        shown = [line for line in cli("showmigrations", "--url", db_url).out.splitlines() if revision in line]
        assert shown == [f"[ ] {revision}  {message.strip()} (head)"]
    finally:
        for extra in set(versions.iterdir()) - before:
            if extra.is_file():
                extra.unlink()
        scripts.scripts.cache_clear()
