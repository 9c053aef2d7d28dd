"""``lint``: per revision, each statement's locks and the findings; exit 1 if any is not accepted."""

import sys

HELP = "Lint revisions (default: those not yet applied): the locks they take and the rules they break."


def add_arguments(p) -> None:
    p.add_argument("revisions", nargs="*", metavar="REV", help="revisions to lint (no database needed)")
    p.add_argument("--all", action="store_true", help="every revision, with no database")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--server-version", type=int, metavar="NUM",
                   help="lint for this PostgreSQL version, e.g. 110000 (default: the database's)")


def write(report, out) -> None:
    """The report as text, one revision after another."""
    for r in report.revisions:
        out(f"{r.revision} ({r.message}){'' if r.kind == 'atomic' else f' [{r.kind}]'}")
        if r.error:
            out(f"  error: {r.error}")
            continue
        for rule in r.unreasoned:
            out(f"  allow {rule} has no reason ('-- why'), so it accepts nothing")
        for s in r.statements:
            first = s.sql.splitlines()[0] if s.sql else ""
            out(f"  {s.index:>3}. {first[:100]}{' ...' if len(s.sql) > len(first) or len(first) > 100 else ''}")
            out(f"       {s.effect}")
            for c in s.findings:
                mark = f"accepted ({c.accepted})" if c.accepted else "FINDING"
                out(f"       {mark} {c.finding.rule}: {c.finding.message}")
                if not c.accepted:
                    out(f"         instead: {c.finding.alternative}")


def as_json(report) -> list:
    return [
        {
            "revision": r.revision, "message": r.message, "path": r.path, "kind": r.kind, "error": r.error,
            "statements": [
                {"index": s.index, "sql": s.sql, "effect": s.effect,
                 "findings": [{"rule": c.finding.rule, "message": c.finding.message,
                               "alternative": c.finding.alternative, "accepted": c.accepted}
                              for c in s.findings]}
                for s in r.statements
            ],
        }
        for r in report.revisions
    ]


def run(args) -> int:
    import json

    from ..commands.lint import lint
    from .common import out, progress, settings

    report = lint(settings(args), args.revisions, all=args.all, server_version=args.server_version,
                  progress=progress(args))
    if args.json:
        out(json.dumps(as_json(report), indent=2))
    else:
        write(report, out)
        if not report.revisions:
            sys.stderr.write("No revisions to lint.\n")
    if report.errors:
        first = report.errors[0]
        sys.stderr.write(f"python -m myapp.db lint: error: {first.error}\n")
        return 2
    if report.open_findings:
        sys.stderr.write(f"{report.open_findings} finding(s) not accepted; fix them, or accept one in its revision "
                         "with '# myapp.db: allow RULE -- why'\n")
        return 1
    return 0
