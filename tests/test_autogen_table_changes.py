"""makemigrations orders a view against the table change that needs its old version gone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import myapp.db.objects
from dbhelpers import snapshot
from myapp.db.objects import geo, stations, summaries
from myapp.db.replaceable.registry import Registry

APP = [stations.station_positions, stations.active_station_positions, geo.distance_km,
       summaries.daily_observations]


@pytest.fixture
def registry(monkeypatch):
    def use(*objects):
        monkeypatch.setattr(myapp.db.objects, "registry", Registry(objects))

    return use


def hand_edit(engine, *statements):
    """Change the database behind the migrations' back, views out of the way meanwhile."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW active_station_positions")
        conn.exec_driver_sql("DROP VIEW station_positions")
        for statement in statements:
            conn.exec_driver_sql(statement)


def up_down_up(cli, url):
    for target in ("head", "-1", "head"):
        done = cli("migrate", target, "--url", url)
        assert done.status == 0, done.err


def test_a_dropped_column_the_old_view_reads(cli, migrations_copy, head_url, registry, engine_for):
    """The database's view reads stations.legacy, which the models no longer have, and the
    registry's new version does not read it: drop the old view (and its dependent) first,
    drop the column, create the new versions after."""
    engine = engine_for(head_url)
    old_definition = stations.station_positions.definition.replace("s.code, s.name,", "s.code, s.name, s.legacy,")
    hand_edit(engine, "ALTER TABLE stations ADD COLUMN legacy text",
              f"CREATE VIEW station_positions AS {old_definition}",
              f"CREATE VIEW active_station_positions AS {stations.active_station_positions.definition}")
    before = snapshot(engine)
    registry(*APP)
    written = cli("makemigrations", "-m", "drop legacy", "--url", head_url)
    assert written.status == 0, written
    source = Path(written.out.strip()).read_text()
    order = [source.index(s) for s in (
        "op.drop_replaceable_object(previous_active_station_positions)",
        "op.drop_replaceable_object(previous_station_positions)",
        "op.drop_column('stations', 'legacy')",
        "op.create_replaceable_object(station_positions)",
        "op.create_replaceable_object(active_station_positions)",
    )]
    assert order == sorted(order), source
    up_down_up(cli, head_url)
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    assert cli("migrate", "-1", "--url", head_url).status == 0
    assert snapshot(engine) == before  # the downgrade puts the old views and the column back


def test_a_retyped_column_an_unchanged_view_reads(cli, migrations_copy, head_url, registry, engine_for):
    """stations.code is wider in the database than in the models; the views are unchanged, but
    they read it, so they are dropped before ALTER COLUMN ... TYPE and created after."""
    engine = engine_for(head_url)
    hand_edit(engine, "ALTER TABLE stations ALTER COLUMN code TYPE varchar(64)",
              f"CREATE VIEW station_positions AS {stations.station_positions.definition}",
              f"CREATE VIEW active_station_positions AS {stations.active_station_positions.definition}")
    registry(*APP)
    check = cli("makemigrations", "--check", "--url", head_url)
    assert check.status == 1 and "drop view public.station_positions" in check.out
    written = cli("makemigrations", "-m", "narrow code", "--url", head_url)
    assert written.status == 0, written
    source = Path(written.out.strip()).read_text()
    assert source.index("op.drop_replaceable_object(previous_station_positions)") < source.index(
        "op.alter_column('stations', 'code'") < source.index("op.create_replaceable_object(station_positions)")
    up_down_up(cli, head_url)
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    with engine.connect() as conn:
        assert conn.scalar(sa.text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'station_positions'::regclass AND attname = 'code'")) == "character varying(32)"
