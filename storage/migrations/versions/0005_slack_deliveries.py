"""Slack requests already handled, so that a re-delivered one is handled once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the slack_deliveries table."""
    op.create_table(
        "slack_deliveries",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("delivery_key", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "delivery_key", name="pk_slack_deliveries"),
    )
    op.create_index("ix_slack_deliveries_received", "slack_deliveries", ["received_at"])


def downgrade() -> None:
    """Remove the slack_deliveries table."""
    op.drop_index("ix_slack_deliveries_received", "slack_deliveries")
    op.drop_table("slack_deliveries")
