"""create reporting views, function and materialized view

Revision ID: c4d5e6f7a8b9
Revises: e3c9a4f1d8b6
Create Date: 2026-11-23 16:00:00

The objects are defined here, frozen: later revisions replace them by
naming "c4d5e6f7a8b9.<attribute>", and editing myapp/db/objects never
changes what this revision does.
"""

from alembic import op

from myapp.db import (
    MatviewIndex,
    ReplaceableFunction,
    ReplaceableMatview,
    ReplaceableView,
)

revision = "c4d5e6f7a8b9"
down_revision = "e3c9a4f1d8b6"
branch_labels = None
depends_on = None

station_positions = ReplaceableView(
    "station_positions",
    """
    SELECT s.id AS station_id, s.network_id, s.code, s.name,
           h.latitude, h.longitude, h.elevation_m, h.valid_from
    FROM stations s
    JOIN station_histories h ON h.station_id = s.id
    WHERE h.valid_to IS NULL
    """,
)

active_station_positions = ReplaceableView(
    "active_station_positions",
    """
    SELECT p.station_id, p.code, p.name, p.latitude, p.longitude
    FROM station_positions p
    JOIN stations s ON s.id = p.station_id
    WHERE s.is_active
    """,
)

distance_km = ReplaceableFunction(
    "distance_km(lat1 double precision, lon1 double precision,"
    " lat2 double precision, lon2 double precision)",
    """
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT
    AS $$
        SELECT 2 * 6371 * asin(sqrt(
            sin(radians(lat2 - lat1) / 2) ^ 2
            + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2
        ))
    $$
    """,
)

daily_observations = ReplaceableMatview(
    "daily_observations",
    """
    SELECT o.variable_id, date_trunc('day', o.observed_at) AS day,
           count(*) AS n, avg(o.value) AS mean
    FROM observations o
    GROUP BY o.variable_id, date_trunc('day', o.observed_at)
    """,
    indexes=[MatviewIndex("ux_daily_observations_variable_day", ["variable_id", "day"], unique=True)],
    grants={"PUBLIC": ["SELECT"]},
)


def upgrade():
    op.create_replaceable_object(station_positions)
    op.create_replaceable_object(active_station_positions)
    op.create_replaceable_object(distance_km)
    op.create_replaceable_object(daily_observations)


def downgrade():
    op.drop_replaceable_object(daily_observations)
    op.drop_replaceable_object(distance_km)
    op.drop_replaceable_object(active_station_positions)
    op.drop_replaceable_object(station_positions)
