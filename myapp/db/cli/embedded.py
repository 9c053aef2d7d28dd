"""``embedded``."""

HELP = "Show the status of, or stop, the embedded PostgreSQL server."


def add_arguments(p) -> None:
    p.add_argument("action", nargs="?", default="status", choices=["status", "stop"])


def run(args) -> int:
    from ..commands.embedded import embedded
    from .common import out

    out(embedded(args.action, app=args.app))
    return 0
