"""Views over stations: where each station is now, and the active ones among them."""

from myapp.db import ReplaceableView

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

active_station_positions = ReplaceableView(
    "active_station_positions",
    """
    SELECT p.station_id, p.code, p.name, p.latitude, p.longitude
    FROM station_positions p
    JOIN stations s ON s.id = p.station_id
    WHERE s.is_active
    """,
)
