"""``migrate``: the steps (--plan, --check) and drift on stdout, SQL (--sql) on stdout, progress on stderr."""

import sys

from .common import add_limits

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
    add_limits(p)


def run(args) -> int:
    from ..autogenerate.describe import describe_diff
    from ..commands.migrate import migrate
    from ..runtime.executor import kinds
    from .common import out, progress, settings

    result = migrate(
        settings(args), args.target, plan=args.plan, sql=args.sql, start=args.start,
        fake=args.fake, check=args.check, step=args.step, progress=progress(args),
        accept_edited=args.accept_edited,
    )
    if args.sql:
        sys.stdout.write(result.sql)
        return 0
    if args.plan or args.check:
        steps = result.plan.steps
        if not steps:
            out("No migrations to apply.")
        marks = {"non-atomic": " [non-atomic]", "autocommit": " [autocommit block]"}
        for s, kind in zip(steps, kinds(result.plan)):
            out(f"{'Apply' if s.upgrade else 'Unapply'} {s.revision} ({s.message}){marks.get(kind, '')}")
        for diff in result.drift:
            out(describe_diff(diff))
        if result.drift:
            sys.stderr.write(
                f"The database is at head, but {len(result.drift)} change(s) in the models or the "
                "registry have no migration; run 'python -m myapp.db makemigrations -m MESSAGE'\n"
            )
        return 1 if (args.check and (steps or result.drift)) else 0
    return 0
