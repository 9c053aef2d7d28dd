"""Drift checks that never block the app: records first, PostgreSQL only for what changed, read-only too."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

import myapp.db.objects
from myapp.db import ReplaceableMatview, ReplaceableView
from myapp.db.objects import geo, stations, summaries
from myapp.db.replaceable.registry import Registry
from myapp.db.catalog.sql import dependency_names, row_version
from myapp.db.runtime import records

from dbhelpers import assert_one_line

APP = [stations.station_positions, stations.active_station_positions, geo.distance_km, summaries.daily_observations]
CHECKS = [("migrate", "--check"), ("makemigrations", "--check")]


def recorded(engine):
    with engine.connect() as conn:
        return {tuple(r[:3]) for r in conn.exec_driver_sql("SELECT kind, schema, name FROM myapp_db_objects")}


def test_migrate_and_bootstrap_record_every_object(cli, db_url, head_url, engine_for):
    expected = {("view", "public", "station_positions"), ("view", "public", "active_station_positions"),
                ("function", "public", "distance_km"), ("materialized view", "public", "daily_observations")}
    assert recorded(engine_for(head_url)) == expected
    assert cli("bootstrap", "--url", db_url).status == 0
    assert recorded(engine_for(db_url)) == expected
    assert cli("migrate", "-1", "--url", head_url).status == 0  # the matview is replaced back: still recorded
    assert recorded(engine_for(head_url)) == expected


@pytest.mark.parametrize("command", CHECKS, ids=[c[0] for c in CHECKS])
def test_a_check_at_head_takes_no_lock_an_app_waits_behind(command, cli, head_url, engine_for):
    engine = engine_for(head_url)
    with engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM station_positions")  # ACCESS SHARE until it ends
        started = time.monotonic()
        result = cli(*command, "--url", head_url)
        took = time.monotonic() - started
        # an app query meanwhile: not queued behind anything
        with engine.connect() as app:
            begun = time.monotonic()
            app.exec_driver_sql("SELECT count(*) FROM station_positions")
            assert time.monotonic() - begun < 0.5
        reader.rollback()
    assert result.status == 0, result
    assert took < 3.0


@pytest.mark.parametrize("command", CHECKS, ids=[c[0] for c in CHECKS])
def test_a_check_behind_an_exclusive_lock_gives_up_naming_the_holder(command, cli, head_url, engine_for):
    """Deparsing a stored view locks what it reads: behind a session holding its table, a check waits the
    comparison's lock timeout, no longer, and names that session."""
    engine = engine_for(head_url)
    with engine.connect() as holder:
        holder.exec_driver_sql("SET application_name = 'the holder'")
        holder.exec_driver_sql("LOCK TABLE networks IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = cli(*command, "--url", head_url)
        took = time.monotonic() - started
        holder.rollback()
    assert_one_line(result, "waited more than 2s", "networks", "the holder", "run the check again")
    assert took < 5.0
    with engine.connect() as conn:  # nothing of the check is left waiting
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")) == 0


@pytest.mark.parametrize("command", CHECKS, ids=[c[0] for c in CHECKS])
def test_a_check_works_read_only(command, cli, head_url, engine_for, monkeypatch):
    engine = engine_for(head_url)
    database = sa.make_url(head_url).database
    with engine.connect() as conn:
        conn.exec_driver_sql(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" SET default_transaction_read_only = on')
        conn.commit()
    try:
        assert cli(*command, "--url", head_url).status == 0
        changed = ReplaceableView("station_positions", stations.station_positions.definition + " AND s.id > 0")
        monkeypatch.setattr(myapp.db.objects, "registry", Registry([changed, *APP[1:]]))
        drift = cli(*command, "--url", head_url)
        assert drift.status == 1 and "replace view station_positions" in drift.out, drift
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET transaction_read_only = off")
            conn.exec_driver_sql(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" RESET default_transaction_read_only')
            conn.commit()


def test_a_view_edited_by_hand_is_found(cli, head_url, engine_for):
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("CREATE OR REPLACE VIEW active_station_positions AS"
                             " SELECT p.station_id, p.code, p.name, p.latitude, p.longitude FROM station_positions p")
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 1 and "replace view active_station_positions" in result.out


@pytest.mark.parametrize("by_hand", [
    ["REVOKE SELECT ON daily_observations FROM PUBLIC"],
    ["DROP INDEX ux_daily_observations_variable_day"],
    # the same text again, so the same md5 as recorded, but no grant and no index (and the default ACL)
    ["DROP MATERIALIZED VIEW daily_observations",
     "CREATE MATERIALIZED VIEW daily_observations AS " + summaries.daily_observations.definition],
], ids=["grant revoked", "index dropped", "recreated bare"])
def test_grants_and_indexes_lost_by_hand_are_found(by_hand, cli, head_url, engine_for):
    with engine_for(head_url).begin() as conn:
        for statement in by_hand:
            conn.exec_driver_sql(statement)
    result = cli("migrate", "--check", "--url", head_url)
    assert result.status == 1 and "replace materialized view daily_observations" in result.out, result


def test_an_index_lost_by_hand_is_found_on_a_matview_without_grants(cli, head_url, engine_for, monkeypatch):
    bare = ReplaceableMatview("daily_observations", summaries.daily_observations.definition,
                              indexes=summaries.daily_observations.indexes)  # no grants: the default ACL
    monkeypatch.setattr(myapp.db.objects, "registry", Registry([*APP[:3], bare]))
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("DROP MATERIALIZED VIEW daily_observations")
        conn.exec_driver_sql("CREATE MATERIALIZED VIEW daily_observations AS " + bare.definition)
        conn.exec_driver_sql("CREATE UNIQUE INDEX ux_daily_observations_variable_day"
                             " ON daily_observations (variable_id, day)")
        for statement in records.record_object(bare):  # recorded as declared, as a revision would
            conn.execute(statement)
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("DROP INDEX ux_daily_observations_variable_day")
    result = cli("migrate", "--check", "--url", head_url)
    assert result.status == 1 and "replace materialized view daily_observations" in result.out, result


def test_restyled_declarations_are_normalised_without_touching_the_stored_objects(cli, head_url, engine_for, monkeypatch):
    restyled = ReplaceableView("station_positions", stations.station_positions.definition.upper().replace(
        "S.ID AS STATION_ID", "s.id AS station_id"))
    monkeypatch.setattr(myapp.db.objects, "registry", Registry([restyled, *APP[1:]]))
    engine = engine_for(head_url)
    with engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT 'station_positions'::regclass::oid"))
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 'station_positions'::regclass::oid")) == before


def test_databases_from_before_the_records_get_them_on_their_next_check(cli, head_url, engine_for):
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE myapp_db_objects")
    assert cli("migrate", "--check", "--url", head_url).status == 0
    assert len(recorded(engine)) == 4
    with engine.connect() as reader:  # and from then on the check needs no DDL
        reader.exec_driver_sql("SELECT count(*) FROM daily_observations")
        assert cli("migrate", "--check", "--url", head_url).status == 0
        reader.rollback()


def test_changed_objects_are_still_found(cli, head_url, monkeypatch):
    changed = ReplaceableView("station_positions", stations.station_positions.definition + " AND s.id > 0")
    new = ReplaceableView("network_names", "SELECT name FROM networks")
    monkeypatch.setattr(myapp.db.objects, "registry", Registry([changed, *APP[1:3], new]))  # matview removed
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 1
    assert result.out.splitlines() == [
        "drop materialized view public.daily_observations",
        "replace view station_positions",
        "create view network_names",
    ]


def test_makemigrations_check_imports_no_revision_module(cli, migrations_copy, head_url, tmp_path):
    """The heads come from the revision index: a long history costs a check nothing to import."""
    from dbhelpers import HEAD

    marker = tmp_path / "imported"
    head = next((migrations_copy / "versions").glob(f"{HEAD}_*.py"))
    head.write_text(head.read_text() + f"\nopen({str(marker)!r}, 'a').close()\n")
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 0 and "No changes detected." in result.err, result
    assert not marker.exists()
    # Where the index cannot tell (two heads), Alembic's revision map decides, importing every file.
    second = migrations_copy / "versions" / "b2b2b2b2b2b2_second.py"
    second.write_text(f'"""second"""\nrevision = "b2b2b2b2b2b2"\ndown_revision = "{HEAD}"\n'
                      "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    pass\n\n\n"
                      "def downgrade():\n    pass\n")
    other = migrations_copy / "versions" / "c3c3c3c3c3c3_third.py"
    other.write_text(second.read_text().replace("b2b2b2b2b2b2", "c3c3c3c3c3c3").replace('"""second"""', '"""third"""'))
    refused = cli("makemigrations", "--check", "--url", head_url)
    assert refused.status == 2 and "b2b2b2b2b2b2" in refused.err and "c3c3c3c3c3c3" in refused.err, refused
    assert marker.exists()


# -- the rows' version: a view's text is deparsed only when its catalog rows moved ------------------

STALE_ROWS = sa.text(
    "SELECT o.name FROM myapp_db_objects o JOIN pg_namespace n ON n.nspname = o.schema"
    " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = o.name AND c.relkind IN ('v', 'm')"
    f" LEFT JOIN {dependency_names()} deps ON deps.ev_class = c.oid"
    f" WHERE o.catalog_row IS DISTINCT FROM {row_version('c.oid', 'deps.names')} ORDER BY o.name"
)


def stale_rows(engine):
    with engine.connect() as conn:
        return list(conn.scalars(STALE_ROWS))


def test_a_view_whose_rows_did_not_move_is_not_deparsed(cli, head_url, engine_for):
    engine = engine_for(head_url)
    assert stale_rows(engine) == []  # migrate recorded every view's rows
    with engine.begin() as conn:  # a record that no longer matches the text: only deparsing could tell
        conn.exec_driver_sql("UPDATE myapp_db_objects SET catalog_hash = repeat('0', 32) WHERE name = 'station_positions'")
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    with engine.begin() as conn:  # any new row version makes the check read the text again
        conn.exec_driver_sql("ALTER VIEW station_positions RENAME COLUMN name TO station_name")
        conn.exec_driver_sql("ALTER VIEW station_positions RENAME COLUMN station_name TO name")
    assert stale_rows(engine) == ["station_positions"]
    result = cli("makemigrations", "--check", "--url", head_url)
    assert result.status == 0, result  # normalised: in sync after all


def test_rows_that_moved_under_the_same_text_are_recorded_again_by_a_check(cli, head_url, engine_for):
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER VIEW active_station_positions RENAME COLUMN code TO station_code")
        conn.exec_driver_sql("ALTER VIEW active_station_positions RENAME COLUMN station_code TO code")
    assert stale_rows(engine) == ["active_station_positions"]
    assert cli("migrate", "--check", "--url", head_url).status == 0
    assert stale_rows(engine) == []
    with engine.begin() as conn:  # a text edited by hand is not a move: it stays found, and unrecorded
        conn.exec_driver_sql("CREATE OR REPLACE VIEW active_station_positions AS"
                             " SELECT p.station_id, p.code, p.name, p.latitude, p.longitude FROM station_positions p")
    assert cli("migrate", "--check", "--url", head_url).status == 1
    assert stale_rows(engine) == ["active_station_positions"]


def test_a_replacement_records_the_dependents_the_server_recreated(cli, migrations_copy, head_url, engine_for,
                                                                   monkeypatch):
    # elevation_m as text: no CREATE OR REPLACE can change a column's type, so the server drops the view
    # and its dependent and creates them again
    changed = ReplaceableView("station_positions", stations.station_positions.definition.replace(
        "h.elevation_m,", "CAST(h.elevation_m AS text) AS elevation_m,"))
    monkeypatch.setattr(myapp.db.objects, "registry", Registry([changed, *APP[1:]]))
    engine = engine_for(head_url)
    with engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT 'active_station_positions'::regclass::oid"))
    assert cli("makemigrations", "-m", "narrow the positions", "--url", head_url).status == 0
    assert cli("migrate", "--url", head_url).status == 0
    with engine.connect() as conn:  # the dependent, not named by the revision, was dropped and created again
        assert conn.scalar(sa.text("SELECT 'active_station_positions'::regclass::oid")) != before
    assert stale_rows(engine) == []
    assert cli("makemigrations", "--check", "--url", head_url).status == 0


def test_records_from_before_the_rows_version_work_read_only_and_get_it_on_a_check(cli, head_url, engine_for):
    engine = engine_for(head_url)
    database = sa.make_url(head_url).database
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE myapp_db_objects DROP COLUMN catalog_row")
        conn.exec_driver_sql(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" SET default_transaction_read_only = on')
    try:
        assert cli("makemigrations", "--check", "--url", head_url).status == 0
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET transaction_read_only = off")
            conn.exec_driver_sql(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" RESET default_transaction_read_only')
            conn.commit()
    with engine.connect() as conn:
        assert "catalog_row" not in {c["name"] for c in sa.inspect(conn).get_columns("myapp_db_objects")}
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
    assert stale_rows(engine) == []
    with engine.begin() as conn:  # and a revision's records add it too
        conn.exec_driver_sql("ALTER TABLE myapp_db_objects DROP COLUMN catalog_row")
    assert cli("migrate", "-1", "--url", head_url).status == 0
    assert cli("migrate", "--url", head_url).status == 0
    assert stale_rows(engine) == []


def test_a_rename_of_what_a_view_reads_moves_its_rows_version(cli, head_url, engine_for):
    """PostgreSQL prints a view over a renamed column with the new name, the view's own rows untouched:
    the rows' version names what the view depends on, so the check reads its text again."""
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE stations RENAME COLUMN code TO station_code")
    assert stale_rows(engine) == ["station_positions"]
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE stations RENAME COLUMN station_code TO code")
    assert stale_rows(engine) == []
    assert cli("makemigrations", "--check", "--url", head_url).status == 0
