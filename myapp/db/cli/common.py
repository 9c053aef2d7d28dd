"""What every subcommand shares: the common options, the settings and progress they build, output."""

from __future__ import annotations

import argparse
import shlex
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


def add_limits(parser: argparse.ArgumentParser) -> None:
    """The options that bound how long a changing command may wait, and make others wait."""
    parser.add_argument("--lock-wait", type=float, metavar="SECONDS",
                        help="wait at most this long for the migration lock (default: as long as it takes)")
    parser.add_argument("--lock-timeout", type=float, metavar="SECONDS",
                        help="a statement waits at most this long for a lock, then its transaction is rolled "
                             "back and retried (default 2, or $MYAPP_DB_LOCK_TIMEOUT)")
    parser.add_argument("--lock-retries", type=int, metavar="N",
                        help="retry a transaction that hit the lock timeout N times (default 10)")
    parser.add_argument("--statement-timeout", type=float, metavar="SECONDS",
                        help="a migration statement runs at most this long (default: no limit)")


def with_app(args, text: str) -> str:
    """``text`` with ``--app SPEC`` in every command it suggests, when the app was given by ``--app``:
    run as printed, the suggestion then works on the same app."""
    spec = getattr(args, "app", None)
    if not spec or not isinstance(spec, str):
        return text
    return text.replace(f"'{PROG} ", f"'{PROG} --app {shlex.quote(spec)} ")


def settings(args):
    from ..settings import Settings

    given = Settings.from_env(url=args.url, app=args.app)
    return given.limited(**{name: getattr(args, name, None)
                            for name in ("lock_wait", "lock_timeout", "lock_retries", "statement_timeout")})


def progress(args):
    from ..progress import StreamProgress

    return StreamProgress(sys.stderr)


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
