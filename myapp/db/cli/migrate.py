"""``migrate``: the steps (--plan, --check) and drift on stdout, SQL (--sql) on stdout, progress on stderr."""

import sys

from . import targets
from .common import add_limits, with_app

HELP = "Move the database to TARGET (default: head), upgrading or downgrading."


def add_arguments(p) -> None:
    p.add_argument("target", nargs="?", default="head",
                   help="revision id or unique prefix, 'head', 'zero', or relative ('-1', '+2')")
    p.add_argument("--plan", action="store_true", help="print the steps; change nothing")
    p.add_argument("--sql", action="store_true", help="print the SQL of the steps without connecting")
    p.add_argument("--from", dest="start", metavar="REV",
                   help="with --sql: the revision the database is at (default: base)")
    p.add_argument("--fake", action="store_true", help="record TARGET as applied without running anything")
    p.add_argument("--check", action="store_true", help="exit 1 if any migration is unapplied; change nothing")
    p.add_argument("--step", action="store_true", help="commit after each revision instead of once at the end")
    p.add_argument("--accept-edited", action="append", default=[], metavar="REV",
                   help="accept that applied revision REV's file was edited: record its new checksum")
    p.add_argument("--no-data", dest="data", action="store_false",
                   help="run the schema steps only; the revisions' data steps stay pending")
    p.add_argument("--data-only", action="store_true",
                   help="run only the pending data steps of the revisions already applied")
    add_limits(p)
    targets.add_arguments(p)


def run(args) -> int:
    from ..commands.migrate import migrate
    from ..errors import UsageError
    from .common import out, progress, settings

    if args.sql and (len(args.schemas) > 1 or args.all_schemas or args.urls or args.all_databases):
        raise UsageError("--sql renders one target: give at most one --schema, and no --all-schemas or --urls")
    if not args.sql and targets.wanted(args):
        return targets.run(args)
    if args.jobs != 1 or args.json:
        raise UsageError("-j and --json go with many targets: --schema, --all-schemas, --urls or --all-databases")
    result = migrate(
        settings(args), args.target, schema=args.schemas[0] if args.schemas else None, plan=args.plan,
        sql=args.sql, start=args.start, fake=args.fake, check=args.check, step=args.step, progress=progress(args),
        accept_edited=args.accept_edited, data=args.data, data_only=args.data_only,
    )
    if args.sql:
        sys.stdout.write(result.sql)
        return 0
    if args.plan or args.check:
        from ..autogenerate.describe import describe_diff
        from ..runtime import data as data_steps
        from ..runtime.executor import kinds

        steps = result.plan.steps
        if not steps and not result.data_steps:
            out("No data steps pending." if args.data_only else "No migrations to apply.")
        marks = {"non-atomic": " [non-atomic]", "autocommit": " [autocommit block]"}
        for s, kind, alembic_step in zip(steps, kinds(result.plan), result.plan.alembic_steps):
            has_data = data_steps.function(alembic_step.revision, s.upgrade) is not None
            data = (" [data]" if args.data else " [data left pending]") if has_data else ""
            out(f"{'Apply' if s.upgrade else 'Unapply'} {s.revision} ({s.message}){marks.get(kind, '')}{data}")
        for s in result.data_steps:
            out(f"Run the data step of {s.revision} ({s.message})")
        for diff in result.drift:
            out(describe_diff(diff))
        if result.drift:
            sys.stderr.write(with_app(args,
                f"The database is at head, but {len(result.drift)} change(s) in the models or the "
                "registry have no migration; run 'python -m myapp.db makemigrations -m MESSAGE'\n"
            ))
        if result.data_pending and not args.data_only:
            sys.stderr.write(f"{len(result.data_pending)} data step(s) pending ({', '.join(result.data_pending)}): "
                             "'migrate --data-only' runs them\n")
        return 1 if (args.check and (result.pending or result.drift)) else 0
    return 0
