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
