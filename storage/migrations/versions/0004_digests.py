"""Digest subscriptions, one post per subscription and week, weekly risk snapshots;
indexes for the windowed risk queries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add digest tables and the risk model's indexes."""
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("minute", sa.Integer, nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("tiers", sa.String(8), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_digest_subscriptions"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_digest_subscriptions_team_channel"),
    )
    op.create_table(
        "digest_posts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("subscription_id", sa.Integer, nullable=False),
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("posted_at", TS, nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("chart_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_digest_posts"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["digest_subscriptions.id"],
            name="fk_digest_posts_subscription_id_digest_subscriptions",
        ),
        sa.UniqueConstraint("subscription_id", "week", name="uq_digest_posts_subscription_week"),
    )
    op.create_index("ix_digest_posts_status_next", "digest_posts", ["status", "next_attempt_at"])
    op.create_table(
        "risk_snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("at_risk", sa.Integer, nullable=False),
        sa.Column("watch", sa.Integer, nullable=False),
        sa.Column("healthy", sa.Integer, nullable=False),
        sa.Column("unknown", sa.Integer, nullable=False),
        sa.Column("avg_trust", sa.Float, nullable=True),
        sa.Column("computed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_snapshots"),
        sa.UniqueConstraint("team_id", "week", name="uq_risk_snapshots_team_week"),
    )
    # Covering indexes: the risk queries scan a time window and read only these columns.
    op.create_index(
        "ix_checkins_team_answered",
        "checkins",
        ["team_id", "answered_at", "status", "rating", "interaction_id"],
    )
    op.create_index(
        "ix_checkins_team_created",
        "checkins",
        ["team_id", "created_at", "status", "interaction_id"],
    )
    op.create_index(
        "ix_interactions_team_when",
        "interactions",
        ["team_id", "occurred_at", "account_id", "kind"],
    )
    op.create_index("ix_promises_team_closed", "promises", ["team_id", "closed_at"])
    op.create_index(
        "ix_promise_events_team_at_kind",
        "promise_events",
        ["team_id", "at", "kind", "in_time", "promise_id"],
    )


def downgrade() -> None:
    """Remove digest tables and the risk indexes."""
    op.drop_index("ix_promise_events_team_at_kind", "promise_events")
    op.drop_index("ix_promises_team_closed", "promises")
    op.drop_index("ix_interactions_team_when", "interactions")
    op.drop_index("ix_checkins_team_created", "checkins")
    op.drop_index("ix_checkins_team_answered", "checkins")
    op.drop_table("risk_snapshots")
    op.drop_table("digest_posts")
    op.drop_table("digest_subscriptions")
