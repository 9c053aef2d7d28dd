"""``bootstrap``."""

HELP = "Create the schema on an empty database (create_all) and stamp it at head."


def add_arguments(parser) -> None:
    from .common import add_limits

    add_limits(parser)
    parser.add_argument("--schema", metavar="NAME",
                        help="create a new tenant: this schema, at head, with its own version table")


def run(args) -> int:
    from ..commands.bootstrap import bootstrap
    from .common import progress, settings

    bootstrap(settings(args), schema=args.schema, progress=progress(args))
    return 0
