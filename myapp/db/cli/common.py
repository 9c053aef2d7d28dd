"""What every subcommand shares: the common options, the settings and progress they build, output."""

from __future__ import annotations

import argparse
import sys

PROG = "python -m myapp.db"


def add_common(parser: argparse.ArgumentParser, *, default=None) -> None:
    """``--url``, ``--app``, ``--traceback`` and ``-v``; on subcommands they default to SUPPRESS,
    so that ``--url X migrate`` and ``migrate --url X`` both work."""
    kw = {} if default is None else {"default": default}
    parser.add_argument("--url", help="database URL (default: $MYAPP_DATABASE_URL, else the embedded PostgreSQL)", **kw)
    parser.add_argument("--app", metavar="MODULE:ATTR",
                        help="the App to work on (default: $MYAPP_DB_APP, else myapp's own)", **kw)
    parser.add_argument("--traceback", action="store_true", help="show a traceback on errors", **kw)
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail, and tracebacks", **kw)


def settings(args):
    from ..settings import Settings

    return Settings.from_env(url=args.url, app=args.app)


def progress(args):
    from ..progress import StreamProgress

    return StreamProgress(sys.stderr)


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
