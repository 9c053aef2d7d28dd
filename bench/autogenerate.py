#!/usr/bin/env python
"""Benchmark: makemigrations (autogenerate) for N views and functions, and the peers on the same objects.

    python bench/autogenerate.py [--runs 3] [--warmup 1] [--sizes 20,100,300,1000,10000]
                                 [--order dependency|shuffled] [--also-shuffled] [--peers-max 100]
                                 [--peers alembic_utils,alembic_pg_autogen] [--no-peers]
                                 [--peer-timeout 900] [--timeout 900]

The workload (bench/_autogen_workload.py) is N replaceable objects: half views
(view i selects from the app's table ``networks`` for i < 10, else from view
i - 10: 10 chains), half small PL/pgSQL functions. A plugin distribution
written into a temporary site directory (``*.dist-info`` with an entry point
in ``myapp.db.plugins``, on PYTHONPATH, loaded alone with
MYAPP_DB_LOAD_PLUGINS) contributes them through the ``replaceable_objects``
hook; the environment tells it N, the variant and the order, so every run of
a case runs the same code. The app's own registry (a few objects) stays in.

For each size, after untimed set-up and checks, these cases are timed as
whole subprocesses in interleaved rounds (one untimed warm-up round first):

* start-up floors: ``python -m myapp.db heads`` (no database, no plugins)
  and ``python -c "import myapp.db.commands"``;
* from empty: ``makemigrations -m MSG`` on a database at the app's head
  that has none of the N objects; it writes a revision with N creates
  (checked, then deleted so that every run does the same work);
* no-op: ``makemigrations --check`` on a database that has them all (the
  revision from the first case applied once with ``migrate``); exit 0;
* one changed: the same with the ``changed`` variant (the last view, which
  no view depends on, has a different WHERE clause); exit 1 and exactly one
  difference;
* every object removed: ``--check`` with none of the N objects declared;
* from empty and no-op again with ``MYAPP_DB_TABLE_CACHE=off``: the first run
  after a change of code or tables, which compares the models and tables
  (the other cases find them remembered from the warm-up round: see
  ``myapp/db/autogenerate/cache.py``). The framework's caches live in the
  benchmark's temporary directory (``XDG_CACHE_HOME``).

Set-up checks, per size: the revision written from empty holds N creates in
an order where every view comes after the view it selects from; it applies
with ``migrate``, after which ``--check`` exits 0 and the N objects are in
the catalog; ``migrate`` back to the app's head removes them all; and
``--check`` with a view in the middle of a chain changed instead (variant
``changed_mid``) reports exactly that one change. The peers get that
mid-chain check once too, untimed, and the report says how it went
(alembic_utils 0.8.8 fails on it once the view has a chain of dependents).

Peers: when ``alembic_utils`` and/or ``alembic_pg_autogen`` are importable in
this Python (they are not dependencies of myapp: ``pip install
alembic-utils==0.8.8 alembic-pg-autogen==0.3.0``), each gets a minimal Alembic
environment of its own in a temporary directory (alembic.ini, env.py, the
same revision files, the same ORM metadata and compare options) and the same
objects (the app's registry plus the workload) converted to its classes,
and is timed in the same rounds for sizes up to ``--peers-max`` (default
100): ``alembic revision --autogenerate`` from empty (the file it writes is
deleted after each run) and ``alembic check`` for no-op and one change, each
tool on its own copies of the same databases. A peer run that exceeds
``--peer-timeout`` seconds is stopped and that case is dropped for the size
(and larger ones). In the warm-up round, peer cases run only at the
smallest size: the bytecode cache is shared by all sizes, and a warm-up
run of alembic_utils at 300 objects costs minutes (so a run that starts at
300 warms the peers up with their checks only). Peer results are
checked loosely (exit status, and the number of operations they generate
is reported), not asserted: they are another project's tools.

Prints, per size and in a summary: medians (min, max), seconds above the
start-up floor (``heads``), and peer/myapp ratios, all from the same rounds.
The server is a throwaway embedded PostgreSQL, or MYAPP_BENCH_ADMIN_URL's.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional, Sequence, Tuple  # noqa: E402

import _autogen_workload as workload  # noqa: E402
import _common as c  # noqa: E402
from myapp.db.plugins import GROUP, LOAD_VARIABLE  # noqa: E402
from _common import MIGRATIONS_VARIABLE, PACKAGE_MIGRATIONS  # noqa: E402

HERE = Path(__file__).resolve().parent
PLUGIN_NAME = "bench_autogen"
PLUGIN_MODULE = "bench_autogen_workload"
PEERS = {
    # import name: (distribution, version the issue measured)
    "alembic_utils": ("alembic-utils", "0.8.8"),
    "alembic_pg_autogen": ("alembic-pg-autogen", "0.3.0"),
}
INSTALL_HINT = "pip install alembic-utils==0.8.8 alembic-pg-autogen==0.3.0"
WIDTH = 58


# -- timing with expected exit codes and time limits ---------------------------------


@dataclass
class Run:
    """One timed thing: ``prepare()`` gives argv and environment; ``check(proc)`` verifies (untimed)."""

    label: str
    prepare: Callable[[], Tuple[List[str], Dict[str, str]]]
    check: Optional[Callable[[subprocess.CompletedProcess], None]] = None
    expect: Tuple[int, ...] = (0,)
    timeout: Optional[float] = None
    warm: bool = True  # run in warm-up rounds
    soft: bool = False  # a failure drops the case instead of stopping the bench
    times: List[float] = field(default_factory=list)
    failed: Optional[str] = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def ok(self) -> bool:
        return self.failed is None and bool(self.times)


def execute(argv: Sequence[str], env: Dict[str, str], timeout: Optional[float] = None):
    """Run ``argv``; return (seconds, completed process), or (seconds, None) on time-out."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, proc


def fail(what: str, argv: Sequence[str], proc: Optional[subprocess.CompletedProcess]) -> None:
    detail = "" if proc is None else f" (exit {proc.returncode})\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    raise SystemExit(f"bench: {what}: {' '.join(argv)}{detail}")


def last_error(output: str) -> str:
    """The last line of ``output`` that looks like a Python exception (``pkg.SomeError: ...``), shortened."""
    found = [line for line in output.strip().splitlines() if re.match(r"^\w+(\.\w+)*(Error|Exception)\b", line)]
    return found[-1][:160] if found else ""


def rounds(cases: Sequence[Run], runs: int, warmup: int) -> None:
    """Every case once per round, in order; warm-up rounds first (untimed)."""
    for round_no in range(warmup + runs):
        timed = round_no >= warmup
        seen = []
        for case in cases:
            if case.failed or (not timed and not case.warm):
                continue
            argv, env = case.prepare()
            elapsed, proc = execute(argv, env, case.timeout)
            problem = None
            if proc is None:
                problem = f"timed out after {case.timeout:.0f}s"
            elif proc.returncode not in case.expect:
                problem = f"exit {proc.returncode}, expected {'/'.join(map(str, case.expect))}"
                error = last_error(proc.stdout + proc.stderr)
                problem += f": {error}" if error else ""
            if problem is None and case.check:
                try:
                    case.check(proc)
                except SystemExit as exc:
                    problem = str(exc)
            if problem:
                if not case.soft:
                    fail(f"{case.label}: {problem}", argv, proc)
                case.failed = problem
                seen.append(f"{case.label} FAILED ({problem.splitlines()[0]})")
                continue
            if timed:
                case.times.append(elapsed)
            seen.append(f"{case.label} {elapsed:.2f}s")
        tag = f"run {round_no - warmup + 1}/{runs}" if timed else f"warm-up {round_no + 1}/{warmup}"
        sys.stderr.write(f"  {tag}: " + "; ".join(seen) + "\n")
        sys.stderr.flush()


# -- the plugin that contributes the workload ---------------------------------------------


def write_site(root: Path) -> Path:
    """A directory for PYTHONPATH holding the workload module and its distribution's metadata."""
    root.mkdir(parents=True)
    shutil.copy2(HERE / "_autogen_workload.py", root / f"{PLUGIN_MODULE}.py")
    info = root / "myapp_bench_autogen-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myapp-bench-autogen\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{PLUGIN_NAME} = {PLUGIN_MODULE}\n")
    return root


def copy_migrations(dest: Path, extra: Sequence[Path] = ()) -> Path:
    """A copy of the package's migrations directory (plus ``extra`` revision files)."""
    shutil.copytree(PACKAGE_MIGRATIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for path in extra:
        shutil.copy2(path, dest / "versions" / path.name)
    return dest


def new_files(versions: Path, before: set) -> List[Path]:
    return sorted(p for p in versions.glob("*.py") if p.name not in before)


# -- checking a generated revision ----------------------------------------------------------


def read_revision(path: Path) -> Tuple[str, List[Tuple[str, str]]]:
    """(revision id, [(kind, name) of each create in upgrade(), in order]) of a generated revision."""
    source = path.read_text()
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)  # defines the objects; upgrade() is not called
    upgrade = source.split("def upgrade():", 1)[1].split("def downgrade():", 1)[0]
    creates = []
    for variable in re.findall(r"op\.create_replaceable_object\((\w+)\)", upgrade):
        obj = namespace[variable]
        creates.append((obj.kind, obj.name))
    return namespace["revision"], creates


def check_creates(creates: List[Tuple[str, str]], n: int, order: str) -> str:
    """Assert the creates are the workload's N objects, each view after its source; describe them."""
    expected = {(o.kind, o.name) for o in workload.objects(n, order=order)}
    got = set(creates)
    if len(creates) != n or got != expected:
        raise SystemExit(
            f"bench: the revision creates {len(creates)} objects, expected the workload's {n}; "
            f"missing {sorted(expected - got)[:5]}, unexpected {sorted(got - expected)[:5]}"
        )
    position = {name: k for k, (kind, name) in enumerate(creates)}
    views, _ = workload.counts(n)
    for i in range(workload.CHAINS, views):
        if position[workload.view_name(i)] < position[workload.view_source(i)]:
            raise SystemExit(
                f"bench: the revision creates {workload.view_name(i)} before {workload.view_source(i)}, "
                "which it selects from"
            )
    return f"{n} creates, every view after its source"


def bench_objects_in(url: str) -> int:
    """How many of the workload's objects (bench_v*, bench_f*) the database has."""
    engine = c.sa.create_engine(url, poolclass=c.sa.NullPool)
    try:
        with engine.connect() as conn:
            return conn.scalar(c.sa.text(
                "SELECT (SELECT count(*) FROM pg_class WHERE relname LIKE 'bench\\_v%' AND relkind = 'v')"
                " + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'bench\\_f%')"
            ))
    finally:
        engine.dispose()


# -- peers ----------------------------------------------------------------------------------


def peers_available() -> Dict[str, str]:
    """{import name: installed version} of the peers importable here."""
    found = {}
    for module, (dist, _) in PEERS.items():
        if importlib.util.find_spec(module) is not None:
            try:
                found[module] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                found[module] = "?"
    return found


PEER_INI = """\
[alembic]
script_location = {here}
prepend_sys_path = {site}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

# The peer's env.py: the app's ORM metadata and compare options (as myapp's own
# env.py), and the same objects as makemigrations sees, converted.
PEER_ENV = '''\
"""Alembic environment for the {tool} peer in bench/autogenerate.py (generated)."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

from myapp.db.objects import registry
from myapp.models import metadata
import {module} as workload

TOOL = {tool!r}
objects = [*registry, *workload.from_environment()]
extra = {{}}

if TOOL == "alembic_utils":
    from alembic_utils.pg_function import PGFunction
    from alembic_utils.pg_materialized_view import PGMaterializedView
    from alembic_utils.pg_view import PGView
    from alembic_utils.replaceable_entity import register_entities

    def convert(o):
        schema = o.schema or "public"
        if o.kind == "view":
            return PGView(schema=schema, signature=o.name, definition=o.definition)
        if o.kind == "materialized view":
            return PGMaterializedView(schema=schema, signature=o.name, definition=o.definition,
                                      with_data=o.with_data)
        return PGFunction(schema=schema, signature=f"{{o.name}}({{o.arguments}})", definition=o.definition)

    register_entities([convert(o) for o in objects])
else:
    import alembic_pg_autogen  # noqa: F401  registers its comparator plugin

    def ddl(o):
        schema = o.schema or "public"
        if o.kind == "view":
            return f'CREATE VIEW {{schema}}."{{o.name}}" AS {{o.definition}}'
        return f'CREATE FUNCTION {{schema}}."{{o.name}}"({{o.arguments}}) {{o.definition}}'

    # It manages views and functions, not materialized views.
    extra = dict(
        autogenerate_plugins=["alembic.autogenerate.*", "alembic_pg_autogen.*"],
        pg_views=[ddl(o) for o in objects if o.kind == "view"],
        pg_functions=[ddl(o) for o in objects if o.kind == "function"],
    )

engine = create_engine(os.environ["BENCH_PEER_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(
        connection=connection, target_metadata=metadata,
        compare_type=True, compare_server_default=True, **extra,
    )
    with context.begin_transaction():
        context.run_migrations()
'''


def write_peer_env(dest: Path, tool: str, site: Path, versions_from: Path) -> Path:
    """An Alembic environment for ``tool``: alembic.ini, env.py, script.py.mako, the given revisions."""
    dest.mkdir(parents=True)
    shutil.copytree(versions_from, dest / "versions", ignore=shutil.ignore_patterns("__pycache__"))
    import alembic

    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy2(template, dest / "script.py.mako")
    (dest / "env.py").write_text(PEER_ENV.format(tool=tool, module=PLUGIN_MODULE))
    (dest / "alembic.ini").write_text(PEER_INI.format(here=dest, site=site))
    return dest


def alembic_cmd(ini: Path, *args: str) -> List[str]:
    return [sys.executable, "-m", "alembic", "-c", str(ini), *args]


def count_peer_ops(path: Path) -> int:
    """Operations in the upgrade() of a peer's revision: lines that call op.<something>(."""
    upgrade = path.read_text().split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]
    return len(re.findall(r"^\s*op\.\w+\(", upgrade, re.M))


def check_ops_in(output: str) -> int:
    """How many operations ``alembic check`` listed ("New upgrade operations detected: [...]")."""
    found = re.search(r"New upgrade operations detected: (\[.*\])", output, re.S)
    if not found:
        return 0
    return len(re.findall(r"\(\s*'", found.group(1))) or found.group(1).count("),") + 1


# -- one size ---------------------------------------------------------------------------


@dataclass
class SizeResult:
    n: int
    floor: Run
    floor_import: Run
    ours: Dict[str, Run]
    peers: Dict[str, Dict[str, Run]]
    peer_ops: Dict[str, Dict[str, set]]
    notes: List[str]


CASES = ("empty", "noop", "changed", "removed", "empty cold", "noop cold")
CASE_TITLES = {"empty": "autogenerate from empty", "noop": "no-op", "changed": "one changed view",
               "removed": "every object removed", "empty cold": "from empty, tables compared",
               "noop cold": "no-op, tables compared"}
#: The environment of the "cold" cases: nothing remembered, so the models and tables are compared.
COLD = {"MYAPP_DB_TABLE_CACHE": "off"}
PEER_CASES = ("empty", "noop", "changed")
SHUFFLED_CASES = ("empty", "noop", "changed")  # timed again with the registry shuffled (--also-shuffled)  # the peers have no way to report a drop-only diff alone


def run_size(n: int, args, tmp: Path, site: Path, dbs: c.Databases, head_template: str,
             base_env: Dict[str, str], peers: Dict[str, str], first_size: bool) -> SizeResult:
    root = tmp / f"n{n}"
    root.mkdir()
    notes: List[str] = []
    views, functions = workload.counts(n)
    env = dict(
        base_env,
        **{
            LOAD_VARIABLE: PLUGIN_NAME,
            workload.N_VARIABLE: str(n),
            workload.VARIANT_VARIABLE: "base",
            workload.ORDER_VARIABLE: args.order,
        },
    )
    migrations = copy_migrations(root / "migrations")
    versions = migrations / "versions"
    env_empty = dict(env, **{MIGRATIONS_VARIABLE: str(migrations)})
    message = f"bench {n} objects"

    # Set-up: the revision from empty, checked and applied once (untimed).
    empty_url = dbs.create(template=head_template, prefix="bench_empty")
    before = {p.name for p in versions.glob("*.py")}
    elapsed, proc = execute(c.myapp_db("makemigrations", "-m", message, "--url", empty_url), env_empty)
    if proc is None or proc.returncode != 0:
        fail("makemigrations from empty failed", ["makemigrations"], proc)
    written = new_files(versions, before)
    if len(written) != 1:
        raise SystemExit(f"bench: makemigrations wrote {len(written)} files, expected 1")
    revision, creates = read_revision(written[0])
    described = check_creates(creates, n, args.order)
    notes.append(f"revision from empty: {described}")
    sys.stderr.write(f"  set-up: makemigrations from empty {elapsed:.2f}s (first run): {described}\n")
    generated = root / written[0].name
    shutil.move(str(written[0]), generated)
    full_migrations = copy_migrations(root / "migrations_full", [generated])
    env_full = dict(env, **{MIGRATIONS_VARIABLE: str(full_migrations)})

    full_url = dbs.create(template=head_template, prefix="bench_full")
    elapsed, proc = execute(c.myapp_db("migrate", "--url", full_url), env_full)
    if proc is None or proc.returncode != 0:
        fail("migrate of the generated revision failed", ["migrate"], proc)
    if c.version_of(full_url) != [revision] or bench_objects_in(full_url) != n:
        raise SystemExit(f"bench: migrate did not bring the database to {revision} with the {n} objects")
    sys.stderr.write(f"  set-up: migrate applied the generated revision in {elapsed:.2f}s\n")
    _, proc = execute(c.myapp_db("makemigrations", "--check", "--url", full_url), env_full)
    if proc is None or proc.returncode != 0:
        fail("makemigrations --check after applying the generated revision did not exit 0",
             ["makemigrations", "--check"], proc)
    down_url = dbs.create(template=c.sa.make_url(full_url).database, prefix="bench_down")
    _, proc = execute(c.myapp_db("migrate", c.package_head(), "--url", down_url), env_full)
    if proc is None or proc.returncode != 0 or bench_objects_in(down_url) != 0:
        fail("migrate back to the app's head did not remove the objects", ["migrate", c.package_head()], proc)
    dbs.drop(down_url)
    notes.append("the revision applies; --check then exits 0; migrate back to the app's head removes all")
    mid = workload.view_name(workload.changed_view(n, "changed_mid"))
    mid_dependents = len(range(workload.changed_view(n, "changed_mid") + workload.CHAINS, views, workload.CHAINS))
    env_mid = dict(env_full, **{workload.VARIANT_VARIABLE: "changed_mid"})
    elapsed, proc = execute(c.myapp_db("makemigrations", "--check", "--url", full_url), env_mid)
    lines = proc.stdout.strip().splitlines() if proc else []
    if proc is None or proc.returncode != 1 or len(lines) != 1 or not lines[0].startswith(f"replace view {mid}"):
        fail(f"makemigrations --check with {mid} changed did not report exactly that change",
             ["makemigrations", "--check"], proc)
    notes.append(f"--check with a mid-chain view changed instead ({mid}, {mid_dependents} views depend on it): "
                 f"exit 1, one change, in {elapsed:.2f}s (untimed, one run)")

    # Our cases.
    def empty_check(proc):
        found = new_files(versions, before)
        try:
            if len(found) != 1 or proc.stdout.strip() != str(found[0]):
                raise SystemExit(f"bench: expected one revision written, found {found}; stdout {proc.stdout!r}")
            _, got = read_revision(found[0])
            if len(got) != n:
                raise SystemExit(f"bench: the revision holds {len(got)} creates, expected {n}")
        finally:
            for path in found:
                path.unlink()

    def noop_check(proc):
        if proc.stdout.strip() or "No changes detected." not in proc.stderr:
            raise SystemExit(f"bench: the no-op check reported changes:\n{proc.stdout}{proc.stderr}")

    changed_name = workload.view_name(workload.changed_view(n, "changed"))

    def changed_check(proc):
        lines = proc.stdout.strip().splitlines()
        if len(lines) != 1 or changed_name not in lines[0] or not lines[0].startswith("replace "):
            raise SystemExit(f"bench: expected one change (replace {changed_name}), got:\n{proc.stdout}")

    env_changed = dict(env_full, **{workload.VARIANT_VARIABLE: "changed"})
    env_removed = dict(env_full, **{workload.N_VARIABLE: "0"})

    def removed_check(proc):
        lines = proc.stdout.strip().splitlines()
        if len(lines) != n or not all(line.startswith("drop ") for line in lines):
            raise SystemExit(f"bench: expected {n} drops, got {len(lines)} lines:\n{proc.stdout[:500]}")

    if args.also_shuffled:
        # The same cases with the registry shuffled, interleaved with the rest: the ratio to the
        # dependency order then comes from the same rounds.
        shuffled = {workload.ORDER_VARIABLE: "shuffled"}

        def shuffled_empty_check(proc):
            found = new_files(versions, before)
            try:
                if len(found) != 1:
                    raise SystemExit(f"bench: expected one revision written, found {found}")
                check_creates(read_revision(found[0])[1], n, "shuffled")
            finally:
                for path in found:
                    path.unlink()

    floor = Run("start-up: python -m myapp.db heads", lambda: (c.myapp_db("heads"), env_empty))
    floor_import = Run("start-up: import myapp.db.commands",
                       lambda: ([sys.executable, "-c", "import myapp.db.commands"], env_empty))
    ours = {
        "empty": Run("myapp: from empty (makemigrations -m)",
                     lambda: (c.myapp_db("makemigrations", "-m", message, "--url", empty_url), env_empty),
                     empty_check, timeout=args.timeout),
        "noop": Run("myapp: no-op (makemigrations --check)",
                    lambda: (c.myapp_db("makemigrations", "--check", "--url", full_url), env_full),
                    noop_check, timeout=args.timeout),
        "changed": Run("myapp: one changed (makemigrations --check)",
                       lambda: (c.myapp_db("makemigrations", "--check", "--url", full_url), env_changed),
                       changed_check, expect=(1,), timeout=args.timeout),
        "removed": Run("myapp: all removed (makemigrations --check)",
                       lambda: (c.myapp_db("makemigrations", "--check", "--url", full_url), env_removed),
                       removed_check, expect=(1,), timeout=args.timeout),
        "empty cold": Run("myapp: from empty, tables compared (cache off)",
                          lambda: (c.myapp_db("makemigrations", "-m", message, "--url", empty_url),
                                   dict(env_empty, **COLD)),
                          empty_check, timeout=args.timeout),
        "noop cold": Run("myapp: no-op, tables compared (cache off)",
                         lambda: (c.myapp_db("makemigrations", "--check", "--url", full_url), dict(env_full, **COLD)),
                         noop_check, timeout=args.timeout),
    }
    if args.also_shuffled:
        ours.update({
            "empty shuffled": Run("myapp, shuffled: from empty",
                                  lambda: (c.myapp_db("makemigrations", "-m", message, "--url", empty_url),
                                           dict(env_empty, **shuffled)),
                                  shuffled_empty_check, timeout=args.timeout),
            "noop shuffled": Run("myapp, shuffled: no-op",
                                 lambda: (c.myapp_db("makemigrations", "--check", "--url", full_url),
                                          dict(env_full, **shuffled)),
                                 noop_check, timeout=args.timeout),
            "changed shuffled": Run("myapp, shuffled: one changed",
                                    lambda: (c.myapp_db("makemigrations", "--check", "--url", full_url),
                                             dict(env_changed, **shuffled)),
                                    changed_check, expect=(1,), timeout=args.timeout),
        })

    # Peers, each on its own copies of the two databases.
    peer_runs: Dict[str, Dict[str, Run]] = {}
    peer_ops: Dict[str, Dict[str, set]] = {}
    for tool in peers if n <= args.peers_max else ():
        peer_runs[tool], peer_ops[tool] = make_peer_runs(tool, n, root, site, dbs, empty_url, full_url, migrations,
                                         full_migrations, env, changed_name, mid, args, first_size, notes)

    cases = [floor, floor_import, *ours.values()]
    for runs in peer_runs.values():
        cases.extend(runs.values())
    sys.stderr.write(f"  timing {len(cases)} cases\n")
    rounds(cases, args.runs, args.warmup)
    return SizeResult(n, floor, floor_import, ours, peer_runs, peer_ops, notes)


def make_peer_runs(tool, n, root, site, dbs, empty_url, full_url, migrations, full_migrations, env,
                   changed_name, mid, args, first_size, notes) -> Tuple[Dict[str, Run], Dict[str, set]]:
    p_empty = write_peer_env(root / f"{tool}_empty", tool, site, migrations / "versions")
    p_full = write_peer_env(root / f"{tool}_full", tool, site, full_migrations / "versions")
    p_versions = p_empty / "versions"
    before = {p.name for p in p_versions.glob("*.py")}
    e_url = dbs.create(template=c.sa.make_url(empty_url).database, prefix=f"bench_{tool}_empty")
    f_url = dbs.create(template=c.sa.make_url(full_url).database, prefix=f"bench_{tool}_full")
    penv = {k: v for k, v in env.items() if k != MIGRATIONS_VARIABLE and k != LOAD_VARIABLE}
    env_e = dict(penv, BENCH_PEER_URL=e_url)
    env_f = dict(penv, BENCH_PEER_URL=f_url)
    env_c = dict(env_f, **{workload.VARIANT_VARIABLE: "changed"})
    seen_ops: Dict[str, set] = {"empty": set(), "noop": set(), "changed": set()}

    def empty_check(proc):
        found = new_files(p_versions, before)
        try:
            if len(found) != 1:
                raise SystemExit(f"expected one revision written, found {len(found)}")
            seen_ops["empty"].add(count_peer_ops(found[0]))
        finally:
            for path in found:
                path.unlink()

    def noop_check(proc):
        seen_ops["noop"].add(check_ops_in(proc.stdout + proc.stderr))

    def changed_check(proc):
        output = proc.stdout + proc.stderr
        if changed_name not in output:
            raise SystemExit(f"alembic check did not name {changed_name}")
        seen_ops["changed"].add(check_ops_in(output))

    # Untimed, once: a change to a view that other views depend on.
    elapsed, proc = execute(alembic_cmd(p_full / "alembic.ini", "check"),
                            dict(env_f, **{workload.VARIANT_VARIABLE: "changed_mid"}), args.peer_timeout)
    if proc is None:
        outcome = f"timed out after {args.peer_timeout:.0f}s"
    else:
        output = proc.stdout + proc.stderr
        error = last_error(output)
        if mid in output and "New upgrade operations detected" in output:
            outcome = f"exit {proc.returncode}, named it, listed {check_ops_in(output)} operation(s)"
        else:
            outcome = f"exit {proc.returncode}, did not report it" + (f": {error}" if error else "")
    notes.append(f"{tool}: alembic check with the mid-chain view {mid} changed: {outcome} ({elapsed:.1f}s, one run)")
    sys.stderr.write(f"  set-up: {notes[-1]}\n")

    # Warm-up (bytecode, OS caches) at the first size only; the expensive from-empty run only when cheap.
    warm = first_size
    warm_empty = first_size and n <= 100
    label = tool
    runs = {
        "empty": Run(f"{label}: from empty (revision --autogenerate)",
                     lambda: (alembic_cmd(p_empty / "alembic.ini", "revision", "--autogenerate", "-m", "bench"),
                              env_e),
                     empty_check, timeout=args.peer_timeout, warm=warm_empty, soft=True),
        "noop": Run(f"{label}: no-op (alembic check)",
                    lambda: (alembic_cmd(p_full / "alembic.ini", "check"), env_f),
                    noop_check, expect=(0, 1, 255), timeout=args.peer_timeout, warm=warm, soft=True),
        "changed": Run(f"{label}: one changed (alembic check)",
                       lambda: (alembic_cmd(p_full / "alembic.ini", "check"), env_c),
                       changed_check, expect=(1, 255), timeout=args.peer_timeout, warm=warm, soft=True),
    }
    return runs, seen_ops


# -- report -------------------------------------------------------------------------------


def fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def report_size(result: SizeResult, order: str) -> None:
    n = result.n
    views, functions = workload.counts(n)
    depth = math.ceil(views / workload.CHAINS) if views else 0
    print()
    print(f"## N = {n}: {views} views ({min(views, workload.CHAINS)} chains, depth up to {depth}), "
          f"{functions} functions; registry order: {order}")
    for note in result.notes:
        print(f"# check: {note}")
    all_runs = [result.floor, result.floor_import, *result.ours.values()]
    for tool in result.peers:
        all_runs.extend(result.peers[tool].values())
    print(f"{'case':<{WIDTH}} {'median':>9} {'min':>9} {'max':>9}")
    for run in all_runs:
        if run.ok:
            print(f"{run.label:<{WIDTH}} {run.median:>8.3f}s {min(run.times):>8.3f}s {max(run.times):>8.3f}s")
        elif run.times:  # some rounds finished before the failure: show them, marked
            print(f"{run.label:<{WIDTH}} {run.median:>8.3f}s {min(run.times):>8.3f}s {max(run.times):>8.3f}s"
                  f"  (only {len(run.times)} run(s), then FAILED: {run.failed})")
        else:
            print(f"{run.label:<{WIDTH}} {'FAILED: ' + (run.failed or 'no timed run')}")
    print()
    for key in CASES:
        run = result.ours[key]
        print(c.difference_line(run, result.floor, f"myapp {CASE_TITLES[key]} above start-up (heads)", WIDTH))
    for key in SHUFFLED_CASES:
        if f"{key} shuffled" in result.ours:
            print(c.ratio_line(result.ours[f"{key} shuffled"], result.ours[key],
                               f"ratio shuffled / dependency order, {CASE_TITLES[key]}", WIDTH))
    for tool in result.peers:
        ops = result.peer_ops[tool]
        for key in (k for k in CASES if k in result.peers[tool]):
            peer, ours = result.peers[tool][key], result.ours[key]
            if peer.ok and len(peer.times) == len(ours.times):
                print(c.ratio_line(peer, ours, f"ratio {tool} / myapp, {CASE_TITLES[key]}", WIDTH))
            else:
                print(f"{'ratio ' + tool + ' / myapp, ' + CASE_TITLES[key]:<{WIDTH}} n/a ({peer.failed or 'incomplete'})")
        print(f"# {tool} generated ops: from empty {sorted(ops['empty'])}, no-op check listed "
              f"{sorted(ops['noop'])}, one-change check listed {sorted(ops['changed'])}")
    sys.stdout.flush()


def report_summary(results: List[SizeResult], peers: Dict[str, str]) -> None:
    print()
    print("## Summary: medians in seconds (in brackets: above the start-up floor `heads`)")
    head = f"{'N':>5} {'start-up':>9}"
    for key in CASES:
        head += f" {'myapp ' + CASE_TITLES[key]:>34}"
    print(head)
    for r in results:
        line = f"{r.n:>5} {r.floor.median:>8.2f}s"
        for key in CASES:
            run = r.ours[key]
            cell = f"{run.median:.2f}s (+{run.median - r.floor.median:.2f}s)"
            line += f" {cell:>34}"
        print(line)
    for tool in peers:
        print()
        print(f"{tool} {peers[tool]}: median seconds, and ratio to myapp in the same rounds")
        print(f"{'N':>5}" + "".join(f" {CASE_TITLES[k]:>34}" for k in PEER_CASES))
        for r in results:
            if tool not in r.peers:
                continue
            line = f"{r.n:>5}"
            for key in (k for k in PEER_CASES if k in r.peers[tool]):
                peer, ours = r.peers[tool][key], r.ours[key]
                ratio = peer.median / ours.median if peer.ok else 0.0
                cell = f"{peer.median:.2f}s ({ratio:.{2 if ratio < 10 else 0}f}x)" if peer.ok else "failed"
                line += f" {cell:>34}"
            print(line)


def main(argv=None) -> int:
    parser = c.arg_parser(__doc__.splitlines()[0])
    parser.set_defaults(runs=3)
    parser.add_argument("--sizes", default="20,100,300,1000,10000",
                        help="object counts, comma-separated (default 20,100,300,1000,10000)")
    parser.add_argument("--order", choices=workload.ORDERS, default="dependency",
                        help="registry order of the objects (default dependency)")
    parser.add_argument("--also-shuffled", action="store_true",
                        help="with --order dependency, also time from empty, no-op and one changed with the "
                             "registry shuffled, in the same rounds, and print the ratios")
    parser.add_argument("--peers-max", type=int, default=100,
                        help="time the peers only up to this many objects (default 100)")
    parser.add_argument("--no-peers", action="store_true", help="do not time the peers even if installed")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"which peers to time if installed, comma-separated (default {','.join(PEERS)})")
    parser.add_argument("--peer-timeout", type=float, default=900,
                        help="seconds before a peer run is stopped and its case dropped (default 900)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds before one of our runs is stopped, failing the bench (default 900)")
    args = parser.parse_args(argv)
    if args.also_shuffled and args.order != "dependency":
        parser.error("--also-shuffled compares with the dependency order: leave --order as it is")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    chosen = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(chosen) - set(PEERS)
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(sorted(unknown))}; known: {', '.join(PEERS)}")
    peers = {} if args.no_peers else {k: v for k, v in peers_available().items() if k in chosen}
    # Dropping N objects in one transaction takes N locks; PostgreSQL's default shared lock table
    # (max_locks_per_transaction 64 x 100 connections) holds about 6,400.
    server_settings = {"max_locks_per_transaction": "256"} if max(sizes, default=0) > 3000 else None
    with c.workspace() as tmp, c.admin_server(tmp, server_settings) as admin_url:
        dbs = c.Databases(admin_url)
        try:
            site = write_site(tmp / "site")
            base_env = c.base_env(tmp / "pycache")
            base_env["PYTHONPATH"] = str(site) + (
                ":" + base_env["PYTHONPATH"] if base_env.get("PYTHONPATH") else ""
            )
            head_url = dbs.create(prefix="bench_head")
            _, proc = execute(c.myapp_db("migrate", "--url", head_url), base_env)
            if proc is None or proc.returncode != 0 or c.version_of(head_url) != [c.package_head()]:
                fail("migrate to the app's head failed", ["migrate"], proc)
            head_template = c.sa.make_url(head_url).database

            c.header("makemigrations (autogenerate) for N views and functions, and the peers",
                     args.runs, args.warmup, dbs.server_version())
            print(f"# date {time.strftime('%Y-%m-%d')}; sizes {', '.join(map(str, sizes))}; "
                  f"registry order {args.order}; interpreter {sys.executable}")
            if server_settings:
                print("# server settings: " + ", ".join(f"{k} = {v}" for k, v in server_settings.items())
                      + " (for the drops of the largest size)")
            if args.no_peers:
                print("# peers: not timed (--no-peers)")
            for module, (dist, wanted) in PEERS.items():
                if module not in chosen:
                    continue
                if module in peers:
                    same = "" if peers[module] == wanted else f" (the issue measured {wanted})"
                    print(f"# peer {module} {peers[module]}{same}: timed for N <= {args.peers_max}, "
                          f"per-run time-out {args.peer_timeout:.0f}s")
                elif not args.no_peers:
                    print(f"# peer {module}: not importable in this Python, not timed; to compare, "
                          f"install it into the bench's environment: {INSTALL_HINT}")
            sys.stdout.flush()

            results = []
            for k, n in enumerate(sizes):
                sys.stderr.write(f"N = {n}\n")
                result = run_size(n, args, tmp, site, dbs, head_template, base_env, peers, k == 0)
                report_size(result, args.order)
                results.append(result)
                for db in [d for d in dbs.created if d != head_template]:
                    dbs.drop(dbs.admin_url.set(database=db).render_as_string(hide_password=False))
                for tool in result.peers:  # a peer that failed at this size is not tried at larger ones
                    if any(r.failed and "timed out" in r.failed
                           for r in result.peers[tool].values()):
                        sys.stderr.write(f"  {tool} timed out at N = {n}: not timed at larger sizes\n")
                        peers.pop(tool, None)
            report_summary(results, {t: v for t, v in peers_available().items()
                                     if t in chosen and not args.no_peers})
            return 0
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    sys.exit(main())
