#!/usr/bin/env python
"""Benchmark: myapp.db lint against squawk on the same rendered SQL.

    python bench/lint.py [--runs 3]

The corpus: the app's own revisions, plus, for every lint rule, an unsafe
revision and its safe alternative (tests/lint_cases.py, the cases the tests
use), each on top of the app's head. Every revision's SQL is rendered once
with ``migrate --sql`` into a file; squawk (the PyPI package squawk-cli, a
bench dependency only: ``pip install squawk-cli``) lints those files, and
``python -m myapp.db lint REV ...`` lints the same revisions (rendering them
itself) against a database at head, so both see the same statements.

Per tool it prints the unsafe cases caught, the safe cases flagged (false
positives) and the findings on the app's history, and the time per revision
(median of --runs whole-process runs over the corpus, divided by its size).
squawk is shown twice: as it comes, and told that the runner sets the
timeouts (``--exclude require-lock-timeout,require-statement-timeout``). A
case counts as caught by myapp only when the finding carries the case's rule
id; squawk's rules have other names, so any finding in an unsafe file counts
for it. Goal: every unsafe case caught, no safe case flagged, <= 50 ms per revision.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import _common as c  # noqa: E402
from lint_cases import CASES, write_all  # noqa: E402

SQUAWK = shutil.which("squawk") or str(Path(sys.executable).parent / "squawk")
TIMEOUT_RULES = "require-lock-timeout,require-statement-timeout"


def timed(argv, env, runs):
    times, proc = [], None
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), proc


def main() -> None:
    parser = c.arg_parser(__doc__.splitlines()[1])
    args = parser.parse_args()
    if not Path(SQUAWK).exists():
        raise SystemExit("bench: squawk is not installed: pip install squawk-cli")
    with c.workspace() as tmp, c.admin_server(tmp) as admin:
        dbs = c.Databases(admin)
        try:
            migrations = tmp / "migrations"
            shutil.copytree(c.PACKAGE_MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
            head = c.package_head()
            ids = write_all(migrations / "versions", head)
            env = dict(c.base_env(tmp / "pycache"), **{c.MIGRATIONS_VARIABLE: str(migrations)})
            url = dbs.create()
            c.run_command(c.myapp_db("migrate", head, "--url", url), env)
            app_revisions = [r for r, _ in c._package_chain()]
            versions_of = {case.rule: case.server_version for case in CASES}
            groups = {None: list(app_revisions)}  # server version -> revisions
            for rule, pair in ids.items():
                groups.setdefault(versions_of[rule], []).extend(pair)
            sql_dir = tmp / "sql"
            sql_dir.mkdir()
            downs = {rev: head for pair in ids.values() for rev in pair}
            chain = [None] + app_revisions
            downs.update({rev: chain[i] for i, rev in enumerate(app_revisions)})
            for rev, down in downs.items():
                argv = c.myapp_db("migrate", rev, "--sql", *(["--from", down] if down else []))
                _, proc = c.run_command(argv, env)
                (sql_dir / f"{rev}.sql").write_text(proc.stdout)
            total = len(downs)

            ours, theirs, theirs_fair = {}, {}, {}
            ours_time = theirs_time = theirs_fair_time = 0.0
            for version, revisions in groups.items():
                extra = ["--server-version", str(version)] if version else []
                t, proc = timed(c.myapp_db("lint", *revisions, "--json", *extra, "--url", url), env, args.runs)
                if proc.returncode == 2:
                    raise SystemExit(f"bench: myapp lint failed: {proc.stderr}")
                ours_time += t
                for r in json.loads(proc.stdout):
                    ours[r["revision"]] = [f["rule"] for s in r["statements"] for f in s["findings"]
                                           if not f["accepted"]]
                files = [str(sql_dir / f"{rev}.sql") for rev in revisions]
                pg = ["--pg-version", f"{version // 10000}.0"] if version else []
                for fair, store in ((False, theirs), (True, theirs_fair)):
                    exclude = ["--exclude", TIMEOUT_RULES] if fair else []
                    t, proc = timed([SQUAWK, "--reporter", "json", *pg, *exclude, *files], env, args.runs)
                    if fair:
                        theirs_fair_time += t
                    else:
                        theirs_time += t
                    found = json.loads(proc.stdout or "[]")
                    for rev in revisions:
                        store[rev] = [v["rule_name"] for v in found if Path(v["file"]).stem == rev]

            def tally(results, by_rule):
                caught = [rule for rule, (unsafe, _) in ids.items()
                          if (rule in results[unsafe] if by_rule else results[unsafe])]
                flagged = [rule for rule, (_, safe) in ids.items() if results[safe]]
                history = sum(len(results[r]) for r in app_revisions)
                return caught, flagged, history

            print(f"lint corpus: {len(app_revisions)} app revisions + {len(ids)} rules x (unsafe, safe) = "
                  f"{total} revisions; server {dbs.server_version()}; median of {args.runs} runs")
            print(f"{'tool':<40} {'caught':>9} {'false flags':>12} {'app history':>12} {'per revision':>13}")
            rows = [
                ("myapp.db lint", tally(ours, True), ours_time),
                ("squawk (as it comes)", tally(theirs, False), theirs_time),
                ("squawk (told the runner sets timeouts)", tally(theirs_fair, False), theirs_fair_time),
            ]
            for label, (caught, flagged, history), t in rows:
                print(f"{label:<40} {len(caught):>4} / {len(ids):<3} {len(flagged):>7} / {len(ids):<3} "
                      f"{history:>12} {t / total * 1000:>10.1f} ms")
            for label, (caught, flagged, _), _ in rows:
                missed = sorted(set(ids) - set(caught))
                print(f"  {label}: missed {', '.join(missed) or 'none'}; flagged safe {', '.join(flagged) or 'none'}")
            floor, _ = timed(c.myapp_db("heads"), env, args.runs)
            print(f"myapp.db lint per revision above its start-up ({floor:.2f} s for 'heads'): "
                  f"{max(ours_time - floor * len(groups), 0) / total * 1000:.1f} ms")
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    main()
