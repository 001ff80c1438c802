"""Accounts, interactions, check-ins and the Slack user cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the first schema."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(1), nullable=False, server_default="B"),
        sa.Column("yearly_value", sa.Numeric(16, 2), nullable=True),
        sa.Column("owner_id", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("team_id", "name_key", name="uq_accounts_team_name"),
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("logged_by", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_interactions_account_id_accounts"
        ),
    )
    op.create_index(
        "ix_interactions_team_account_when",
        "interactions",
        ["team_id", "account_id", "occurred_at"],
    )
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("interaction_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("remind_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("direction", sa.String(8), nullable=True),
        sa.Column("stage", sa.String(24), nullable=True),
        sa.Column("concern", sa.Text, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("reminded_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("dm_channel", sa.String(32), nullable=True),
        sa.Column("dm_ts", sa.String(32), nullable=True),
        sa.Column("reminder_ts", sa.String(32), nullable=True),
        sa.Column("delivery_error", sa.String(200), nullable=True),
        sa.Column("delivery_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_checkins"),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name="fk_checkins_interaction_id_interactions",
        ),
        sa.UniqueConstraint("interaction_id", "user_id", name="uq_checkins_interaction_user"),
    )
    op.create_index("ix_checkins_team_user_status", "checkins", ["team_id", "user_id", "status"])
    op.create_index("ix_checkins_status_remind", "checkins", ["status", "remind_at"])
    op.create_index("ix_checkins_status_expires", "checkins", ["status", "expires_at"])
    op.create_table(
        "slack_users",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("tz", sa.String(64), nullable=True),
        sa.Column("is_bot", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deleted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_admin", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fetched_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_slack_users"),
    )


def downgrade() -> None:
    """Drop the first schema."""
    op.drop_table("slack_users")
    op.drop_table("checkins")
    op.drop_table("interactions")
    op.drop_table("accounts")
