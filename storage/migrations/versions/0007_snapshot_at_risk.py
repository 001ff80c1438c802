"""Which accounts each weekly risk snapshot found at risk, so a digest reads last week's.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable risk_snapshots.at_risk_ids column (existing snapshots keep their counts)."""
    with op.batch_alter_table("risk_snapshots") as batch:
        batch.add_column(sa.Column("at_risk_ids", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop risk_snapshots.at_risk_ids."""
    with op.batch_alter_table("risk_snapshots") as batch:
        batch.drop_column("at_risk_ids")
