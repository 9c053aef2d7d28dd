"""daily_observations: leave out rejected observations, add low and high

Revision ID: f6a7b8c9d0e1
Revises: d5e6f7a8b9c0
Create Date: 2026-11-23 16:20:00

A materialized view cannot be replaced in place: it is dropped and created
again. Its unique index is declared with it; any other index and every
GRANT on it are read from the catalog and put back.
"""

from alembic import op

from myapp.db import MatviewIndex, ReplaceableMatview

revision = "f6a7b8c9d0e1"
down_revision = "d5e6f7a8b9c0"
branch_labels = None
depends_on = None

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


def upgrade():
    op.replace_replaceable_object(daily_observations, replaces="c4d5e6f7a8b9.daily_observations")


def downgrade():
    op.replace_replaceable_object(daily_observations, replace_with="c4d5e6f7a8b9.daily_observations")
