"""index observations by time and check quality

Revision ID: e3c9a4f1d8b6
Revises: b7d41e9a0c52
Create Date: 2026-11-23 15:20:00

Time-range queries per variable get a (variable_id, observed_at) index,
which also serves lookups by variable alone, so the single-column index
goes. Quality is constrained to the values the app writes.
"""

# myapp.db: allow index-without-concurrently, constraint-without-not-valid -- it shipped before the
# first production deploy, on empty tables

from alembic import op

revision = "e3c9a4f1d8b6"
down_revision = "b7d41e9a0c52"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_observations_variable_id_observed_at",
        "observations",
        ["variable_id", "observed_at"],
    )
    op.drop_index("ix_observations_variable_id", table_name="observations")
    op.create_check_constraint(
        op.f("ck_observations_quality_known"),
        "observations",
        "quality IN ('raw', 'checked', 'rejected')",
    )


def downgrade():
    op.drop_constraint(op.f("ck_observations_quality_known"), "observations", type_="check")
    op.create_index("ix_observations_variable_id", "observations", ["variable_id"])
    op.drop_index("ix_observations_variable_id_observed_at", table_name="observations")
