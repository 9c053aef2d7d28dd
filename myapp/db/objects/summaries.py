"""Materialized summaries of observations, refreshed with 'python -m myapp.db refresh'."""

from myapp.db import MatviewIndex, ReplaceableMatview

daily_observations = ReplaceableMatview(
    "daily_observations",
    """
    SELECT o.variable_id, date_trunc('day', o.observed_at) AS day,
           count(*) AS n, avg(o.value) AS mean, min(o.value) AS low, max(o.value) AS high
    FROM observations o
    WHERE o.quality <> 'rejected'
    GROUP BY o.variable_id, date_trunc('day', o.observed_at)
    """,
    indexes=[MatviewIndex("ux_daily_observations_variable_day", ["variable_id", "day"], unique=True)],
    grants={"PUBLIC": ["SELECT"]},
)
