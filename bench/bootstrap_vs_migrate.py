#!/usr/bin/env python
"""Benchmark: ``bootstrap`` vs ``migrate`` on an empty database.

    python bench/bootstrap_vs_migrate.py [--runs 5] [--warmup 1] [--revisions 500]

Both commands run as whole subprocesses, ``python -m myapp.db bootstrap|migrate
--url URL``, each on a fresh, empty database (created untimed, from
template0), in interleaved rounds (bootstrap, migrate, bootstrap, migrate...)
so that drift in the machine's speed hits both alike. One untimed warm-up
round comes first (bytecode and OS caches). Two histories:

(a) the app's own history: the package's migrations directory
    (myapp/db/migrations, however many revisions it holds; the table says),
    MYAPP_MIGRATIONS_DIR unset;
(b) a generated history of ``--revisions`` (default 500) linear revisions in
    a temporary directory given as MYAPP_MIGRATIONS_DIR: env.py and
    script.py.mako copied from the package, then the package's own revision
    files copied unchanged (they build the whole schema), then cheap but real
    revisions up to N that change no schema, each running ``COMMENT ON TABLE
    networks IS 'bench revision i of N'`` (the last one sets the comment
    back to NULL). So both commands end with the same schema and the same
    version row, and the comparison is fair: ``bootstrap`` builds the
    schema from the ORM with create_all and stamps head (it still has to read
    all N revision files to find head), while ``migrate`` runs all N
    revisions in one transaction.

After every run the version table is checked to hold the head; after the
timed runs the schema of the last bootstrapped and the last migrated database
are compared (myapp.db.catalog.snapshot.schema_snapshot, as the tests do).

The server is a throwaway embedded PostgreSQL in a temporary directory, or
the server of MYAPP_BENCH_ADMIN_URL if that is set (databases created there
are dropped at the end). Prints medians (and min/max) and the ratio
migrate/bootstrap measured in the same rounds.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import _common as c  # noqa: E402
from _common import MIGRATIONS_VARIABLE  # noqa: E402


def history_cases(dbs, env, head, revisions, label):
    """The bootstrap and migrate cases for one history; the last database of each is kept."""
    kept = {}

    def case(command):
        def prepare():
            return c.myapp_db(command, "--url", dbs.create()), env

        def check(argv, proc):
            url = argv[-1]
            got = c.version_of(url)
            if got != [head]:
                raise SystemExit(f"bench: {command} left the database at {got}, not at [{head}]")
            if command == "migrate":
                applied = sum(1 for line in proc.stderr.splitlines() if line.strip().startswith("Applying"))
                if applied != revisions:
                    raise SystemExit(f"bench: migrate applied {applied} revisions, expected {revisions}")
            if command in kept:
                dbs.drop(kept[command])
            kept[command] = url

        return c.Case(f"{label}: {command}", prepare, check)

    return case("bootstrap"), case("migrate"), kept


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--revisions", type=int, default=500, help="size of the generated history (default 500)"
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

            histories = [
                (f"app history ({own} rev)", base, c.package_head(), own),
                (f"generated ({args.revisions} rev)", gen_env, gen_head, args.revisions),
            ]
            c.header(
                "bootstrap vs migrate from an empty database", args.runs, args.warmup,
                dbs.server_version(),
            )
            results, floors = [], []
            for label, env, head, revisions in histories:
                sys.stderr.write(f"{label}:\n")
                boot, mig, kept = history_cases(dbs, env, head, revisions, label)
                floor = c.Case(f"{label}: floor", lambda env=env: (c.FLOOR_ARGV, env))
                c.run_interleaved([floor, boot, mig], args.runs, args.warmup)
                same = c.snapshot_of(kept["bootstrap"]) == c.snapshot_of(kept["migrate"])
                results.append((boot, mig, same))
                floors.append(floor)

            print()
            c.print_table([case for (boot, mig, _), floor in zip(results, floors) for case in (floor, boot, mig)])
            print()
            for (boot, mig, same), floor in zip(results, floors):
                history = boot.label.split(":")[0]
                print(c.ratio_line(mig, boot, f"ratio migrate/bootstrap, {history}"))
                print(c.difference_line(boot, floor, f"bootstrap above floor, {history}"))
                print(c.difference_line(mig, floor, f"migrate above floor, {history}"))
                above = [(m - f, b - f) for m, b, f in zip(mig.times, boot.times, floor.times)]
                ratio = (mig.median - floor.median) / max(boot.median - floor.median, 1e-3)
                per_round = sorted(m / max(b, 1e-3) for m, b in above)[len(above) // 2]
                print(f"{'work above floor, migrate/bootstrap, ' + history:<44} {ratio:>8.2f}x "
                      f"(median of per-round ratios {per_round:.2f}x)")
            for boot, mig, same in results:
                print(
                    f"schema check, {boot.label.split(':')[0]}: bootstrap and migrate give "
                    f"{'identical' if same else 'DIFFERENT'} schemas"
                )
            return 0 if all(same for _, _, same in results) else 1
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    sys.exit(main())
