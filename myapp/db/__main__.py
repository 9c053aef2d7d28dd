"""The command line: ``python -m myapp.db <command>`` (also installed as ``myapp-db``).

argparse and output formatting only: each subcommand calls one function in
`commands` and prints its result to stdout. Progress and errors go to stderr.
Exit status: 0 success, 1 a ``--check`` found something, 2 bad input or a failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import traceback
from typing import List, Optional

import sqlalchemy.exc
from alembic.util import CommandError as AlembicCommandError

from . import commands
from .exceptions import CommandError, first_line
from .output import StreamProgress
from .settings import Settings

PROG = "python -m myapp.db"


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _settings(args) -> Settings:
    return Settings.from_env(url=args.url)


def _progress(args) -> StreamProgress:
    return StreamProgress(sys.stderr)


def cmd_bootstrap(args) -> int:
    commands.bootstrap(_settings(args), progress=_progress(args))
    return 0


def cmd_migrate(args) -> int:
    result = commands.migrate(
        _settings(args),
        args.target,
        plan=args.plan,
        sql=args.sql,
        start=args.start,
        fake=args.fake,
        check=args.check,
        step=args.step,
        progress=_progress(args),
    )
    if args.sql:
        sys.stdout.write(result.sql)
        return 0
    if args.plan or args.check:
        steps = result.plan.steps
        if not steps:
            _out("No migrations to apply.")
        for s in steps:
            _out(f"{'Apply' if s.upgrade else 'Unapply'} {s.revision} ({s.message})")
        for diff in result.drift:
            _out(commands.describe_diff(diff))
        if result.drift:
            sys.stderr.write(
                f"The database is at head, but {len(result.drift)} change(s) in the models or the "
                "registry have no migration; run 'python -m myapp.db makemigrations -m MESSAGE'\n"
            )
        return 1 if (args.check and (steps or result.drift)) else 0
    return 0


def cmd_showmigrations(args) -> int:
    for row in commands.showmigrations(_settings(args), progress=_progress(args)):
        marks = [m for m, on in (("head", row.head), ("current", row.current)) if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        _out(f"[{'X' if row.applied else ' '}] {row.revision}  {row.message}{suffix}")
    return 0


def cmd_current(args) -> int:
    script_heads = set(h.revision for h in commands.heads(_settings(args)))
    revisions = commands.current(_settings(args), progress=_progress(args))
    if not revisions:
        sys.stderr.write("No revision applied (the database is at base).\n")
    for sc in revisions:
        _out(f"{sc.revision}{' (head)' if sc.revision in script_heads else ''}")
    return 0


def cmd_heads(args) -> int:
    for sc in commands.heads(_settings(args)):
        _out(sc.cmd_format(args.verbose, include_branches=True, tree_indicators=False))
    return 0


def cmd_history(args) -> int:
    for sc in commands.history(_settings(args)):
        _out(sc.cmd_format(args.verbose, include_branches=True, include_doc=True, include_parents=True))
    return 0


def cmd_makemigrations(args) -> int:
    result = commands.makemigrations(
        _settings(args), args.message, empty=args.empty, check=args.check, progress=_progress(args)
    )
    if args.check:
        for diff in result.diffs:
            _out(commands.describe_diff(diff))
        if result.diffs:
            sys.stderr.write(
                f"{len(result.diffs)} change(s) in the models have no migration; "
                "run 'python -m myapp.db makemigrations -m MESSAGE'\n"
            )
        return 1 if result.diffs else 0
    if result.path:
        _out(result.path)
    return 0


def cmd_refresh(args) -> int:
    commands.refresh(_settings(args), args.names, concurrently=args.concurrently, progress=_progress(args))
    return 0


def cmd_embedded(args) -> int:
    _out(commands.embedded(args.action))
    return 0


def cmd_plugins(args) -> int:
    found = commands.plugins()
    if args.json:
        _out(json.dumps([dataclasses.asdict(p) for p in found], indent=2))
        return 0
    for p in found:
        name = p.name if p.builtin else f"{p.name} = {p.entry_point}"
        tags = [f"{p.distribution} {p.version}"] + ["built-in"] * p.builtin + ["disabled"] * p.disabled
        _out(
            f"{name} ({', '.join(tags)}): hooks: {', '.join(p.hooks) or '-'}; "
            f"operations: {', '.join(p.operations) or '-'}"
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", help="database URL (default: $MYAPP_DATABASE_URL, else the embedded PostgreSQL)"
    )
    common.add_argument("--traceback", action="store_true", help="show a traceback on errors")
    common.add_argument("-v", "--verbose", action="store_true", help="more detail, and tracebacks")
    # On subcommands the shared options default to SUPPRESS, so that
    # "--url X migrate" and "migrate --url X" both work.
    sub_common = argparse.ArgumentParser(add_help=False)
    for action in common._actions:
        kwargs = dict(help=action.help, default=argparse.SUPPRESS)
        if action.nargs == 0:
            kwargs["action"] = "store_true"
        sub_common.add_argument(*action.option_strings, dest=action.dest, **kwargs)

    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[common],
        description="Bring myapp's PostgreSQL database up to date, safely.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name, func, help_text):
        p = sub.add_parser(name, parents=[sub_common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    add("bootstrap", cmd_bootstrap, "Create the schema on an empty database (create_all) and stamp it at head.")

    p = add("migrate", cmd_migrate, "Move the database to TARGET (default: head), upgrading or downgrading.")
    p.add_argument("target", nargs="?", default="head",
                   help="revision id or unique prefix, 'head', 'zero', or relative ('-1', '+2')")
    p.add_argument("--plan", action="store_true", help="print the steps; change nothing")
    p.add_argument("--sql", action="store_true", help="print the SQL of the steps without connecting")
    p.add_argument("--from", dest="start", metavar="REV",
                   help="with --sql: the revision the database is at (default: base)")
    p.add_argument("--fake", action="store_true", help="record TARGET as applied without running anything")
    p.add_argument("--check", action="store_true", help="exit 1 if any migration is unapplied; change nothing")
    p.add_argument("--step", action="store_true", help="commit after each revision instead of once at the end")

    add("showmigrations", cmd_showmigrations, "List every revision, [X] applied or [ ] not, head and current marked.")
    add("current", cmd_current, "Show the revision the database is at.")
    add("heads", cmd_heads, "Show the head revision(s) of the migration history.")
    add("history", cmd_history, "Show the migration history, newest first.")

    p = add("makemigrations", cmd_makemigrations,
            "Write a new revision, autogenerated from the models against the database at head.")
    p.add_argument("-m", "--message", help="what the revision does")
    p.add_argument("--empty", action="store_true", help="write an empty revision to fill in by hand")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and list the changes if the models and migrations disagree")

    p = add("plugins", cmd_plugins,
            "List every plugin: distribution and version, entry point, hooks and operations.")
    p.add_argument("--json", action="store_true", help="print the list as JSON")

    p = add("refresh", cmd_refresh, "Refresh materialized views (all, or NAMEs) in dependency order.")
    p.add_argument("names", nargs="*", metavar="NAME", help="name or schema.name (default: all)")
    p.add_argument("--concurrently", action="store_true",
                   help="REFRESH ... CONCURRENTLY where a unique index allows it")

    p = add("embedded", cmd_embedded, "Show the status of, or stop, the embedded PostgreSQL server.")
    p.add_argument("action", nargs="?", default="status", choices=["status", "stop"])
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with ``argv``; return the exit status."""
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except CommandError as exc:
        if args.traceback or args.verbose:
            traceback.print_exc()
        sys.stderr.write(f"{PROG} {args.command}: error: {exc}\n")
        return exc.exit_status
    except (AlembicCommandError, SyntaxError) as exc:
        if args.traceback or args.verbose:
            traceback.print_exc()
        if isinstance(exc, SyntaxError):
            where = f"{exc.filename}, line {exc.lineno}"
            message = f"syntax error in {where}: {exc.msg}; fix that file"
        else:
            message = f"{first_line(exc)}; run 'python -m myapp.db heads' and 'history' to see the revisions"
        sys.stderr.write(f"{PROG} {args.command}: error: {message}\n")
        return 2
    except sqlalchemy.exc.DBAPIError as exc:
        if args.traceback or args.verbose:
            traceback.print_exc()
        detail = first_line(exc)
        sys.stderr.write(
            f"{PROG} {args.command}: error: the database refused: {detail}; "
            "run again with --traceback for details\n"
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
