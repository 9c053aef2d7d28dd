#!/usr/bin/env python
"""Benchmark: replacing a view that ``--dependents`` (default 50) other views depend on.

    python bench/replace_dependents.py [--runs 5] [--warmup 1] [--dependents 50]

One fresh database is brought to head once (``myapp.db.migrate``), and a
few rows are put into ``networks`` (committed; the views have data to
hold). Every run then opens a new connection and a transaction that is
rolled back at the end, so runs are independent, and in it, untimed:

* creates a base view ``bench_base`` (``SELECT n.id, n.name, n.description
  FROM networks n``, SELECT granted to PUBLIC, a comment) with the
  replaceable-object operation, and
* creates the dependents, a deterministic mix: about 40% directly on the
  base, the rest chained on an earlier dependent (on the one just before,
  which makes chains, or on one halfway back); two of them (a third and
  two thirds of the way along) are materialized views with a unique index,
  with views chained on them too. Every third dependent grants SELECT to
  PUBLIC, every fourth has a comment.

Then the timed part, one call of the operation, driven directly:
``Operations.invoke(ReplaceReplaceableObjectOp(new, old))``, which sends one
server-side ``DO`` block (the server does what follows):

* incompatible: the new base has its columns reordered (``n.name, n.id,
  n.description``), so CREATE OR REPLACE VIEW fails (in a subtransaction) and
  every dependent is dropped and recreated from its catalog definition,
  with its owner, grants, comment and indexes;
* compatible: the new base adds a column at the end (``..., n.created_at``),
  so CREATE OR REPLACE VIEW succeeds and nothing is dropped.

The two cases alternate within each round (incompatible, compatible,
incompatible, ...), after one untimed warm-up round. The statements sent to
the server during the replace are counted with a ``before_cursor_execute``
listener on the engine (catalog queries, savepoint handling and DDL
separately). After every replace it asserts, against a catalog capture made
just before it, that every dependent exists again with the same kind,
definition, owner, privileges (the PUBLIC grants explicitly), comment,
indexes and populated state, that materialized views hold their rows, and
that their oids all changed (incompatible) or none did (compatible): the
bench fails loudly if the feature breaks.

The server is a throwaway embedded PostgreSQL in a temporary directory, or
the server of MYAPP_BENCH_ADMIN_URL if that is set (the database created
there is dropped at the end). Prints medians (and min/max) of the wall time
of the operation (in process, not a subprocess) and of the statement counts.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import _common as c  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import alembic  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from alembic.operations import Operations  # noqa: E402

import myapp.db  # noqa: E402
from myapp.db import plugins  # noqa: E402
from myapp.db.replaceable.ops import ReplaceReplaceableObjectOp  # noqa: E402
from myapp.db.replaceable import MatviewIndex, ReplaceableMatview, ReplaceableView  # noqa: E402
from myapp.db.settings import Settings  # noqa: E402

plugins.load()  # the built-in plugins register the operations

BASE_NAME = "bench_base"
BASE_GRANTS = {"PUBLIC": ["SELECT"]}
BASE_OLD = ReplaceableView(
    BASE_NAME, "SELECT n.id, n.name, n.description FROM networks n", grants=BASE_GRANTS
)
BASE_REORDERED = ReplaceableView(  # incompatible: CREATE OR REPLACE refuses to reorder columns
    BASE_NAME, "SELECT n.name, n.id, n.description FROM networks n", grants=BASE_GRANTS
)
BASE_ADDED = ReplaceableView(  # compatible: a column added at the end
    BASE_NAME, "SELECT n.id, n.name, n.description, n.created_at FROM networks n", grants=BASE_GRANTS
)
NETWORK_ROWS = 20
VERBS = ("DROP", "CREATE", "GRANT", "REVOKE", "ALTER", "COMMENT")

CASES = [
    ("incompatible (columns reordered)", BASE_REORDERED, True),
    ("compatible (column added at end)", BASE_ADDED, False),
]


# -- the objects ----------------------------------------------------------------------------------


@dataclass
class Dependent:
    obj: object
    parent: str
    comment: str = ""

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def public(self) -> bool:
        return "PUBLIC" in self.obj.grants


def dependents_for(count: int) -> List[Dependent]:
    """A deterministic mix of ``count`` views on the base, each exposing (id, name, ...)."""
    names = [f"bench_dep_{i:03d}" for i in range(count)]
    matviews = {i for i in (count // 3, (2 * count) // 3) if i > 0} if count >= 3 else set()
    out: List[Dependent] = []
    for i, name in enumerate(names):
        grants = {"PUBLIC": ["SELECT"]} if i % 3 == 0 else None
        if i in matviews:
            parent = names[i - 1]
            obj = ReplaceableMatview(
                name,
                f"SELECT d.id, d.name, count(*) AS n FROM {parent} d GROUP BY d.id, d.name",
                indexes=[MatviewIndex(f"ux_{name}_id", ["id"], unique=True)],
                grants=grants,
            )
        else:
            pattern = i % 5
            if i == 0 or pattern in (0, 1):
                parent = BASE_NAME
                body = f"SELECT b.id, b.name, b.id + {i} AS k FROM {parent} b WHERE b.id > {i % 7}"
            elif pattern in (2, 3):
                parent = names[i - 1]  # a deep chain
                body = f"SELECT d.id, d.name, upper(d.name) AS k FROM {parent} d"
            else:
                parent = names[i // 2]  # halfway back
                body = f"SELECT d.id, d.name, length(d.name) AS k FROM {parent} d WHERE d.id % 2 = {i % 2}"
            obj = ReplaceableView(name, body, grants=grants)
        comment = f"bench dependent {i}: it's on {parent}" if i % 4 == 0 else ""
        out.append(Dependent(obj, parent, comment))
    return out


def build(ops: Operations, conn, deps: List[Dependent]) -> None:
    ops.create_replaceable_object(BASE_OLD)
    conn.exec_driver_sql(f"COMMENT ON VIEW {BASE_NAME} IS 'the base of the bench'")
    for dep in deps:
        ops.create_replaceable_object(dep.obj)
        if dep.comment:
            keyword = "MATERIALIZED VIEW" if isinstance(dep.obj, ReplaceableMatview) else "VIEW"
            conn.exec_driver_sql(f"COMMENT ON {keyword} {dep.name} IS {_literal(dep.comment)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- catalog capture for the checks -----------------------------------------------------------------

_CAPTURE = sa.text(
    """
    SELECT c.relname, c.oid, c.relkind, pg_get_viewdef(c.oid) AS definition,
           pg_get_userbyid(c.relowner) AS owner,
           (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a) AS acl,  -- order-free
           obj_description(c.oid, 'pg_class') AS comment, c.relispopulated AS populated,
           has_table_privilege('public', c.oid, 'SELECT') AS public_select,
           (SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY 1)
              FROM pg_index i WHERE i.indrelid = c.oid) AS indexes
    FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relname LIKE 'bench\\_%'
    """
)


def capture(conn) -> Dict[str, dict]:
    found = {row["relname"]: dict(row) for row in conn.execute(_CAPTURE).mappings()}
    for name, row in found.items():
        row["rows"] = matview_rows(conn, name) if row["relkind"] == "m" else None
    return found


def matview_rows(conn, name: str) -> int:
    return conn.scalar(sa.text(f"SELECT count(*) FROM {name}"))


def check(conn, deps: List[Dependent], before: Dict[str, dict], new: ReplaceableView, recreated: bool) -> None:
    after = capture(conn)
    names = [d.name for d in deps]
    missing = [n for n in names if n not in after]
    assert not missing, f"dependents missing after the replace: {missing}"
    assert BASE_NAME in after, "the base view is gone"
    base_def = after[BASE_NAME]["definition"]
    first_column = "name" if new is BASE_REORDERED else "id"
    assert base_def.split()[1].rstrip(",").endswith(first_column), f"base not replaced: {base_def}"
    assert ("created_at" in base_def) == (new is BASE_ADDED), f"base not replaced: {base_def}"
    for key in ("owner", "acl", "comment", "public_select"):
        assert after[BASE_NAME][key] == before[BASE_NAME][key], f"base: {key} was {before[BASE_NAME][key]!r}, is {after[BASE_NAME][key]!r}"
    for dep in deps:
        b, a = before[dep.name], after[dep.name]
        for key in ("relkind", "definition", "owner", "acl", "comment", "populated", "indexes"):
            assert a[key] == b[key], f"{dep.name}: {key} was {b[key]!r}, is {a[key]!r}"
        assert a["public_select"] is dep.public, f"{dep.name}: PUBLIC SELECT is {a['public_select']}"
        assert (a["comment"] or "") == dep.comment, f"{dep.name}: comment {a['comment']!r}"
        if recreated:
            assert a["oid"] != b["oid"], f"{dep.name} was not recreated"
        else:
            assert a["oid"] == b["oid"], f"{dep.name} was recreated by a compatible replace"
        if isinstance(dep.obj, ReplaceableMatview):
            assert a["indexes"] and "UNIQUE" in a["indexes"][0], f"{dep.name}: unique index lost"
            rows = matview_rows(conn, dep.name)
            assert rows == b["rows"] > 0, f"{dep.name}: {rows} rows after the replace, {b['rows']} before"
    extra = set(after) - set(before)
    assert not extra, f"unexpected new relations: {sorted(extra)}"


# -- running ----------------------------------------------------------------------------------------


def kind_of(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    if word in ("SELECT", "WITH"):
        return "catalog"
    if word in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return "savepoint"
    return "ddl"


@dataclass
class Result:
    label: str
    times: List[float] = field(default_factory=list)
    counts: List[Counter] = field(default_factory=list)  # by kind_of(), one per run
    verbs: List[Counter] = field(default_factory=list)  # by first word, one per run

    def stat(self, values):
        return statistics.median(values), min(values), max(values)


class Recorder:
    def __init__(self):
        self.on = False
        self.statements: List[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.statements.append(statement)


def one_run(engine, recorder: Recorder, deps: List[Dependent], new: ReplaceableView, recreated: bool):
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            ops = Operations(MigrationContext.configure(conn))
            build(ops, conn, deps)
            before = capture(conn)
            assert len(before) == len(deps) + 1, f"setup made {len(before)} relations"
            recorder.statements = []
            recorder.on = True
            started = time.perf_counter()
            ops.invoke(ReplaceReplaceableObjectOp(new, BASE_OLD))
            elapsed = time.perf_counter() - started
            recorder.on = False
            statements = list(recorder.statements)
            check(conn, deps, before, new, recreated)
        finally:
            recorder.on = False
            trans.rollback()
    return elapsed, statements


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--dependents", type=int, default=50, help="number of dependent views (default 50)"
    )
    args = parser.parse_args(argv)
    if args.dependents < 1:
        parser.error("--dependents must be at least 1")
    deps = dependents_for(args.dependents)

    with c.workspace() as tmp, c.admin_server(tmp) as admin_url:
        dbs = c.Databases(admin_url)
        engine = None
        try:
            url = dbs.create()
            started = time.perf_counter()
            # The package's own history, whatever MYAPP_MIGRATIONS_DIR says.
            myapp.db.migrate(Settings.from_env(url, environ={}))
            sys.stderr.write(f"  migrate to head: {time.perf_counter() - started:.3f}s\n")
            if c.version_of(url) != [c.package_head()]:
                raise SystemExit("bench: the database did not reach head")
            engine = sa.create_engine(url, poolclass=sa.NullPool)
            with engine.begin() as conn:
                conn.execute(
                    sa.text("INSERT INTO networks (name, description) VALUES (:n, :d)"),
                    [{"n": f"bench network {i}", "d": f"row {i}"} for i in range(NETWORK_ROWS)],
                )
            recorder = Recorder()
            sa.event.listen(engine, "before_cursor_execute", recorder)

            kinds = Counter(
                "materialized views" if isinstance(d.obj, ReplaceableMatview)
                else "views on the base" if d.parent == BASE_NAME else "views on a dependent"
                for d in deps
            )
            results = [Result(label) for label, _, _ in CASES]
            for round_no in range(args.warmup + args.runs):
                timed = round_no >= args.warmup
                seen = []
                for result, (label, new, recreated) in zip(results, CASES):
                    elapsed, statements = one_run(engine, recorder, deps, new, recreated)
                    if timed:
                        result.times.append(elapsed)
                        result.counts.append(Counter(kind_of(s) for s in statements))
                        result.verbs.append(Counter(s.lstrip().split(None, 1)[0].upper() for s in statements))
                    seen.append(f"{label.split()[0]} {elapsed:.3f}s/{len(statements)} stmts")
                tag = (f"run {round_no - args.warmup + 1}/{args.runs}" if timed
                       else f"warm-up {round_no + 1}/{args.warmup}")
                sys.stderr.write(f"  {tag}: " + ", ".join(seen) + "\n")
                sys.stderr.flush()

            header(args, dbs.server_version())
            print(
                "# dependents: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                + f"; {sum(d.public for d in deps)} granted to PUBLIC, "
                f"{sum(bool(d.comment) for d in deps)} commented; "
                f"chain depth {max(depth(d, deps) for d in deps)}"
            )
            width = 36
            print()
            print(f"{'case':<{width}} {'median':>9} {'min':>9} {'max':>9}   {'statements (med/min/max)':>24}")
            for r in results:
                t = r.stat(r.times)
                n = r.stat([sum(x.values()) for x in r.counts])
                print(
                    f"{r.label:<{width}} {t[0] * 1000:>7.1f}ms {t[1] * 1000:>7.1f}ms {t[2] * 1000:>7.1f}ms"
                    f"   {n[0]:>10g} {n[1]:>6g} {n[2]:>6g}"
                )
            print()
            print(f"{'statements by kind (median)':<{width}} {'catalog':>9} {'savepoint':>9} {'ddl':>9}"
                  f"   {'DROP':>6} {'CREATE':>6} {'GRANT':>6} {'REVOKE':>6} {'ALTER':>6} {'COMMENT':>7}")
            for r in results:
                by = {k: statistics.median(x[k] for x in r.counts) for k in ("catalog", "savepoint", "ddl")}
                words = {w: statistics.median(x[w] for x in r.verbs) for w in VERBS}
                print(
                    f"{r.label:<{width}} {by['catalog']:>9g} {by['savepoint']:>9g} {by['ddl']:>9g}   "
                    f"{words['DROP']:>6g} {words['CREATE']:>6g} {words['GRANT']:>6g} {words['REVOKE']:>6g} "
                    f"{words['ALTER']:>6g} {words['COMMENT']:>7g}"
                )
            print()
            inc, com = results
            per_round = statistics.median(a / b for a, b in zip(inc.times, com.times))
            print(
                f"{'ratio incompatible / compatible':<{width}} "
                f"{statistics.median(inc.times) / statistics.median(com.times):>8.1f}x "
                f"(median of per-round ratios {per_round:.1f}x)"
            )
            print(
                f"checks: after every replace all {args.dependents} dependents exist with the same "
                "definition, owner, privileges, comment, indexes and data; "
                "recreated (new oids) when incompatible, untouched when compatible"
            )
            return 0
        finally:
            if engine is not None:
                engine.dispose()
            dbs.drop_all()


def header(args, server_version: str) -> None:
    where = "MYAPP_BENCH_ADMIN_URL" if os.environ.get(c.ADMIN_URL_VARIABLE) else "embedded, temp dir"
    print(f"# replace a view with {args.dependents} dependents: incompatible vs compatible new definition")
    print(
        f"# {args.runs} timed runs per case after {args.warmup} warm-up round(s), interleaved; "
        "in process, wall clock of one ReplaceReplaceableObjectOp, each run on a new connection "
        "in its own transaction (rolled back)"
    )
    print(
        f"# Python {platform.python_version()}, SQLAlchemy {sa.__version__}, "
        f"Alembic {alembic.__version__}, PostgreSQL {server_version} ({where}), "
        f"{os.cpu_count()} CPU(s)"
    )


def depth(dep: Dependent, deps: List[Dependent]) -> int:
    by_name = {d.name: d for d in deps}
    n = 1
    while dep.parent != BASE_NAME:
        dep = by_name[dep.parent]
        n += 1
    return n


if __name__ == "__main__":
    sys.exit(main())
