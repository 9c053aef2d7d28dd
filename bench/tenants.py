#!/usr/bin/env python
"""Benchmark: migrating 1,000 tenant schemas (``migrate --all-schemas``) at once.

    python bench/tenants.py [--tenants 1000] [--runs 3] [--apply-runs 1] [--jobs 1,2,4] [--sizes 250,500]

One database holds ``--tenants`` tenant schemas, each bootstrapped at head
with myapp's own schema (5 tables, their indexes, 2 views, a function and a
materialized view). It is built once, untimed, and every timed run gets a
fresh clone of it (``CREATE DATABASE ... TEMPLATE``, untimed).

1. **No-op**: every tenant already at head. Two pairs, timed in interleaved
   rounds (``--runs``):

   * in this process: ``myapp.db.migrate_all(url, all_schemas=True,
     schemas_query=...)`` against the floor, 1,000 ``SELECT version_num FROM
     "tenant".alembic_version`` over one connection (already open);
   * as whole commands: ``python -m myapp.db migrate --all-schemas
     --schemas-query SQL`` against ``python -c`` importing sqlalchemy, alembic
     and psycopg2, connecting, and running the same 1,000 SELECTs.

   Each no-op is checked to report every tenant unchanged.

2. **One new revision for every tenant** (``op.add_column`` on ``networks``),
   ``python -m myapp.db migrate --all-schemas -j N`` for each N of ``--jobs``,
   then with ``-j 1`` on the first 250 and 500 tenants (``--sizes``, the
   schemas query's LIMIT) to show how the time grows with the tenant count.
   Each run is checked to leave every tenant it was given at the new head.

The server is a throwaway embedded PostgreSQL in a temporary directory, or
MYAPP_BENCH_ADMIN_URL's (databases created there are dropped at the end).
"""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import _common as c  # noqa: E402
from _common import MIGRATIONS_VARIABLE  # noqa: E402

PREFIX = "tenant_"
#: The tenants' names, in order; LIMIT picks the first N.
QUERY = f"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{PREFIX}%' ORDER BY nspname"

NEW_REVISION = '''"""bench: a note on networks, for every tenant"""
from alembic import op
import sqlalchemy as sa

revision = "be9c4e000001"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("networks", sa.Column("bench_note", sa.Text))


def downgrade():
    op.drop_column("networks", "bench_note")
'''
NEW_HEAD = "be9c4e000001"

#: 1,000 SELECTs over one connection: the floor of reading every tenant's version.
FLOOR_SELECTS = """
import sys, sqlalchemy as sa, alembic, psycopg2
url, count = sys.argv[1], int(sys.argv[2])
engine = sa.create_engine(url, poolclass=sa.NullPool)
with engine.connect() as conn:
    quote = conn.dialect.identifier_preparer.quote
    for i in range(count):
        conn.exec_driver_sql(f"SELECT version_num FROM {quote('%s%04d' % (sys.argv[3], i))}.alembic_version").all()
"""


def tenant(i: int) -> str:
    return f"{PREFIX}{i:04d}"


def _bootstrap_slice(args) -> None:
    url, names = args
    import sqlalchemy as sa

    import myapp.db

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    settings = myapp.db.Settings.resolve(engine)
    for name in names:
        myapp.db.bootstrap(settings, schema=name)
    engine.dispose()


def build_template(dbs: c.Databases, count: int) -> str:
    """A database holding ``count`` tenants at head; return its name."""
    url = dbs.create(prefix="bench_tenants")
    names = [tenant(i) for i in range(count)]
    started = time.perf_counter()
    slices = [(url, names[i::2]) for i in range(2)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_bootstrap_slice, slices)
    sys.stderr.write(f"  template: {count} tenants bootstrapped in {time.perf_counter() - started:.1f} s\n")
    return c.sa.make_url(url).database


def versions(url: str, count: int) -> dict:
    """Each of the first ``count`` tenants' versions, read in one query."""
    engine = c.sa.create_engine(url, poolclass=c.sa.NullPool)
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            union = " UNION ALL ".join(
                f"SELECT '{tenant(i)}', version_num FROM {quote(tenant(i))}.alembic_version" for i in range(count))
            return dict(conn.exec_driver_sql(union).all())
    finally:
        engine.dispose()


def in_process_noop(url: str, count: int, runs: int, warmup: int):
    """(migrate_all seconds, floor seconds) per round, interleaved, in this process."""
    import sqlalchemy as sa

    from myapp.db import migrate_all

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    ours, floor = [], []
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            statements = [f"SELECT version_num FROM {quote(tenant(i))}.alembic_version" for i in range(count)]
            for round_no in range(warmup + runs):
                started = time.perf_counter()
                report = migrate_all(url, all_schemas=True, schemas_query=QUERY)
                mine = time.perf_counter() - started
                if report.count("unchanged") != count:
                    raise SystemExit(f"bench: the no-op was not one: {report.summary()}")
                started = time.perf_counter()
                for statement in statements:
                    conn.exec_driver_sql(statement).all()
                conn.rollback()
                theirs = time.perf_counter() - started
                if round_no >= warmup:
                    ours.append(mine)
                    floor.append(theirs)
                sys.stderr.write(f"  in-process round {round_no + 1}: migrate_all {mine:.3f}s, "
                                 f"{count} SELECTs {theirs:.3f}s\n")
    finally:
        engine.dispose()
    return ours, floor


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.set_defaults(runs=3)
    parser.add_argument("--tenants", type=int, default=1000, help="tenant schemas (default 1000)")
    parser.add_argument("--jobs", default="1,2,4", help="the -j values to apply the new revision with")
    parser.add_argument("--sizes", default="250,500", help="smaller tenant counts, with -j 1, for the growth")
    parser.add_argument("--apply-runs", type=int, default=1, help="timed runs of each apply case (default 1)")
    args = parser.parse_args(argv)
    jobs = [int(j) for j in args.jobs.split(",") if j]
    sizes = [int(s) for s in args.sizes.split(",") if s] + [args.tenants]

    with c.workspace() as tmp, c.admin_server(tmp) as admin_url:
        dbs = c.Databases(admin_url)
        try:
            template = build_template(dbs, args.tenants)
            template_url = admin_url.set(database=template).render_as_string(hide_password=False)
            base = c.base_env(tmp / "pycache")
            migrations = tmp / "migrations"
            shutil.copytree(c.PACKAGE_MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
            (migrations / "versions" / f"{NEW_HEAD}_bench_note.py").write_text(
                NEW_REVISION.format(down=c.package_head()))
            with_new = dict(base, **{MIGRATIONS_VARIABLE: str(migrations)})

            # -- 1. no-op ---------------------------------------------------------------------
            ours, floor = in_process_noop(template_url, args.tenants, args.runs, args.warmup)

            def noop_check(argv, proc):
                if f"{args.tenants} unchanged" not in proc.stdout:
                    raise SystemExit(f"bench: the no-op command was not one:\n{proc.stdout[-500:]}")

            noop = c.Case(f"no-op migrate --all-schemas ({args.tenants})",
                          lambda: (c.myapp_db("migrate", "--url", template_url, "--all-schemas",
                                              "--schemas-query", QUERY), base), noop_check)
            selects = c.Case(f"python -c: connect + {args.tenants} SELECTs",
                             lambda: ([sys.executable, "-c", FLOOR_SELECTS, template_url, str(args.tenants), PREFIX],
                                      base))
            c.run_interleaved([noop, selects], args.runs, args.warmup)

            # -- 2. one new revision for every tenant -------------------------------------------
            apply_cases = []

            def apply_case(count: int, j: int) -> c.Case:
                query = QUERY + (f" LIMIT {count}" if count != args.tenants else "")

                def prepare():
                    url = dbs.create(template=template)
                    return c.myapp_db("migrate", "--url", url, "--all-schemas", "--schemas-query", query,
                                      "-j", str(j)), with_new

                def check(argv, proc):
                    url = argv[argv.index("--url") + 1]
                    found = versions(url, args.tenants)
                    moved = sorted(t for t, v in found.items() if v == NEW_HEAD)
                    if moved != [tenant(i) for i in range(count)] or f"{count} applied" not in proc.stdout:
                        raise SystemExit(f"bench: -j {j} on {count} tenants moved {len(moved)} of them")
                    dbs.drop(url)

                return c.Case(f"apply 1 revision, {count} tenants, -j {j}", prepare, check)

            for j in jobs:
                apply_cases.append(apply_case(args.tenants, j))
            growth = [apply_case(n, 1) for n in sizes if n != args.tenants]
            c.run_interleaved(apply_cases + growth, args.apply_runs, warmup=0)

            # -- figures --------------------------------------------------------------------------
            c.header(f"{args.tenants} tenant schemas: a no-op --all-schemas, and one revision applied to all",
                     args.runs, args.warmup, dbs.server_version())
            print(f"# apply cases: {args.apply_runs} timed run(s) each, no warm-up; 2 CPUs means -j above 2 "
                  "shares them")
            print()
            print(f"{'in-process case':<44} {'median':>9} {'min':>9} {'max':>9}")
            for label, times in ((f"migrate_all(all_schemas) ({args.tenants})", ours),
                                 (f"{args.tenants} SELECTs over one connection", floor)):
                print(f"{label:<44} {statistics.median(times):>8.3f}s {min(times):>8.3f}s {max(times):>8.3f}s")
            per_round = statistics.median(a / b for a, b in zip(ours, floor))
            print(f"{'ratio no-op / SELECTs (in-process)':<44} "
                  f"{statistics.median(ours) / statistics.median(floor):>8.2f}x "
                  f"(median of per-round ratios {per_round:.2f}x)")
            print()
            c.print_table([noop, selects])
            print(c.ratio_line(noop, selects, "ratio no-op / SELECTs (whole commands)"))
            print()
            by_size = {n: case for n, case in zip([n for n in sizes if n != args.tenants], growth)}
            by_size[args.tenants] = apply_cases[0] if jobs and jobs[0] == 1 else None
            c.print_table(apply_cases + growth)
            print()
            one = apply_cases[0]
            for case in apply_cases[1:]:
                print(c.ratio_line(case, one, f"ratio {case.label.split(', ')[-1]} / {one.label.split(', ')[-1]}"))
            print()
            print(f"{'growth with -j 1':<44} {'seconds':>9} {'ms/tenant':>10} {'ms/tenant added':>16}")
            previous = None
            for n in sorted(k for k, v in by_size.items() if v is not None):
                seconds = by_size[n].median
                added = "" if previous is None else f"{(seconds - previous[1]) / (n - previous[0]) * 1000:>16.1f}"
                print(f"{str(n) + ' tenants':<44} {seconds:>8.3f}s {seconds / n * 1000:>10.1f} {added}")
                previous = (n, seconds)
            return 0
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    sys.exit(main())
