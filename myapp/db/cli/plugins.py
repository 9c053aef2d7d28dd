"""``plugins``: one line per plugin, or JSON."""

HELP = "List every plugin: distribution and version, entry point, hooks and operations."


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args) -> int:
    import dataclasses
    import json

    from ..commands.plugins import plugins
    from .common import out

    found = plugins(app=args.app)
    if args.json:
        out(json.dumps([dataclasses.asdict(p) for p in found], indent=2))
        return 0
    for p in found:
        name = p.name if p.builtin else f"{p.name} = {p.entry_point}"
        tags = [f"{p.distribution} {p.version}".strip()] + ["built-in"] * p.builtin + ["disabled"] * p.disabled
        out(f"{name} ({', '.join(tags)}): hooks: {', '.join(p.hooks) or '-'}; "
            f"operations: {', '.join(p.operations) or '-'}")
    return 0
