#!/usr/bin/env python
"""Benchmark: a no-op ``migrate`` (database already at head) against the import floor.

    python bench/noop_migrate.py [--runs 5] [--warmup 1] [--revisions 1000]

Four cases, timed as whole subprocesses in interleaved rounds (floor, lean
floor, no-op with the generated history, no-op with the app's history,
floor, ...), after
one untimed warm-up round:

* floor: ``python -c "import sqlalchemy, alembic, psycopg2"``, what any
  command pays to start Python and import its libraries;
* lean floor: the same imports made as the command line makes them (Mako's
  pygments hook blocked, the garbage collector off and then frozen), so
  the ratios to it show what the command does beyond its imports;
* ``python -m myapp.db migrate --url URL`` with a generated history of
  ``--revisions`` (default 1000) linear revisions (MYAPP_MIGRATIONS_DIR):
  the package's own revision files copied unchanged, then cheap
  no-schema-change revisions (``COMMENT ON TABLE networks IS '...'``, see
  bench/_common.generate_history);
* the same no-op migrate with the app's own history (myapp/db/migrations,
  however many revisions it holds; the table says), for reference.

Each migrate run gets a fresh database cloned (untimed, CREATE DATABASE ...
TEMPLATE) from a template that ``migrate`` brought to head once, before the
timing (that one migrate's time is reported on stderr); each run is checked to have said "No migrations to apply." and to
leave the version table at head. Prints medians (and min/max), the ratios to
the floor and the seconds above the floor, all measured in the same rounds.

The server is a throwaway embedded PostgreSQL in a temporary directory, or
the server of MYAPP_BENCH_ADMIN_URL if that is set (databases created there
are dropped at the end).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import _common as c  # noqa: E402
from _common import MIGRATIONS_VARIABLE  # noqa: E402


def noop_case(dbs, env, template, head, label):
    def prepare():
        return c.myapp_db("migrate", "--url", dbs.create(template=template)), env

    def check(argv, proc):
        url = argv[-1]
        if "No migrations to apply." not in proc.stderr:
            raise SystemExit(f"bench: {label} was not a no-op:\n{proc.stderr}")
        got = c.version_of(url)
        if got != [head]:
            raise SystemExit(f"bench: {label} left the database at {got}, not at [{head}]")
        dbs.drop(url)

    return c.Case(label, prepare, check)


def head_template(dbs, env, head, label):
    """A database brought to head by one (untimed here, but reported) migrate; return its name."""
    url = dbs.create(prefix="bench_template")
    elapsed, _ = c.run_command(c.myapp_db("migrate", "--url", url), env)
    if c.version_of(url) != [head]:
        raise SystemExit(f"bench: the template for {label} did not reach head")
    sys.stderr.write(f"  template for {label}: migrate from empty took {elapsed:.3f}s (first run)\n")
    return c.sa.make_url(url).database


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--revisions", type=int, default=1000, help="size of the generated history (default 1000)"
    )
    args = parser.parse_args(argv)

    with c.workspace() as tmp, c.admin_server(tmp) as admin_url:
        dbs = c.Databases(admin_url)
        try:
            generated = tmp / "migrations"
            gen_head = c.generate_history(generated, args.revisions)
            base = c.base_env(tmp / "pycache")
            gen_env = dict(base, **{MIGRATIONS_VARIABLE: str(generated)})
            own = len(c.package_revisions())
            app_head = c.package_head()

            gen_label = f"no-op migrate, generated ({args.revisions} rev)"
            app_label = f"no-op migrate, app history ({own} rev)"
            gen_template = head_template(dbs, gen_env, gen_head, gen_label)
            app_template = head_template(dbs, base, app_head, app_label)

            floor = c.Case("floor: import sqlalchemy, alembic, psycopg2", lambda: (c.FLOOR_ARGV, base))
            lean = c.Case("lean floor: the same, as the CLI imports", lambda: (c.LEAN_FLOOR_ARGV, base))
            gen = noop_case(dbs, gen_env, gen_template, gen_head, gen_label)
            app = noop_case(dbs, base, app_template, app_head, app_label)

            c.header("no-op migrate (database at head) vs the import floor", args.runs, args.warmup,
                     dbs.server_version())
            c.run_interleaved([floor, lean, gen, app], args.runs, args.warmup)

            print()
            c.print_table([floor, lean, gen, app])
            print()
            print(c.ratio_line(gen, floor, f"ratio no-op ({args.revisions} rev) / floor"))
            print(c.ratio_line(app, floor, f"ratio no-op ({own} rev) / floor"))
            print(c.ratio_line(gen, lean, f"ratio no-op ({args.revisions} rev) / lean floor"))
            print(c.ratio_line(app, lean, f"ratio no-op ({own} rev) / lean floor"))
            print(c.ratio_line(gen, app, f"ratio no-op ({args.revisions} rev) / no-op ({own} rev)"))
            print(c.difference_line(gen, floor, f"no-op ({args.revisions} rev) above floor"))
            print(c.difference_line(app, floor, f"no-op ({own} rev) above floor"))
            return 0
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    sys.exit(main())
