"""Garbage for every argument and environment variable of the CLI: never a traceback, never exit 0,
the database unchanged.

Each example garbles one input of one command against a database at head (in
this process, so hundreds of examples take seconds). The examples are the same
on every run (``derandomize``); set MYAPP_FUZZ_RANDOM=1 for new ones and
MYAPP_FUZZ_EXAMPLES=N for more.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from conftest import run_process
from dbhelpers import REVISIONS, assert_one_line, snapshot, version
from myapp.db import plugins
from myapp.db.runtime import embedded

COMMANDS = ["bootstrap", "migrate", "showmigrations", "current", "heads", "history", "makemigrations",
            "plugins", "refresh", "embedded"]
#: Commands that read or change the database given with --url.
DATABASE_COMMANDS = [["migrate"], ["migrate", "--plan"], ["migrate", "--check"], ["showmigrations"],
                     ["current"], ["bootstrap"], ["makemigrations", "--check"], ["refresh"]]
EXCLUSIVE = ["--plan", "--sql", "--fake", "--check"]

text = st.text(st.characters(exclude_categories=()), max_size=30)  # surrogates and controls too


def _environment_can_hold(t: str) -> bool:
    try:
        os.fsencode(t)  # surrogates only as undecodable bytes (\udc80-\udcff), as the OS gives them
    except UnicodeEncodeError:
        return False
    return "\x00" not in t


env_text = text.filter(_environment_can_hold)
#: A part of a URL that cannot move its host elsewhere (no name lookups of garbage hosts).
url_part = st.text(st.characters(exclude_categories=(), exclude_characters="/@:?#[]%"), max_size=12)


def long_options() -> set:
    """Every long option of the CLI, the top level's and each command's."""
    from myapp.db.cli import parser

    top = parser()
    found = set(top._option_string_actions)
    for action in top._subparsers._group_actions:
        for sub in action.choices.values():
            found.update(sub._option_string_actions)
    return {o for o in found if o.startswith("--")}


OPTIONS = long_options()


def valid_target(t: str) -> bool:
    t = t.strip()
    return (t in ("head", "heads", "zero", "base") or bool(re.fullmatch(r"[+-]\d+", t))
            or (bool(t) and any(r.startswith(t) for r in REVISIONS)))


def not_an_import_path(t: str) -> bool:
    """Garbage that cannot import anything: its module part is no dotted identifier."""
    module = t.partition(":")[0]
    return not all(part.isidentifier() for part in module.split("."))


garbage_url = st.one_of(
    text,
    st.builds(lambda u, p, port, db: f"postgresql://{u}:{p}@127.0.0.1:{port}/{db}",
              url_part, url_part, url_part.filter(lambda t: not t.isdigit()), url_part),
    st.builds(lambda scheme, rest: f"{scheme}://{rest}", st.sampled_from(["mysql", "sqlite", "postgresql+x", "pg"]),
              text),
)


@st.composite
def garbage(draw):
    """(argv, environment) with one garbled input; {URL} stands for the database at head."""
    kind = draw(st.sampled_from([
        "target", "from", "url", "env_url", "app", "env_app", "command", "option", "exclusive",
        "embedded", "refresh", "message", "migrations_dir", "data_dir", "load_plugins", "disable_plugins",
    ]))
    command = draw(st.sampled_from(DATABASE_COMMANDS))
    if kind == "target":
        target = draw(text.filter(lambda t: not valid_target(t) and not t.startswith("-")))
        return [*draw(st.sampled_from([["migrate"], ["migrate", "--plan"], ["migrate", "--fake"]])), target], {}
    if kind == "from":
        start = draw(text.filter(lambda t: not valid_target(t) and not t.startswith("-")))
        return ["migrate", "--sql", "--from", start], {}
    if kind == "url":
        return [*command, "--url", draw(garbage_url)], {"url": False}
    if kind == "env_url":
        return command, {"url": False, "MYAPP_DATABASE_URL": draw(garbage_url.filter(
            lambda t: _environment_can_hold(t) and t.strip()))}
    if kind == "app":
        return [*command, "--app", draw(text.filter(lambda t: t and not_an_import_path(t)))], {}
    if kind == "env_app":
        return command, {"MYAPP_DB_APP": draw(env_text.filter(lambda t: t and not_an_import_path(t)))}
    if kind == "command":
        return [draw(text.filter(lambda t: t not in COMMANDS and not t.startswith("-")))], {}
    if kind == "option":  # argparse takes any unique prefix of an option: none of those
        option = "--" + draw(text.filter(lambda t: t and not any(o.startswith("--" + t) for o in OPTIONS)))
        return [*command, option], {}
    if kind == "exclusive":
        return ["migrate", *draw(st.lists(st.sampled_from(EXCLUSIVE), min_size=2, max_size=4, unique=True))], {}
    if kind == "embedded":
        return ["embedded", draw(text.filter(lambda t: t not in ("status", "stop") and not t.startswith("-")))], {}
    if kind == "refresh":
        names = draw(st.lists(text.filter(lambda t: t and not t.startswith("-")), min_size=1, max_size=3))
        assume(not set(names) & {"daily_observations", "public.daily_observations"})
        return ["refresh", *names], {}
    if kind == "message":  # what no revision may say: not one line of printable text
        bad = draw(st.characters(categories=["Cc", "Cs", "Zl", "Zp"]))
        message = draw(text) + bad + draw(text)
        return ["makemigrations", "--empty", "-m", message], {"url": False}
    if kind == "migrations_dir":  # for commands that read the revisions (refresh does not)
        command = draw(st.sampled_from([c for c in DATABASE_COMMANDS if c != ["refresh"]]))
        folder = draw(env_text.filter(lambda t: t and not (Path(t) / "versions").is_dir()))
        return command, {"MYAPP_MIGRATIONS_DIR": folder}
    if kind == "data_dir":
        folder = draw(st.one_of(
            st.builds(lambda t, c: t + c, env_text, st.characters(categories=["Cc"]).filter(lambda c: c != "\x00")),
            st.builds(lambda t: "{FILE}/" + t, env_text),
        ))
        return draw(st.sampled_from([["current"], ["embedded", "status"], ["embedded", "stop"]])), \
            {"url": False, "MYAPP_DATA_DIR": folder}
    variable = plugins.LOAD_VARIABLE if kind == "load_plugins" else plugins.DISABLE_VARIABLE
    names = draw(env_text.filter(lambda t: any(n.strip() for n in t.split(","))))
    return command, {variable: names}


@settings(
    max_examples=int(os.environ.get("MYAPP_FUZZ_EXAMPLES", "60")),
    derandomize=not os.environ.get("MYAPP_FUZZ_RANDOM"),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)
@given(case=garbage())
def test_garbage_never_succeeds_never_tracebacks_and_changes_nothing(
        cli, migrations_copy, head_url, engine_for, tmp_path, monkeypatch, case):
    words, env = case
    engine = engine_for(head_url)
    before = snapshot(engine)
    versions = sorted((migrations_copy / "versions").iterdir())
    work = tmp_path / "cwd"  # where anything made by mistake from a relative path would land
    work.mkdir(exist_ok=True)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    argv, env = list(words), dict(env)
    if env.pop("url", True):
        argv += ["--url", head_url]
    with monkeypatch.context() as m:
        m.chdir(work)
        m.setenv("MYAPP_DATA_DIR", str(tmp_path / "never-started"))
        for name, value in env.items():
            m.setenv(name, value.replace("{FILE}", str(a_file)))
        plugins.reset()
        result = cli(*argv)
        plugins.reset()
    try:
        assert_one_line(result)
        assert snapshot(engine) == before and version(engine) == [REVISIONS[-1]]
        assert sorted((migrations_copy / "versions").iterdir()) == versions
        assert not (tmp_path / "never-started").exists() and not list(work.iterdir())
    finally:  # a server started by mistake is stopped, so a failure leaves nothing running
        for made in [tmp_path / "never-started", *work.iterdir()]:
            if (made / "postmaster.pid").exists():
                embedded.stop(made)


@pytest.mark.parametrize("argv", [
    ["migrate", ""], ["migrate", "  "], ["migrate", "--sql", "--from", ""], ["migrate", "\udcff"],
    ["refresh", "\x00"], ["migrate", "--url", "\udcff"], ["--url", "postgresql://\x00@/x", "current"],
])
def test_garbage_found_before(cli, head_url, engine_for, argv):
    """Inputs the fuzzing found, kept as plain cases."""
    engine = engine_for(head_url)
    before = snapshot(engine)
    url = [] if "--url" in argv else ["--url", head_url]
    assert_one_line(cli(*argv, *url))
    assert snapshot(engine) == before


@pytest.mark.parametrize("argv, env", [
    (["migrate", "\udcff\udcfe"], {}),                       # bytes that are not UTF-8, as argv carries them
    (["current"], {"MYAPP_DATABASE_URL": "postgresql://\udcff:x@127.0.0.1:1/\udcfe"}),
    (["makemigrations", "--empty", "-m", "ok \udcff"], {}),
    (["showmigrations"], {"MYAPP_DB_APP": "\udcff:app"}),
])
def test_garbage_in_a_real_process(head_url, migrations_copy, argv, env):
    url = [] if "MYAPP_DATABASE_URL" in env else ["--url", head_url]
    done = run_process(*argv, *url, env=env)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr and len([x for x in done.stderr.splitlines() if ": error: " in x]) == 1
