"""makemigrations and the --checks for views, functions and materialized views."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import myapp.db.objects
from dbhelpers import snapshot
from myapp.db import MatviewIndex, ReplaceableFunction, ReplaceableMatview, ReplaceableView
from myapp.db.objects import geo, stations, summaries
from myapp.db.replaceable.registry import Registry

APP = [stations.station_positions, stations.active_station_positions, geo.distance_km,
       summaries.daily_observations]


@pytest.fixture
def registry(monkeypatch):
    """Swap the app's registry for a list of objects, as a developer's edit would."""

    def use(*objects):
        monkeypatch.setattr(myapp.db.objects, "registry", Registry(objects))

    return use


def check(cli, url):
    return cli("makemigrations", "--check", "--url", url)


def write(cli, url, message):
    result = cli("makemigrations", "-m", message, "--url", url)
    assert result.status == 0, result
    return Path(result.out.strip())


def test_in_sync_at_head(cli, head_url):
    result = check(cli, head_url)
    assert result.status == 0 and result.out == ""


def test_whitespace_case_casts_and_parentheses_are_not_changes(cli, head_url, registry):
    restyled = ReplaceableView(
        "station_positions",
        """select s.id as station_id, s.network_id, n.country_code, s.code, s.name,
                  h.latitude,h.longitude,   h.elevation_m, h.valid_from
             from stations s join networks n on (n.id = s.network_id)
             join station_histories h on ((h.station_id)::integer = s.id)
            where (h.valid_to is null)""",
    )
    registry(restyled, *APP[1:])
    assert check(cli, head_url).status == 0


def test_migrate_check_reports_drift_at_head(cli, head_url, registry):
    registry(*APP[:-1])  # the materialized view was removed from the registry
    result = cli("migrate", "--check", "--url", head_url)
    assert result.status == 1
    assert "drop materialized view public.daily_observations" in result.out
    assert "makemigrations" in result.err


def test_new_changed_and_removed_objects_are_detected(cli, head_url, registry):
    new_view = ReplaceableView("network_names", "SELECT name FROM networks")
    changed_fn = ReplaceableFunction(
        geo.distance_km.label.split(" ", 1)[1],
        geo.distance_km.definition.replace("6371.0088", "6371.0"),
    )
    changed_mv = ReplaceableMatview(
        "daily_observations", summaries.daily_observations.definition,
        indexes=[MatviewIndex("ux_daily_observations_variable_day", ["variable_id", "day"], unique=True),
                 MatviewIndex("ix_daily_observations_n", ["n"])],
        grants={"PUBLIC": ["SELECT"]},
    )
    registry(stations.station_positions, changed_fn, changed_mv, new_view)  # active_... removed
    result = check(cli, head_url)
    assert result.status == 1
    assert result.out.splitlines() == [
        "drop view public.active_station_positions",
        f"replace {changed_fn.label}",
        "replace materialized view daily_observations",
        "create view network_names",
    ]


def test_generated_revision_applies_reverses_and_is_frozen(cli, migrations_copy, head_url, registry, engine_for):
    engine = engine_for(head_url)
    before = snapshot(engine)
    changed = ReplaceableView(
        "station_positions",
        stations.station_positions.definition.replace("h.valid_from", "h.valid_from, h.valid_to"),
    )
    registry(changed, *APP[1:], ReplaceableView("positions_north", "SELECT * FROM station_positions WHERE latitude > 0"))
    path = write(cli, head_url, "more positions")
    source = path.read_text()
    assert "previous_station_positions = ReplaceableView(" in source
    assert "op.replace_replaceable_object(station_positions, replaces=previous_station_positions)" in source
    assert source.index("op.replace_replaceable_object(station_positions") < source.index(
        "op.create_replaceable_object(positions_north)")
    registry(*APP)  # editing the registry afterwards changes nothing in the revision
    assert cli("migrate", "--url", head_url).status == 0
    with engine.connect() as conn:
        assert "valid_to" in conn.scalar(sa.text("SELECT pg_get_viewdef('station_positions')"))
        assert conn.scalar(sa.text("SELECT to_regclass('positions_north')")) is not None
    assert cli("migrate", "-1", "--url", head_url).status == 0
    assert snapshot(engine) == before


def _write_during_a_slow_check(monkeypatch, versions, outcome):
    """Have the check of the new objects' order take 0.3 s on the server (so the revision is written and
    linted meanwhile, where psycopg2's wait runs it), then end with ``outcome(conn, objects)``."""
    from myapp.db.autogenerate import settled

    seen = []

    def slow(conn, objects):
        conn.exec_driver_sql("SELECT pg_sleep(0.3)")
        seen.append(sorted(p.name for p in versions.glob("*.py")))
        return outcome(conn, objects)

    monkeypatch.setattr(settled, "create_pending", slow)
    return seen


def test_a_revision_written_while_its_order_was_checked_is_kept_only_if_the_order_holds(
        cli, migrations_copy, head_url, registry, engine_for, monkeypatch):
    """New objects only: the revision is written while the server creates their copies. When that
    fails, the file goes and the comparison runs again, creating the copies first (which finds
    an order by trying): one revision, in an order that applies."""
    versions = migrations_copy / "versions"
    before = set(versions.glob("*.py"))
    seen = _write_during_a_slow_check(monkeypatch, versions, lambda conn, objects: False)
    registry(*APP, ReplaceableView("north", "SELECT * FROM station_positions WHERE latitude > 0"),
             ReplaceableView("far_north", "SELECT * FROM north WHERE latitude > 60"))
    path = write(cli, head_url, "northern positions")
    meanwhile = "+psycopg2:" in head_url  # the wait that runs the writing (psycopg 3 waits on its own)
    assert len(seen) == 1 and len(seen[0]) == len(before) + meanwhile  # written during the check, then removed
    assert set(versions.glob("*.py")) - before == {path} and path.name not in seen[0]
    source = path.read_text()
    assert source.index("op.create_replaceable_object(north)") < source.index("op.create_replaceable_object(far_north)")
    up_down_up(cli, head_url)


def test_a_revision_written_while_the_check_finds_an_object_that_cannot_be_created_is_removed(
        cli, migrations_copy, head_url, registry, monkeypatch):
    from myapp.db.autogenerate import settled

    versions = migrations_copy / "versions"
    before = set(versions.glob("*.py"))
    seen = _write_during_a_slow_check(monkeypatch, versions, settled.create_pending)
    registry(*APP, ReplaceableView("broken", "SELECT no_such_column FROM stations"))
    result = cli("makemigrations", "-m", "broken view", "--url", head_url)
    assert result.status == 2 and "broken" in result.err and "Traceback" not in result.err, result
    meanwhile = "+psycopg2:" in head_url
    assert len(seen) == 1 and len(seen[0]) == len(before) + meanwhile  # it was written meanwhile
    assert set(versions.glob("*.py")) == before


def test_base_and_dependent_changing_together(cli, migrations_copy, head_url, registry, engine_for):
    """The dependent's old version no longer compiles against the new base: both go in one step."""
    engine = engine_for(head_url)
    before = snapshot(engine)
    base = ReplaceableView(
        "station_positions",
        stations.station_positions.definition.replace("s.code, s.name,", "s.code AS station_code, s.name,"),
    )
    dependent = ReplaceableView(
        "active_station_positions",
        stations.active_station_positions.definition.replace("p.code", "p.station_code"),
    )
    registry(dependent, base, *APP[2:])  # listed in the wrong order on purpose
    source = write(cli, head_url, "rename code").read_text()
    assert ("op.replace_replaceable_object(station_positions, replaces=previous_station_positions, "
            "dependents=[active_station_positions])") in source
    assert cli("migrate", "--url", head_url).status == 0
    assert check(cli, head_url).status == 0
    assert cli("migrate", "-1", "--url", head_url).status == 0
    assert snapshot(engine) == before


def test_generated_revision_keeps_bootstrap_equal_to_migrate(cli, migrations_copy, head_url, db_url, registry,
                                                             engine_for):
    registry(*APP, ReplaceableFunction("double_it(x integer)",
                                       "RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN 2 * x; END $$",
                                       grants={"PUBLIC": ["EXECUTE"]}))
    write(cli, head_url, "double it")
    assert cli("migrate", "--url", head_url).status == 0
    assert cli("bootstrap", "--url", db_url).status == 0
    assert snapshot(engine_for(db_url)) == snapshot(engine_for(head_url))


def test_objects_outside_managed_schemas_and_extension_members_are_left_alone(cli, head_url, engine_for):
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA elsewhere")
        conn.exec_driver_sql("CREATE VIEW elsewhere.theirs AS SELECT 1 AS one")
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # functions in public
    assert check(cli, head_url).status == 0


def test_nothing_changed_writes_nothing(cli, migrations_copy, head_url):
    before = sorted((migrations_copy / "versions").iterdir())
    result = cli("makemigrations", "-m", "nothing", "--url", head_url)
    assert result.status == 0 and "No changes detected." in result.err
    assert sorted((migrations_copy / "versions").iterdir()) == before


# -- a table change that needs a stored view gone ---------------------------------------


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
