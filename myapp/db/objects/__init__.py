"""The app's replaceable objects, as they are now: one module per topic, one registry.

Revisions keep their own frozen copies of the versions they create or
replace; this registry is what `bootstrap` creates and what the latest
revisions must add up to.
"""

from myapp.db import Registry

from . import geo, stations, summaries

registry = Registry(
    [
        stations.station_positions,
        stations.active_station_positions,
        geo.distance_km,
        summaries.daily_observations,
    ]
)
