"""The command line: ``python -m myapp.db <command>`` (also installed as ``myapp-db``).

argparse and output formatting only: each subcommand's module here parses its
options and calls one function in `myapp.db.commands`, printing the result on
stdout; progress and errors go to stderr. Exit status: 0 success, 1 a
``--check`` found something, 2 bad input or a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import sys
import traceback
from typing import List, Optional

from . import bootstrap, embedded, lint, listing, makemigrations, migrate, plugins, refresh
from .common import PROG, add_common, with_app

# Mako (Alembic's template engine) imports pygments, when installed, for its HTML error pages
# only: about 50 ms of every command's start-up, for a page we never render. Blocked before any
# command imports Alembic, and in the command line only: an app's own Mako keeps its highlighting.
sys.modules.setdefault("mako.ext.pygmentplugin", None)  # type: ignore[arg-type]

#: name -> (module or function, help, arguments)
COMMANDS = [
    ("bootstrap", bootstrap.run, bootstrap.HELP, bootstrap.add_arguments),
    ("migrate", migrate.run, migrate.HELP, migrate.add_arguments),
    ("showmigrations", listing.showmigrations, listing.SHOWMIGRATIONS, listing.add_schema),
    ("current", listing.current, listing.CURRENT, listing.add_schema),
    ("heads", listing.heads, listing.HEADS, None),
    ("history", listing.history, listing.HISTORY, None),
    ("makemigrations", makemigrations.run, makemigrations.HELP, makemigrations.add_arguments),
    ("plugins", plugins.run, plugins.HELP, plugins.add_arguments),
    ("refresh", refresh.run, refresh.HELP, refresh.add_arguments),
    ("lint", lint.run, lint.HELP, lint.add_arguments),
    ("embedded", embedded.run, embedded.HELP, embedded.add_arguments),
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{PROG} (myapp {version('myapp')})"
    except PackageNotFoundError:
        return f"{PROG} (myapp, not installed)"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(_version() + "\n")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake told in one line (password masked), exit status 2."""

    def error(self, message: str):
        from ..settings import mask

        self.exit(2, f"{self.prog}: error: {_one_line(mask(message))}; see '{self.prog} --help'\n")


def parser(argv: Optional[List[str]] = None) -> argparse.ArgumentParser:
    """The command line's parser; given ``argv``, only the commands it names get their options.

    A command is chosen by its exact name, so one that ``argv`` does not name cannot be the one
    parsed: skipping its options saves most of the parser's cost on every start-up.
    """
    named = None if argv is None else set(argv)
    top = _Parser(prog=PROG, description="Bring an app's PostgreSQL database up to date, safely.")
    add_common(top)
    top.add_argument("--version", action=_Version)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, run, help_text, add_arguments in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if named is not None and name not in named:
            continue
        add_common(p, default=argparse.SUPPRESS)
        if add_arguments is not None:
            add_arguments(p)
        p.set_defaults(func=run)
    return top


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _fail(args, message: str, status: int = 2) -> int:
    """Write the error in one line; the traceback first with --traceback or -v. Passwords masked in both."""
    from ..settings import mask

    if args.traceback or args.verbose:
        sys.stderr.write(mask(traceback.format_exc()))
    sys.stderr.write(f"{PROG} {args.command}: error: {_one_line(mask(with_app(args, message)))}\n")
    return status


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from ..settings import mask

        return mask(super().format(record))


@contextlib.contextmanager
def _libraries_frozen():
    """For main's imports: the cyclic collector is off while they run, then every object alive is frozen
    (`gc.freeze`), so the libraries' ~85,000 long-lived objects are never scanned again (a tenth of a
    command's start-up; the import-time garbage kept is ~0.2 MB). What the command makes after is
    collected as usual. Skipped once SQLAlchemy is imported (`main` called again in a process, or after
    an app's own imports); a collector that was off stays off."""
    if "sqlalchemy" in sys.modules:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with ``argv``; return the exit status."""
    with _libraries_frozen():
        with contextlib.suppress(ImportError):  # as handle_signals, which installs its wait callback
            import psycopg2.extensions  # noqa: F401
        import sqlalchemy.exc
        from alembic.util import CommandError as AlembicCommandError

        from ..errors import LOCK_NOT_AVAILABLE, CommandError, caused_by, describe_exception, first_line
        from ..runtime import interrupts

    if hasattr(sys.stdout, "reconfigure"):  # a result that the terminal's encoding lacks is escaped, not fatal
        sys.stdout.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(argv).parse_args(argv)
    if args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_MaskingFormatter("%(name)s: %(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    interrupts.handle_signals()
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        return _fail(args, f"interrupted by {interrupts.signal_name(exc)}", interrupts.exit_status(exc))
    except CommandError as exc:
        return _fail(args, str(exc), exc.exit_status)
    except SyntaxError as exc:
        return _fail(args, f"syntax error in {exc.filename}, line {exc.lineno}: {exc.msg}; fix that file")
    except AlembicCommandError as exc:
        return _fail(args, f"{first_line(exc)}; run 'python -m myapp.db heads' and 'history' to see the revisions")
    except sqlalchemy.exc.DBAPIError as exc:
        if caused_by(exc, LOCK_NOT_AVAILABLE):  # a lock another session holds: bounded, never queued behind
            limit = ", or give --lock-timeout SECONDS" if hasattr(args, "lock_timeout") else ""
            return _fail(args, f"waited longer than the lock timeout for a lock another session holds "
                               f"({first_line(exc)}); run again when that session is done{limit}")
        return _fail(args, f"the database refused: {first_line(exc)}; run again with --traceback for details")
    except SystemExit as exc:  # from a revision, a plugin or an app module: never a silent success
        return _fail(args, f"{describe_exception(exc)} (by the app's code or a plugin); the command did not finish")
    except Exception as exc:  # a bug (ours or a plugin's): still one line, the traceback on request
        return _fail(args, f"unexpected error, {describe_exception(exc)}; this is a bug: run again "
                           "with --traceback and report it")
