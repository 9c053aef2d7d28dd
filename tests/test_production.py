"""Safe on a busy database: bounded lock waits with retries, interrupts that reach the server, work outside transactions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import sqlalchemy as sa

from conftest import ROOT
from dbhelpers import HEAD, snapshot, version
from myapp.apps import app

REVISION = '''\
"""{doc}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None
{extra}

def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''


def add_revision(migrations, rev, down, doc, upgrade, downgrade="pass", extra=""):
    (migrations / "versions" / f"{rev}_x.py").write_text(REVISION.format(
        rev=rev, down=down, doc=doc, extra=extra,
        upgrade=textwrap.indent(textwrap.dedent(upgrade).strip(), "    "),
        downgrade=textwrap.indent(textwrap.dedent(downgrade).strip(), "    "),
    ))
    return rev


ADD_NOTE = ('op.add_column("networks", sa.Column("note", sa.Text))', 'op.drop_column("networks", "note")')


def start(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MYAPP_DATABASE")}
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "myapp.db", *map(str, args)], cwd=ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def locks_of_others(engine) -> int:
    """Relation and advisory locks held in the test database by sessions other than this one."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype IN ('advisory', 'relation') AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )).scalar()


def sleeping(engine) -> bool:
    """Whether another session is running the slow revision's pg_sleep."""
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()"
            " AND query LIKE :q"), {"q": "%pg_sleep%"}).scalar())


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# -- bounded lock waits, retried ---------------------------------------------------


def test_app_queries_wait_at_most_the_lock_timeout_behind_a_blocked_migration(
    cli, migrations_copy, head_url, engine_for
):
    add_revision(migrations_copy, "ab0000000001", HEAD, "add a note", *ADD_NOTE)
    engine = engine_for(head_url)
    stalls, stop = [], threading.Event()

    def app_queries():
        with engine.connect() as conn:
            while not stop.is_set():
                started = time.perf_counter()
                conn.exec_driver_sql("SELECT count(*) FROM networks")
                conn.exec_driver_sql("INSERT INTO networks (name) VALUES (md5(random()::text))")
                conn.commit()
                stalls.append(time.perf_counter() - started)
                time.sleep(0.02)

    with engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM networks")  # holds ACCESS SHARE until it ends
        workers = [threading.Thread(target=app_queries) for _ in range(3)]
        for w in workers:
            w.start()
        threading.Timer(3.5, reader.rollback).start()  # the long report ends after 3.5 s
        started = time.monotonic()
        result = cli("migrate", "--lock-timeout", "0.5", "--url", head_url)
        took = time.monotonic() - started
    stop.set()
    for w in workers:
        w.join()
    assert result.status == 0, result
    assert version(engine) == ["ab0000000001"] and took >= 3.0
    retries = [line for line in result.err.splitlines() if "lock timeout waiting for a lock on networks" in line]
    assert retries and "rolled back, retry 1 of 10" in retries[0] and "pid " in retries[0]
    assert "since" in retries[0] and result.err.count("Applying ab0000000001 (add a note)...") == 1 + len(retries)
    assert max(stalls) < 0.5 + 0.5, f"an app query waited {max(stalls):.2f} s behind the migration"


def test_lock_retries_exhausted_is_one_line_naming_the_blocker(cli, migrations_copy, head_url, engine_for):
    add_revision(migrations_copy, "ab0000000001", HEAD, "add a note", *ADD_NOTE)
    engine = engine_for(head_url)
    before = snapshot(engine)
    with engine.connect() as reader:
        reader.exec_driver_sql("SET application_name = 'the long report'")
        reader.exec_driver_sql("SELECT count(*) FROM networks")
        result = cli("migrate", "--lock-timeout", "0.1", "--lock-retries", "1", "--url", head_url)
        reader.rollback()
    assert result.status == 2 and "Traceback" not in result.err
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "ab0000000001" in line and "timed out waiting for networks behind pid" in line
    assert "(the long report)" in line and "2 times" in line and "--lock-timeout" in line
    assert "the database is as it was" in line
    assert snapshot(engine) == before


def test_four_migrates_with_a_role_lock_timeout_all_succeed(migrations_copy, db_url, engine_for):
    """A role's lock_timeout (as strong_migrations advises) cannot fail a wait for the migration lock."""
    add_revision(migrations_copy, "ab0000000002", HEAD, "takes a while",
                 'op.execute(sa.select(sa.func.pg_sleep(1.5)))')
    engine = engine_for(db_url)
    database = sa.make_url(db_url).database
    with engine.connect() as conn:
        conn.exec_driver_sql(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" SET lock_timeout = \'1s\'')
        conn.commit()
    env = {app.variable("MIGRATIONS_DIR"): str(migrations_copy)}
    runs = [start("migrate", "--url", db_url, env=env) for _ in range(4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in runs]
    assert [status for status, _, _ in results] == [0, 0, 0, 0], results
    applied = [line for _, _, err in results for line in err.splitlines() if "Applying ab0000000002" in line]
    assert len(applied) == 1
    assert sum("No migrations to apply." in err for _, _, err in results) == 3
    assert any("Waiting for the migration lock, held by pid" in err for _, _, err in results)
    assert version(engine) == ["ab0000000002"]


def test_lock_wait_bound_names_the_holder(cli, head_url, engine_for):
    with engine_for(head_url).connect() as holder:
        holder.exec_driver_sql("SET application_name = 'someone else'")
        holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": app.lock_key})
        holder.commit()
        started = time.monotonic()
        result = cli("migrate", "--lock-wait", "0.6", "--url", head_url)
        took = time.monotonic() - started
    assert result.status == 2 and 0.5 < took < 5
    assert result.err.count("Waiting for the migration lock, held by pid") == 1
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "still held after 0.6 s, by pid" in line and "(someone else)" in line and "--lock-wait" in line


def test_a_no_op_behind_a_locked_version_table_waits_at_most_the_lock_timeout(cli, head_url, engine_for):
    """Reading where the database is needs no more than a share lock, and no longer than the lock timeout."""
    engine = engine_for(head_url)
    before = snapshot(engine)
    with engine.connect() as holder:
        holder.exec_driver_sql("LOCK TABLE myapp_db_revisions IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = cli("migrate", "--lock-timeout", "0.5", "--url", head_url)
        took = time.monotonic() - started
        holder.rollback()
    assert result.status == 2 and took < 5, result
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "waited longer than the lock timeout for a lock another session holds" in line
    assert "run again when that session is done, or give --lock-timeout SECONDS" in line
    assert snapshot(engine) == before and version(engine) == [HEAD]


def test_statement_timeout(cli, migrations_copy, head_url, engine_for):
    add_revision(migrations_copy, "ab0000000003", HEAD, "sleeps", 'op.execute(sa.select(sa.func.pg_sleep(3)))')
    result = cli("migrate", "--statement-timeout", "0.5", "--url", head_url)
    assert result.status == 2 and "ab0000000003" in result.err and "statement timeout" in result.err
    assert version(engine_for(head_url)) == [HEAD]


@pytest.mark.parametrize("variable, value", [("MYAPP_DB_LOCK_TIMEOUT", "soon"), ("MYAPP_DB_LOCK_RETRIES", "-1")])
def test_bad_limits_are_one_line(cli, head_url, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    result = cli("migrate", "--url", head_url)
    assert result.status == 2 and variable in result.err and "Traceback" not in result.err


def test_long_steps_say_what_they_wait_for(cli, migrations_copy, head_url, engine_for, monkeypatch):
    from myapp.db.runtime import watch

    monkeypatch.setattr(watch, "REMIND", 0.8)
    add_revision(migrations_copy, "ab0000000001", HEAD, "add a note", *ADD_NOTE)
    with engine_for(head_url).connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM networks")
        threading.Timer(2.0, reader.rollback).start()
        result = cli("migrate", "--lock-timeout", "5", "--url", head_url)
    assert result.status == 0, result
    long = [line for line in result.err.splitlines() if ": running for " in line]
    assert long and "waiting for a lock on networks, behind pid" in long[0]


# -- interrupts ------------------------------------------------------------------------


SLOW = ('op.add_column("networks", sa.Column("note", sa.Text))\nop.execute(sa.select(sa.func.pg_sleep(30)))',
        'op.drop_column("networks", "note")')


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_statement_cancels_it_on_the_server(sig, status, migrations_copy, head_url, engine_for):
    add_revision(migrations_copy, "ab0000000004", HEAD, "slow", *SLOW)
    engine = engine_for(head_url)
    before = snapshot(engine)
    run = start("migrate", "--url", head_url, env={app.variable("MIGRATIONS_DIR"): str(migrations_copy)})
    assert wait_until(lambda: sleeping(engine), 20)  # inside the revision, ACCESS EXCLUSIVE on networks held
    sent = time.monotonic()
    run.send_signal(sig)
    assert run.wait(timeout=10) == status
    assert time.monotonic() - sent < 1.5
    assert wait_until(lambda: locks_of_others(engine) == 0, 2)
    err = run.stderr.read()
    [line] = [line for line in err.splitlines() if "error:" in line]
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    assert f"interrupted by {name} while applying revision ab0000000004 (slow)" in line
    assert "the database is as it was" in line and "Traceback" not in err
    assert snapshot(engine) == before and version(engine) == [HEAD]


def test_idle_work_runs_while_the_server_works_and_a_failing_task_is_dropped(admin):
    from myapp.db.runtime import interrupts

    assert admin.dialect.driver == "psycopg2"  # the idle work runs in psycopg2's wait callback
    interrupts.handle_signals()  # as the command line does
    ran = []

    def failing():
        raise RuntimeError("a task that fails is dropped")

    def task():
        ran.append(time.monotonic())

    with admin.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # connected: what follows is the statement alone
        interrupts.when_idle(failing)
        interrupts.when_idle(task)
        interrupts.when_idle(task)  # queued once
        started = time.monotonic()
        assert conn.exec_driver_sql("SELECT pg_sleep(0.5), 42").one()[1] == 42
        ended = time.monotonic()
    assert len(ran) == 1 and not interrupts._idle
    assert started + interrupts.IDLE_AFTER <= ran[0] < ended - 0.2  # while the server slept


def test_idle_tasks_run_one_at_a_time_while_the_server_is_still_at_it(admin):
    """A task that outlasts the statement leaves the next for a later statement: the answer is not kept waiting."""
    from myapp.db.runtime import interrupts

    interrupts.handle_signals()
    ran = []

    def slow():
        time.sleep(0.4)
        ran.append("slow")

    def second():
        ran.append("second")

    with admin.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        interrupts.when_idle(slow)
        interrupts.when_idle(second)
        try:
            assert conn.exec_driver_sql("SELECT pg_sleep(0.1), 1").one()[1] == 1
            assert ran == ["slow"] and list(interrupts._idle) == [second]
            assert conn.exec_driver_sql("SELECT pg_sleep(0.2), 2").one()[1] == 2
            assert ran == ["slow", "second"] and not interrupts._idle
        finally:
            interrupts.forget_idle(second)


def test_meanwhile_work_starts_at_the_first_wait_before_idle_work_and_is_forgotten_after_the_block(admin):
    """`meanwhile` is work the next step needs anyway: it starts as soon as the server is busy (no
    `IDLE_AFTER`), ahead of imports queued with `when_idle`, and never outlives its block."""
    from myapp.db.runtime import interrupts

    interrupts.handle_signals()
    ran = []

    def preload():
        ran.append("preload")

    def needed():
        ran.append(("needed", time.monotonic()))

    def never():
        ran.append("never")

    with admin.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        interrupts.when_idle(preload)
        try:
            with interrupts.meanwhile(needed):
                started = time.monotonic()
                assert conn.exec_driver_sql("SELECT pg_sleep(0.3), 7").one()[1] == 7
                ended = time.monotonic()
            assert ran[0][0] == "needed" and started <= ran[0][1] < ended - 0.2  # while the server slept
            assert ran[1:] == ["preload"]  # queued earlier, run after it, in the same wait
            with interrupts.meanwhile(never):
                pass  # no statement: the task is dropped with the block
            assert never not in interrupts._idle and "never" not in ran
            conn.exec_driver_sql("SELECT pg_sleep(0.1)")
            assert "never" not in ran
        finally:
            interrupts.forget_idle(preload)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_waiting_for_the_lock(sig, status, head_url, engine_for):
    with engine_for(head_url).connect() as holder:
        holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": app.lock_key})
        holder.commit()
        run = start("migrate", "--url", head_url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until it says it waits
            line = run.stderr.readline()
            if "Waiting for the migration lock" in line:
                break
        sent = time.monotonic()
        run.send_signal(sig)
        assert run.wait(timeout=10) == status and time.monotonic() - sent < 1.0
        err = run.stderr.read()
    assert "while waiting for the migration lock; nothing was changed" in err


def test_a_vanished_client_leaves_no_locks(migrations_copy, head_url, engine_for):
    """SIGKILL, as a crash or an OOM kill: the server notices and ends the statement and its locks."""
    add_revision(migrations_copy, "ab0000000004", HEAD, "slow", *SLOW)
    engine = engine_for(head_url)
    run = start("migrate", "--url", head_url, env={app.variable("MIGRATIONS_DIR"): str(migrations_copy)})
    assert wait_until(lambda: sleeping(engine), 20)
    run.kill()
    run.wait(timeout=10)
    assert wait_until(lambda: locks_of_others(engine) == 0, 3)
    assert version(engine) == [HEAD]


# -- work outside the transaction -------------------------------------------------------

CONCURRENT_INDEX = (
    'op.create_index("ix_networks_description", "networks", ["description"], postgresql_concurrently=True)',
    'op.drop_index("ix_networks_description", table_name="networks", postgresql_concurrently=True)',
)


def index_valid(engine, name):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :n"
        ), {"n": name}).scalar()


@pytest.mark.parametrize("step", [[], ["--step"]])
def test_non_atomic_revision_builds_an_index_concurrently(step, cli, migrations_copy, head_url, engine_for):
    first = add_revision(migrations_copy, "ab0000000011", HEAD, "before", *ADD_NOTE)
    second = add_revision(migrations_copy, "ab0000000012", first, "index concurrently", *CONCURRENT_INDEX,
                          extra="atomic = False\n")
    add_revision(migrations_copy, "ab0000000013", second, "after",
                 "op.execute(\"COMMENT ON TABLE networks IS 'after'\")", "op.execute('COMMENT ON TABLE networks IS NULL')")
    plan = cli("migrate", "--plan", "--url", head_url)
    assert "Apply ab0000000012 (index concurrently) [non-atomic]" in plan.out
    engine = engine_for(head_url)
    for target in ("head", HEAD, "head"):
        result = cli("migrate", target, *step, "--url", head_url)
        assert result.status == 0, result
    assert index_valid(engine, "ix_networks_description") is True
    assert version(engine) == ["ab0000000013"]


def test_a_failure_after_a_non_atomic_revision_says_where_the_database_stays(cli, migrations_copy, head_url,
                                                                             engine_for):
    first = add_revision(migrations_copy, "ab0000000021", HEAD, "index concurrently", *CONCURRENT_INDEX,
                         extra="atomic = False\n")
    add_revision(migrations_copy, "ab0000000022", first, "breaks", 'op.execute("SELECT * FROM no_such_table")')
    result = cli("migrate", "--url", head_url)
    assert result.status == 2
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "ab0000000022 (breaks) failed" in line and "the database stays at ab0000000021" in line
    assert version(engine_for(head_url)) == ["ab0000000021"]


def test_concurrent_build_recovers_from_an_invalid_index(cli, migrations_copy, head_url, engine_for):
    add_revision(migrations_copy, "ab0000000031", HEAD, "unique names, concurrently",
                 'op.create_index("ux_networks_description", "networks", ["description"], unique=True,'
                 ' postgresql_concurrently=True)',
                 'op.drop_index("ux_networks_description", table_name="networks", postgresql_concurrently=True)',
                 extra="atomic = False\n")
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO networks (name, description) VALUES ('a', 'same'), ('b', 'same')")
    failed = cli("migrate", "--url", head_url)
    assert failed.status == 2 and "ab0000000031" in failed.err and "outside a transaction" in failed.err
    assert "the database is as it was" not in failed.err  # the INVALID index below is a change
    assert index_valid(engine, "ux_networks_description") is False  # what the failed build left
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE networks SET description = name WHERE description = 'same'")
    again = cli("migrate", "--url", head_url)
    assert again.status == 0, again
    assert index_valid(engine, "ux_networks_description") is True


def test_concurrently_in_a_transactional_revision_is_refused_before_anything_runs(cli, migrations_copy, head_url,
                                                                                  engine_for):
    first = add_revision(migrations_copy, "ab0000000041", HEAD, "before", *ADD_NOTE)
    add_revision(migrations_copy, "ab0000000042", first, "index concurrently", *CONCURRENT_INDEX)
    engine = engine_for(head_url)
    before = snapshot(engine)
    result = cli("migrate", "--url", head_url)
    assert result.status == 2 and "Applying" not in result.err
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "ab0000000042 (index concurrently)" in line and "atomic = False" in line
    assert "ab0000000042_x.py" in line
    assert snapshot(engine) == before


@pytest.mark.parametrize("step", [[], ["--step"]])
def test_autocommit_block_in_an_ordinary_revision(step, cli, migrations_copy, head_url, engine_for):
    first = add_revision(migrations_copy, "ab0000000051", HEAD, "before", *ADD_NOTE)
    add_revision(
        migrations_copy, "ab0000000052", first, "index in an autocommit block",
        'with op.get_context().autocommit_block():\n'
        '    op.create_index("ix_networks_description", "networks", ["description"], postgresql_concurrently=True)\n'
        "op.execute(\"COMMENT ON TABLE networks IS 'indexed'\")",
        'op.execute("COMMENT ON TABLE networks IS NULL")\n'
        'with op.get_context().autocommit_block():\n'
        '    op.drop_index("ix_networks_description", table_name="networks", postgresql_concurrently=True)',
    )
    plan = cli("migrate", "--plan", "--url", head_url)
    assert "Apply ab0000000052 (index in an autocommit block) [autocommit block]" in plan.out
    engine = engine_for(head_url)
    for target in ("head", HEAD, "head"):
        result = cli("migrate", target, *step, "--url", head_url)
        assert result.status == 0, result
    assert index_valid(engine, "ix_networks_description") is True


def test_a_callers_transaction_refuses_a_non_atomic_revision(migrations_copy, head_url, engine_for):
    import myapp.db

    add_revision(migrations_copy, "ab0000000061", HEAD, "index concurrently", *CONCURRENT_INDEX,
                 extra="atomic = False\n")
    with engine_for(head_url).connect() as conn, conn.begin():
        with pytest.raises(myapp.db.UsageError, match="ab0000000061 .* outside a transaction"):
            myapp.db.migrate(conn)
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD


def test_the_migration_lock_waiter_does_not_deadlock_a_concurrent_build(migrations_copy, head_url, engine_for):
    """A waiter that held a snapshot would block the holder's CREATE INDEX CONCURRENTLY forever."""
    add_revision(migrations_copy, "ab0000000071", HEAD, "index concurrently, slowly",
                 'op.execute(sa.select(sa.func.pg_sleep(1)))\n' + CONCURRENT_INDEX[0], CONCURRENT_INDEX[1],
                 extra="atomic = False\n")
    env = {app.variable("MIGRATIONS_DIR"): str(migrations_copy)}
    runs = [start("migrate", "--url", head_url, env=env) for _ in range(2)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in runs]
    assert [status for status, _, _ in results] == [0, 0], results
    assert index_valid(engine_for(head_url), "ix_networks_description") is True
