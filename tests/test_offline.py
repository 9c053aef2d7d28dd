"""`migrate --sql` applies and means the same: ``--sql | psql -1`` leaves what online ``migrate`` leaves.

For the app's own history, base to head, ``--from`` every revision, and head
down to zero: two databases at the start revision, with what a DBA adds to
the replaceable objects (grants, column privileges, comments, an extra
index, an owner, view options, an INSTEAD OF trigger); one is migrated
online, the other gets the offline SQL through psql; ``pg_dump
--schema-only`` of both must be identical.
"""

from __future__ import annotations

import pytest

from dbhelpers import HEAD, REVISIONS, cluster_roles
from pgtools import pg_dump_schema, psql

OBJECTS_FROM = REVISIONS.index("c4d5e6f7a8b9")  # the first revision with replaceable objects


@pytest.fixture(scope="module")
def dba_roles(admin):
    with cluster_roles(admin, reader="offline_reader", owner="Offline Owner") as names:
        yield names


def dba_changes(engine, roles) -> None:
    """What a DBA does to the app's views by hand; replacements must keep all of it."""
    quote = engine.dialect.identifier_preparer.quote
    reader, owner = quote(roles["reader"]), quote(roles["owner"])
    with engine.begin() as conn:
        for statement in (
            f"GRANT SELECT ON daily_observations TO {reader}",
            "CREATE INDEX ix_daily_observations_n ON daily_observations (n)",
            "COMMENT ON MATERIALIZED VIEW daily_observations IS 'refreshed nightly'",
            "COMMENT ON COLUMN daily_observations.n IS 'observations that day'",
            f"GRANT SELECT ON station_positions TO {reader}",
            "COMMENT ON VIEW station_positions IS 'where each station is'",
            f"GRANT SELECT (code, name) ON active_station_positions TO {reader}",
            "COMMENT ON COLUMN active_station_positions.code IS 'the station code'",
            "ALTER VIEW active_station_positions SET (security_barrier = true)",
            "CREATE FUNCTION dba_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
            "CREATE TRIGGER refuse_insert INSTEAD OF INSERT ON active_station_positions"
            " FOR EACH ROW EXECUTE FUNCTION dba_refuse()",
            f"ALTER VIEW active_station_positions OWNER TO {owner}",
            "REVOKE EXECUTE ON FUNCTION distance_km(double precision, double precision, double precision,"
            " double precision) FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION distance_km(double precision, double precision, double precision,"
            f" double precision) TO {reader}",
        ):
            conn.exec_driver_sql(statement)


CASES = [(None, "head")] + [(rev, "head") for rev in REVISIONS[:-1]] + [(HEAD, "zero")]


@pytest.mark.parametrize("start, target", CASES, ids=[f"{s or 'base'}-{t}" for s, t in CASES])
def test_offline_sql_applies_and_matches_online(start, target, cli, databases, engine_for, dba_roles):
    online, offline = (databases.create().render_as_string(hide_password=False) for _ in range(2))
    touched = start is not None and REVISIONS.index(start) >= OBJECTS_FROM
    for url in (online, offline):
        if start is not None:
            assert cli("migrate", start, "--url", url).status == 0
        if touched:
            dba_changes(engine_for(url), dba_roles)

    assert cli("migrate", target, "--url", online).status == 0
    sql = cli("migrate", "--sql", *(("--from", start) if start else ()), target)
    assert sql.status == 0, sql.err
    applied = psql(offline, sql.out, "-1")
    assert applied.returncode == 0, applied.stderr

    expected = pg_dump_schema(online)
    assert pg_dump_schema(offline) == expected
    if touched and target == "head":  # and what the DBA did is there, so the comparison means something
        for kept in ("COMMENT ON MATERIALIZED VIEW public.daily_observations IS 'refreshed nightly'",
                     "CREATE INDEX ix_daily_observations_n ON public.daily_observations",
                     "CREATE TRIGGER refuse_insert INSTEAD OF INSERT ON public.active_station_positions",
                     "security_barrier='true'",
                     f"GRANT SELECT(code) ON TABLE public.active_station_positions TO {dba_roles['reader']}",
                     f'ALTER VIEW public.active_station_positions OWNER TO "{dba_roles["owner"]}"'):
            assert kept in expected

