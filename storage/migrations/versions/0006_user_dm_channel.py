"""The app's DM channel with each cached user, remembered from chat.postMessage answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable slack_users.dm_channel column (existing rows keep their data)."""
    with op.batch_alter_table("slack_users") as batch:
        batch.add_column(sa.Column("dm_channel", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop slack_users.dm_channel."""
    with op.batch_alter_table("slack_users") as batch:
        batch.drop_column("dm_channel")
