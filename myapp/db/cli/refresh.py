"""``refresh``."""

HELP = "Refresh materialized views (all, or NAMEs) in dependency order."


def add_arguments(p) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="name or schema.name (default: all)")
    p.add_argument("--concurrently", action="store_true",
                   help="REFRESH ... CONCURRENTLY where a unique index allows it")
    from .common import add_limits

    add_limits(p)


def run(args) -> int:
    from ..commands.refresh import refresh
    from .common import progress, settings

    refresh(settings(args), args.names, concurrently=args.concurrently, progress=progress(args))
    return 0
