#!/usr/bin/env python
"""Benchmark: a test's database from the pytest plugin (a clone) vs a migrate from empty, and pytest-alembic.

    python bench/test_db.py [--runs 10] [--warmup 1] [--revisions 200] [--no-peer]

What one test pays for its database, in this process, as the plugin's
fixtures pay it: ``myapp_db`` clones the app's template (``CREATE DATABASE ...
TEMPLATE``) and drops it after the test; the alternative is an empty database
(from template0) that ``myapp.db.migrate`` brings to head, then dropped. Both
on the server the plugin starts (a throwaway embedded PostgreSQL, its data in
RAM where there is room), or on MYAPP_BENCH_ADMIN_URL. Two histories: the
app's own, and a generated one of ``--revisions`` revisions (bench/_common.py:
the app's revisions, then COMMENT ON TABLE steps). Rounds are interleaved
(clone, migrate, clone, migrate ...) after untimed warm-up rounds; each
database is checked to be at head before it is dropped.

pytest-alembic (a bench dependency only, installed with pytest 8 into a
folder of its own, as the test suite does) then runs its built-in
``test_upgrade`` on the same histories, through the README's alembic.ini, each
run a pytest process whose ``alembic_engine`` is a fresh empty database from
this plugin (``myapp_db_empty``, on the same server); the figure is the test's
own ``call`` duration from ``--durations``, which leaves out pytest's start-up
and the fixture.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import _common as c  # noqa: E402

from myapp.db import migrate  # noqa: E402
from myapp.db.runtime.guard import current_revisions  # noqa: E402
from myapp.db.testing.databases import Server, Templates  # noqa: E402

PEER_CONFTEST = '''\
import pytest
import sqlalchemy as sa


@pytest.fixture
def alembic_engine(myapp_db_empty):  # a fresh empty database from the myapp_db plugin
    engine = sa.create_engine(myapp_db_empty)
    yield engine
    engine.dispose()
'''


def at_head(server: Server, name: str, head: str) -> None:
    engine = c.sa.create_engine(server.url_for(name), poolclass=c.sa.NullPool)
    try:
        with engine.connect() as conn:
            found = current_revisions(conn)
    finally:
        engine.dispose()
    if found != (head,):
        raise SystemExit(f"bench: database {name} is at {found}, not at {head}")


def clone(server: Server, template: str, head: str):
    started = time.perf_counter()
    name = server.create(template)
    created = time.perf_counter()
    at_head(server, name, head)
    dropping = time.perf_counter()
    server.drop(name)
    return created - started, (created - started) + (time.perf_counter() - dropping)


def migrate_from_empty(server: Server, head: str):
    started = time.perf_counter()
    name = server.create()
    migrate(server.url_for(name), app=c.APP)
    migrated = time.perf_counter()
    at_head(server, name, head)
    dropping = time.perf_counter()
    server.drop(name)
    return migrated - started, (migrated - started) + (time.perf_counter() - dropping)


def use(history: Path) -> None:
    """Point the App at ``history`` (the plugin and migrate read its _MIGRATIONS_DIR variable)."""
    os.environ[c.MIGRATIONS_VARIABLE] = str(history)


def peer_site(tmp: Path):
    target = tmp / "peer-site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", str(target), "pytest>=8,<9", "pytest-alembic==0.13.*", "--no-deps",
                           "iniconfig", "packaging"], capture_output=True, text=True)
    if proc.returncode:
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "pip failed"
    return target, ""


def peer_upgrade(site: Path, project: Path, history: Path, admin_url: str) -> float:
    """One pytest-alembic test_upgrade on a fresh database; its call duration in seconds."""
    project.mkdir(exist_ok=True)
    (project / "alembic.ini").write_text(
        "[alembic]\nscript_location = myapp.db.runtime:scaffold\n"
        f"version_locations = {history / 'versions'}\nmyapp.db.app = myapp.apps:app\n")
    (project / "pytest.ini").write_text("[pytest]\npytest_alembic_include = upgrade\n")
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "conftest.py").write_text(PEER_CONFTEST)  # where pytest-alembic binds its tests
    env = {k: v for k, v in c.base_env(project / "pycache").items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--test-alembic", "--myapp-db-url", admin_url,
                           "-p", "no:cacheprovider", "--durations=0", "-vv"],
                          cwd=project, env=env, capture_output=True, text=True)
    found = re.search(r"^([0-9.]+)s call\s+\S*test_upgrade", proc.stdout, re.M)
    if proc.returncode or not found:
        raise SystemExit(f"bench: pytest-alembic failed:\n{proc.stdout}\n{proc.stderr}")
    return float(found.group(1))


def row(label: str, times, width: int = 58) -> str:
    ms = [t * 1000 for t in times]
    return f"{label:<{width}} {statistics.median(ms):>8.1f}ms {min(ms):>8.1f}ms {max(ms):>8.1f}ms"


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.set_defaults(runs=10)
    parser.add_argument("--revisions", type=int, default=200, help="size of the generated history (default 200)")
    parser.add_argument("--no-peer", action="store_true", help="leave pytest-alembic out")
    args = parser.parse_args(argv)

    configured = os.environ.get(c.ADMIN_URL_VARIABLE)
    server = Server.at(configured) if configured else Server.throwaway()
    templates = Templates(server)
    with c.workspace() as tmp:
        try:
            histories = c.app_and_generated(tmp, args.revisions)
            prepared = []
            for label, history, head in histories:
                use(history)
                started = time.perf_counter()
                template = templates.get(c.APP)  # what the plugin does once per session
                sys.stderr.write(f"{label}: template migrated in {time.perf_counter() - started:.2f}s\n")
                prepared.append((label, history, head, template, {"clone": [], "clone+drop": [],
                                                                  "migrate": [], "migrate+drop": []}))
            with server.engine.connect() as conn:
                version = conn.scalar(c.sa.text("SHOW server_version"))
            print("# a test's database: the plugin's clone vs a migrate from empty (in this process)")
            print(f"# {args.runs} timed rounds after {args.warmup} warm-up round(s), interleaved")
            print(c.versions_line(version, f"server: {server.where}"))
            for round_no in range(args.warmup + args.runs):
                for label, history, head, template, times in prepared:
                    use(history)
                    made, total = clone(server, template, head)
                    migrated, migrated_total = migrate_from_empty(server, head)
                    if round_no >= args.warmup:
                        times["clone"].append(made)
                        times["clone+drop"].append(total)
                        times["migrate"].append(migrated)
                        times["migrate+drop"].append(migrated_total)
                sys.stderr.write(f"  round {round_no + 1}/{args.warmup + args.runs}\n")

            peer = {}
            if not args.no_peer:
                site, why = peer_site(tmp)
                if site is None:
                    print(f"# pytest-alembic: not run ({why})")
                else:
                    admin = server.url.render_as_string(hide_password=False)
                    for label, history, head, template, times in prepared:
                        peer[label] = [peer_upgrade(site, tmp / "peer", history, admin) for _ in range(args.runs)]
                        sys.stderr.write(f"  pytest-alembic test_upgrade, {label}: done\n")

            print()
            print(f"{'case':<58} {'median':>10} {'min':>10} {'max':>10}")
            for label, history, head, template, times in prepared:
                print(row(f"{label}: clone (CREATE DATABASE TEMPLATE)", times["clone"]))
                print(row(f"{label}: clone + drop", times["clone+drop"]))
                print(row(f"{label}: migrate from empty", times["migrate"]))
                print(row(f"{label}: migrate from empty + drop", times["migrate+drop"]))
                if label in peer:
                    print(row(f"{label}: pytest-alembic test_upgrade (call)", peer[label]))
            print()
            for label, history, head, template, times in prepared:
                per_round = statistics.median(m / cl for m, cl in zip(times["migrate+drop"], times["clone+drop"]))
                print(f"{'migrate+drop / clone+drop, ' + label:<58} "
                      f"{statistics.median(times['migrate+drop']) / statistics.median(times['clone+drop']):>9.1f}x "
                      f"(median of per-round ratios {per_round:.1f}x)")
                if label in peer:
                    print(f"{'pytest-alembic test_upgrade / migrate, ' + label:<58} "
                          f"{statistics.median(peer[label]) / statistics.median(times['migrate']):>9.1f}x")
            (_, _, _, _, small), (_, _, _, _, large) = prepared
            print(f"{'clone, generated / app history':<58} "
                  f"{statistics.median(large['clone']) / statistics.median(small['clone']):>9.2f}x")
            return 0
        finally:
            os.environ.pop(c.MIGRATIONS_VARIABLE, None)
            templates.close()
            server.close()


if __name__ == "__main__":
    sys.exit(main())
