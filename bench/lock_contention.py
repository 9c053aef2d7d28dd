#!/usr/bin/env python
"""Benchmark: what app queries suffer while a migration waits behind a long reader.

    python bench/lock_contention.py [--duration 30] [--hold 12] [--clients 4] [--lock-timeout 2]

For each tool, on a fresh database at the app's head: ``--clients`` threads
run short queries on ``networks`` (a SELECT and an INSERT each, then a 20 ms
pause) for ``--duration`` seconds; two seconds in, a reader opens a
transaction that reads ``networks`` and holds it for ``--hold`` seconds; one
second after that, the migration adding a column to ``networks`` starts:

* myapp: ``python -m myapp.db migrate --lock-timeout T``, which waits at most
  T seconds for the table, rolls back and retries with backoff;
* plain Alembic: ``alembic upgrade head`` with Alembic's own generic env.py on
  a copy of the same history, which waits in the lock queue until the reader
  ends, and every app query on the table queues behind it.

Prints, per tool, the app's query latency p50 / p99 / max, the queries done,
the migration's duration and retries, and the ratio of the two worst stalls,
all from one run. Goal: myapp's max stall <= lock timeout + 100 ms; plain
Alembic's is about the reader's whole remaining hold.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import sqlalchemy as sa  # noqa: E402

import _common as c  # noqa: E402

REVISION = '''"""add a note to networks"""
from alembic import op
import sqlalchemy as sa

revision = "bc0000000001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("networks", sa.Column("note", sa.Text))


def downgrade():
    op.drop_column("networks", "note")
'''

# Alembic's own "generic" template env.py, online part, unchanged but for the URL.
PLAIN_ENV = '''
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                 poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
'''


def app_workload(url: str, stop: threading.Event, latencies: list) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        while not stop.is_set():
            started = time.perf_counter()
            conn.exec_driver_sql("SELECT count(*) FROM networks")
            conn.exec_driver_sql("INSERT INTO networks (name) VALUES (md5(random()::text))")
            conn.commit()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    engine.dispose()


def reader(url: str, hold: float) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET application_name = 'long report'")
        conn.exec_driver_sql("SELECT count(*) FROM networks")
        time.sleep(hold)
        conn.rollback()
    engine.dispose()


def one_run(url: str, argv, env, args) -> dict:
    stop, latencies = threading.Event(), []
    clients = [threading.Thread(target=app_workload, args=(url, stop, latencies)) for _ in range(args.clients)]
    for t in clients:
        t.start()
    time.sleep(2)
    holder = threading.Thread(target=reader, args=(url, args.hold))
    holder.start()
    time.sleep(1)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    holder.join()
    remaining = args.duration - (time.perf_counter() - started) - 3
    if remaining > 0:
        time.sleep(remaining)
    stop.set()
    for t in clients:
        t.join()
    if proc.returncode != 0:
        sys.stderr.write(f"bench: migration failed:\n{proc.stdout}{proc.stderr}")
        raise SystemExit(2)
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99) - 1], "max": ordered[-1],
        "queries": len(ordered), "took": took, "retries": proc.stderr.count("rolled back, retry"),
    }


def main() -> None:
    parser = c.arg_parser(__doc__.splitlines()[1])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of app workload per tool (default 30)")
    parser.add_argument("--hold", type=float, default=12.0, help="seconds the reader holds the table (default 12)")
    parser.add_argument("--clients", type=int, default=4, help="app client threads (default 4)")
    parser.add_argument("--lock-timeout", type=float, default=2.0, help="myapp's --lock-timeout (default 2)")
    args = parser.parse_args()
    with c.workspace() as tmp, c.admin_server(tmp) as admin:
        dbs = c.Databases(admin)
        try:
            migrations = tmp / "migrations"
            c.generate_history(migrations, len(c.package_revisions()) + 1)  # the app's revisions, then one no-op
            head = sorted((migrations / "versions").glob("*bench_step*"))[-1].name.split("_")[0]
            (migrations / "versions" / "bc0000000001_add_note.py").write_text(REVISION.format(down=head))
            plain = tmp / "plain"
            plain.mkdir()
            (plain / "env.py").write_text(PLAIN_ENV)
            env = c.base_env(tmp / "pycache")
            results = {}
            for tool in ("myapp", "alembic"):
                url = dbs.create()
                c.run_command(c.myapp_db("migrate", head, "--url", url), dict(env, **{c.MIGRATIONS_VARIABLE: str(migrations)}))
                if tool == "myapp":
                    argv = c.myapp_db("migrate", "--lock-timeout", str(args.lock_timeout), "--url", url)
                    run_env = dict(env, **{c.MIGRATIONS_VARIABLE: str(migrations)})
                else:
                    ini = tmp / "alembic.ini"
                    ini.write_text(
                        f"[alembic]\nscript_location = {plain}\nversion_locations = {migrations / 'versions'}\n"
                        f"sqlalchemy.url = {url.replace('%', '%%')}\n"
                    )
                    argv = [str(Path(sys.executable).parent / "alembic"), "-c", str(ini), "upgrade", "head"]
                    run_env = env
                sys.stderr.write(f"bench: {tool}...\n")
                results[tool] = one_run(url, argv, run_env, args)
            print(f"lock contention: {args.clients} app clients for {args.duration:.0f} s, a reader holding "
                  f"networks for {args.hold:.0f} s, a migration adding a column (server {dbs.server_version()})")
            print(f"{'tool':<34} {'p50':>8} {'p99':>8} {'max':>8} {'queries':>8} {'migration':>10} {'retries':>8}")
            for tool, label in (("myapp", f"myapp (lock timeout {args.lock_timeout:g} s)"),
                                ("alembic", "plain Alembic upgrade head")):
                r = results[tool]
                print(f"{label:<34} {r['p50'] * 1000:>6.0f}ms {r['p99'] * 1000:>6.0f}ms {r['max'] * 1000:>6.0f}ms "
                      f"{r['queries']:>8} {r['took']:>9.1f}s {r['retries']:>8}")
            mine, theirs = results["myapp"]["max"], results["alembic"]["max"]
            print(f"worst app stall, plain Alembic / myapp: {theirs / mine:.1f}x")
            goal = args.lock_timeout + 0.1
            print(f"goal: myapp's worst stall <= lock timeout + 100 ms ({goal:.1f} s): "
                  f"{'met' if mine <= goal else 'NOT met'} ({mine:.2f} s)")
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    main()
