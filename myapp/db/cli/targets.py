"""The options that fan a command out over many targets, and the report printed at the end."""

from __future__ import annotations

import sys

FANOUT = ("schemas", "all_schemas", "schemas_query", "urls", "all_databases")


def add_arguments(p) -> None:
    """``--schema``, ``--all-schemas``, ``--schemas-query``, ``--urls``, ``--all-databases``, ``-j``, ``--json``."""
    group = p.add_argument_group("many tenants and databases")
    group.add_argument("--schema", dest="schemas", action="append", default=[], metavar="NAME",
                       help="migrate this tenant schema (its own version table and lock); repeatable")
    group.add_argument("--all-schemas", action="store_true",
                       help="migrate every tenant schema: those --schemas-query returns, else those plugins name")
    group.add_argument("--schemas-query", metavar="SQL",
                       help="with --all-schemas: a SELECT returning the tenant schemas' names (run read-only)")
    group.add_argument("--urls", metavar="FILE",
                       help="migrate every database in FILE, one URL a line ('-': standard input)")
    group.add_argument("--all-databases", action="store_true",
                       help="migrate every database the plugins name (hook database_urls)")
    group.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                       help="migrate N targets at a time, each in a process of its own (default 1)")
    group.add_argument("--json", action="store_true", help="print the report as JSON")


def wanted(args) -> bool:
    """Whether the command names targets beyond the one database (then a report is printed)."""
    return any(getattr(args, name) for name in FANOUT)


def run(args) -> int:
    """Migrate every target and print the report on stdout; exit 2 if any failed (1: ``--check`` found work)."""
    from ..errors import UsageError
    from ..tenants import migrate_all
    from ..tenants.targets import read_urls
    from .common import out, progress, settings

    if args.url and (args.urls or args.all_databases):
        raise UsageError("--url and --urls/--all-databases both name databases: give one of them")
    report = migrate_all(
        settings(args), args.target, schemas=args.schemas, all_schemas=args.all_schemas,
        schemas_query=args.schemas_query, urls=read_urls(args.urls) if args.urls else (), all_databases=args.all_databases, jobs=args.jobs,
        progress=progress(args), plan=args.plan, check=args.check, fake=args.fake, step=args.step,
        data=args.data, data_only=args.data_only, accept_edited=args.accept_edited,
    )
    if args.json:
        out(report.to_json())
    else:
        for line in report.lines():
            out(line)
    if report.failed:
        sys.stderr.write(f"{len(report.failed)} target(s) failed; run the same command again to do what is left\n")
    return report.exit_status
