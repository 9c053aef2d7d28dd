"""Async drivers through ``run_sync``: every command that reads the catalog, on asyncpg and psycopg's async mode.

(The rest of the suite runs once on psycopg2 and once on psycopg 3 URLs.)
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

import myapp.db
from dbhelpers import HEAD, REVISIONS, snapshot


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg_async"])
def test_every_command_through_run_sync(driver, databases, head_url, engine_for):
    from sqlalchemy.ext.asyncio import create_async_engine

    migrated = databases.create()
    bootstrapped = databases.create()

    async def run():
        engines = [create_async_engine(url.set(drivername=f"postgresql+{driver}"), poolclass=sa.NullPool)
                   for url in (migrated, bootstrapped)]
        seen = {}
        async with engines[0].connect() as conn:
            for target in ("head", "-1", "head", "zero", "head"):
                await conn.run_sync(lambda c: myapp.db.migrate(c, target))
                await conn.commit()
            seen["rows"] = await conn.run_sync(lambda c: myapp.db.showmigrations(c))
            seen["current"] = await conn.run_sync(lambda c: myapp.db.current(c))
            seen["check"] = await conn.run_sync(lambda c: myapp.db.migrate(c, check=True))
            seen["diffs"] = await conn.run_sync(lambda c: myapp.db.makemigrations(c, check=True))
            seen["refreshed"] = await conn.run_sync(lambda c: myapp.db.refresh(c, concurrently=True))
            await conn.commit()
        async with engines[1].connect() as conn:
            await conn.run_sync(lambda c: myapp.db.bootstrap(c))
            await conn.commit()
        for engine in engines:
            await engine.dispose()
        return seen

    seen = asyncio.run(run())
    assert [r.revision for r in seen["rows"] if r.applied] == REVISIONS
    assert [r.revision for r in seen["current"]] == [HEAD]
    assert seen["check"].drift == [] and not seen["check"].pending and seen["diffs"].diffs == []
    assert [(s.name, s.concurrently) for s in seen["refreshed"]] == [("public.daily_observations", True)]
    expected = snapshot(engine_for(head_url))
    for url in (migrated, bootstrapped):
        assert snapshot(engine_for(url.render_as_string(hide_password=False))) == expected


def test_an_async_connection_itself_is_refused_with_the_way_out():
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://nobody@localhost/nowhere")
    with pytest.raises(myapp.db.ConfigurationError, match="run_sync"):
        myapp.db.migrate(engine)


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg_async"])
def test_replacements_and_checks_on_real_schemas_through_run_sync(driver, head_url, engine_for):
    """ALL grants, a function named by its identity arguments, a replacement with a dependent owned
    elsewhere and column privileges, and the checks reading all of it, on both async drivers."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy.ext.asyncio import create_async_engine

    from myapp.db import ReplaceableFunction, ReplaceableView, plugins
    from myapp.db.autogenerate.describe import describe_diff
    from myapp.db.replaceable.ops import CreateReplaceableObjectOp, ReplaceReplaceableObjectOp

    signature = "tally(a integer, b integer DEFAULT 2, OUT total integer, VARIADIC extra integer[] DEFAULT '{}')"
    fn = ReplaceableFunction(signature, "LANGUAGE sql AS $$ SELECT a + b $$", grants={"PUBLIC": ["ALL"]})
    fn_new = ReplaceableFunction(signature.replace("OUT total integer", "OUT total bigint"),
                                 "LANGUAGE sql AS $$ SELECT (a + b)::bigint $$", grants={"PUBLIC": ["ALL"]})
    base = ReplaceableView("base", "SELECT n.id, n.name FROM networks n", grants={"PUBLIC": ["ALL"]})
    base_new = ReplaceableView("base", "SELECT n.name, n.id FROM networks n", grants={"PUBLIC": ["ALL"]})

    def replace_all(sync_conn):
        plugins.load()
        operations = Operations(MigrationContext.configure(sync_conn))
        for op in (CreateReplaceableObjectOp(fn), CreateReplaceableObjectOp(base)):
            operations.invoke(op)
        sync_conn.exec_driver_sql("CREATE VIEW child AS SELECT b.id, tally(b.id) AS t FROM base b")
        sync_conn.exec_driver_sql("GRANT SELECT (id) ON child TO PUBLIC")
        sync_conn.exec_driver_sql("COMMENT ON COLUMN child.t IS 'the tally'")
        for op in (ReplaceReplaceableObjectOp(base_new, base), ReplaceReplaceableObjectOp(fn_new, fn)):
            operations.invoke(op)

    async def run():
        engine = create_async_engine(sa.make_url(head_url).set(drivername=f"postgresql+{driver}"), poolclass=sa.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(replace_all)
            await conn.commit()
            check = await conn.run_sync(lambda c: myapp.db.makemigrations(c, check=True))
            drift = await conn.run_sync(lambda c: myapp.db.migrate(c, check=True))
        await engine.dispose()
        return check, drift

    check, drift = asyncio.run(run())
    lines = [describe_diff(d) for d in check.diffs]
    assert "drop function public.tally(a integer, b integer, OUT total bigint, VARIADIC extra integer[])" in lines
    assert {"drop view public.base", "drop view public.child"} <= set(lines) and drift.drift
    with engine_for(head_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT has_column_privilege('public', 'child', 'id', 'SELECT')"))
        assert conn.scalar(sa.text("SELECT col_description('child'::regclass, 2)")) == "the tally"
        assert conn.scalar(sa.text("SELECT pg_get_function_result('tally'::regproc)")) == "bigint"
        assert conn.scalar(sa.text("SELECT has_table_privilege('public', 'base', 'TRUNCATE')"))
