"""Geographic helpers."""

from myapp.db import ReplaceableFunction

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
