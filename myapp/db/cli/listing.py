"""``showmigrations``, ``current``, ``heads`` and ``history``."""

import sys

SHOWMIGRATIONS = "List every revision, [X] applied or [ ] not, head and current marked."
CURRENT = "Show the revision the database is at."
HEADS = "Show the head revision(s) of the migration history."
HISTORY = "Show the migration history, newest first."


def add_schema(parser) -> None:
    parser.add_argument("--schema", metavar="NAME", help="the tenant schema to look at (default: the database's own)")


def showmigrations(args) -> int:
    from ..commands.listing import showmigrations
    from .common import out, progress, settings

    for row in showmigrations(settings(args), schema=args.schema, progress=progress(args)):
        marks = [m for m, on in (("head", row.head), ("current", row.current), ("data pending", row.data_pending))
                 if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        if args.verbose and row.record is not None:
            r = row.record
            took = f", {r.duration_ms} ms" if r.duration_ms is not None else ""
            by = f", version {r.package_version}" if r.package_version else ""
            suffix += f"  [{r.how} {r.applied_at:%Y-%m-%d %H:%M:%S %Z} by {r.applied_by}{took}{by}]"
        out(f"[{'X' if row.applied else ' '}] {row.revision}  {row.message}{suffix}")
    return 0


def current(args) -> int:
    from ..commands.listing import current, heads
    from .common import out, progress, settings

    given = settings(args)
    script_heads = {h.revision for h in heads(given)}
    revisions = current(given, schema=args.schema, progress=progress(args))
    if not revisions:
        sys.stderr.write("No revision applied (the database is at base).\n")
    for sc in revisions:
        out(f"{sc.revision}{' (head)' if sc.revision in script_heads else ''}")
    return 0


def heads(args) -> int:
    from ..commands.listing import heads
    from .common import out, settings

    for sc in heads(settings(args)):
        out(sc.cmd_format(args.verbose, include_branches=True, tree_indicators=False))
    return 0


def history(args) -> int:
    from ..commands.listing import history
    from .common import out, settings

    for sc in history(settings(args)):
        out(sc.cmd_format(args.verbose, include_branches=True, include_doc=True, include_parents=True))
    return 0
