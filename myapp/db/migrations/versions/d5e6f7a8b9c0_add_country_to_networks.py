"""add country to networks, show it in station_positions

Revision ID: d5e6f7a8b9c0
Revises: c4d5e6f7a8b9
Create Date: 2026-11-23 16:10:00

station_positions gains country_code in third place, which CREATE OR
REPLACE VIEW cannot do: the view is dropped and recreated, and
active_station_positions, which selects from it, is dropped first and put
back after. distance_km keeps its arguments and return type, so it is
replaced in place with the mean Earth radius.
"""

from alembic import op
import sqlalchemy as sa

from myapp.db import ReplaceableFunction, ReplaceableView

revision = "d5e6f7a8b9c0"
down_revision = "c4d5e6f7a8b9"
branch_labels = None
depends_on = None

station_positions = ReplaceableView(
    "station_positions",
    """
    SELECT s.id AS station_id, s.network_id, n.country_code, s.code, s.name,
           h.latitude, h.longitude, h.elevation_m, h.valid_from
    FROM stations s
    JOIN networks n ON n.id = s.network_id
    JOIN station_histories h ON h.station_id = s.id
    WHERE h.valid_to IS NULL
    """,
)

distance_km = ReplaceableFunction(
    "distance_km(lat1 double precision, lon1 double precision,"
    " lat2 double precision, lon2 double precision)",
    """
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT
    AS $$
        SELECT 2 * 6371.0088 * asin(sqrt(
            sin(radians(lat2 - lat1) / 2) ^ 2
            + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2
        ))
    $$
    """,
)


def upgrade():
    op.add_column("networks", sa.Column("country_code", sa.String(length=2), nullable=True))
    op.replace_replaceable_object(station_positions, replaces="c4d5e6f7a8b9.station_positions")
    op.replace_replaceable_object(distance_km, replaces="c4d5e6f7a8b9.distance_km")


def downgrade():
    op.replace_replaceable_object(distance_km, replace_with="c4d5e6f7a8b9.distance_km")
    op.replace_replaceable_object(station_positions, replace_with="c4d5e6f7a8b9.station_positions")
    op.drop_column("networks", "country_code")
