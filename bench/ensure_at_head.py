#!/usr/bin/env python
"""Benchmark: what ``myapp.db.ensure_at_head`` costs an app's start-up, above the connect it makes.

    python bench/ensure_at_head.py [--runs 10] [--calls 20] [--revisions 200]

Each run is a fresh Python process that, like an app at start-up, has
imported SQLAlchemy and psycopg2 and made its Engine, whose first connection
(SQLAlchemy's dialect initialisation) is not timed. It then times, in turn:

* ``connect``: ``engine.connect()`` and close, the floor of any check;
* ``imports``: ``import myapp.db`` and the guard's modules (nothing of Alembic),
  which the first call would otherwise pay;
* ``guard, first call``: ``ensure_at_head(engine)``: reads the revision files'
  text, connects and reads the version table;
* ``guard, later calls``: the median of ``--calls`` more calls (the revision
  graph is then kept while no file changes);
* ``connect`` again, medians of ``--calls`` (the floor at the same moment).

Two histories: the app's own and a generated one of ``--revisions`` revisions
(bench/_common.py), each with a database at head. Printed: medians over the
runs and the cost above the connect. Goal: at most 5 ms above the connect.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import _common as c  # noqa: E402

CHILD = r'''
import json, statistics, sys, time
import sqlalchemy as sa
import psycopg2  # noqa: F401
url, calls = sys.argv[1], int(sys.argv[2])
engine = sa.create_engine(url, poolclass=sa.NullPool)
engine.connect().close()  # the app's engine, already initialised


def connect():
    started = time.perf_counter()
    engine.connect().close()
    return time.perf_counter() - started


started = time.perf_counter()
import myapp.db
from myapp.db.runtime import guard  # what the first call would import
imports = time.perf_counter() - started
first_connect = connect()
started = time.perf_counter()
heads = myapp.db.ensure_at_head(engine)
first = time.perf_counter() - started
later = []
for _ in range(calls):
    started = time.perf_counter()
    myapp.db.ensure_at_head(engine)
    later.append(time.perf_counter() - started)
connects = [connect() for _ in range(calls)]
print(json.dumps({"heads": heads, "imports": imports, "first_connect": first_connect, "first": first,
                  "later": statistics.median(later), "connect": statistics.median(connects),
                  "alembic": any(m.startswith("alembic") for m in sys.modules)}))
'''


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.set_defaults(runs=10)
    parser.add_argument("--calls", type=int, default=20, help="later calls timed per process (default 20)")
    parser.add_argument("--revisions", type=int, default=200, help="size of the generated history (default 200)")
    args = parser.parse_args(argv)

    with c.workspace() as tmp, c.admin_server(tmp) as admin_url:
        dbs = c.Databases(admin_url)
        try:
            base = c.base_env(tmp / "pycache")
            histories = [(label, dict(base, **{c.MIGRATIONS_VARIABLE: str(folder)}), head)
                         for label, folder, head in c.app_and_generated(tmp, args.revisions)]
            prepared = []
            for label, env, head in histories:
                url = dbs.create()
                c.run_command(c.myapp_db("migrate", "--url", url), env)
                prepared.append((label, env, head, url, []))
            print("# ensure_at_head against the connect it makes, in a fresh process each run")
            print(f"# {args.runs} timed runs per history after {args.warmup} warm-up round(s), interleaved")
            print(c.versions_line(dbs.server_version()))
            for round_no in range(args.warmup + args.runs):
                for label, env, head, url, results in prepared:
                    proc = subprocess.run([sys.executable, "-c", CHILD, url, str(args.calls)], env=env,
                                          capture_output=True, text=True)
                    if proc.returncode:
                        raise SystemExit(f"bench: the guard failed:\n{proc.stderr}")
                    found = json.loads(proc.stdout)
                    if found["heads"] != [head] or found["alembic"]:
                        raise SystemExit(f"bench: unexpected result {found}")
                    if round_no >= args.warmup:
                        results.append(found)
                sys.stderr.write(f"  round {round_no + 1}/{args.warmup + args.runs}\n")

            def ms(results, key):
                return statistics.median(r[key] for r in results) * 1000

            print()
            print(f"{'case':<28} {'imports':>9} {'connect':>9} {'1st call':>9} {'later':>9} "
                  f"{'1st above':>10} {'later above':>12}")
            for label, env, head, url, results in prepared:
                above_first = statistics.median((r["first"] - r["first_connect"]) * 1000 for r in results)
                above_later = statistics.median((r["later"] - r["connect"]) * 1000 for r in results)
                print(f"{label:<28} {ms(results, 'imports'):>7.2f}ms {ms(results, 'connect'):>7.2f}ms "
                      f"{ms(results, 'first'):>7.2f}ms {ms(results, 'later'):>7.2f}ms {above_first:>+8.2f}ms "
                      f"{above_later:>+10.2f}ms")
            print("# imports: myapp.db and the guard's modules, once per process; 'above': the call minus the "
                  "connect measured in the same process (the first call against the connect just before it); "
                  "no run imported Alembic")
            return 0
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    sys.exit(main())
