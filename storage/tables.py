"""SQLAlchemy Core tables. Every row carries the Slack team id it belongs to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware datetimes")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: store naive UTC so string comparisons order correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


TEAM = 32  # Slack ids are short; generous bound
USER = 32

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("tier", String(1), nullable=False, server_default="B"),
    Column("yearly_value", Numeric(16, 2), nullable=True),
    Column("owner_id", String(USER), nullable=True),
    Column("created_by", String(USER), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("team_id", "name_key", name="uq_accounts_team_name"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("logged_by", String(USER), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("source", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_interactions_team_account_when", "team_id", "account_id", "occurred_at"),
    Index("ix_interactions_team_when", "team_id", "occurred_at", "account_id", "kind"),
)

checkins = Table(
    "checkins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("interaction_id", Integer, ForeignKey("interactions.id"), nullable=False),
    Column("user_id", String(USER), nullable=False),
    # pending | answered | skipped | expired | away
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("remind_at", UTCDateTime(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("rating", Integer, nullable=True),
    Column("direction", String(8), nullable=True),
    Column("stage", String(24), nullable=True),
    Column("concern", Text, nullable=True),
    Column("answered_at", UTCDateTime(), nullable=True),
    Column("reminded_at", UTCDateTime(), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("dm_channel", String(32), nullable=True),
    Column("dm_ts", String(32), nullable=True),
    Column("reminder_ts", String(32), nullable=True),
    Column("delivery_error", String(200), nullable=True),
    Column("delivery_attempts", Integer, nullable=False, server_default="0"),
    UniqueConstraint("interaction_id", "user_id", name="uq_checkins_interaction_user"),
    Index("ix_checkins_team_user_status", "team_id", "user_id", "status"),
    Index("ix_checkins_status_remind", "status", "remind_at"),
    Index("ix_checkins_status_expires", "status", "expires_at"),
    Index(
        "ix_checkins_team_answered", "team_id", "answered_at", "status", "rating", "interaction_id"
    ),
    Index("ix_checkins_team_created", "team_id", "created_at", "status", "interaction_id"),
)

slack_users = Table(
    "slack_users",
    metadata,
    Column("team_id", String(TEAM), primary_key=True),
    Column("user_id", String(USER), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("tz", String(64), nullable=True),
    Column("is_bot", Integer, nullable=False, server_default="0"),
    Column("deleted", Integer, nullable=False, server_default="0"),
    Column("is_admin", Integer, nullable=False, server_default="0"),
    Column("fetched_at", UTCDateTime(), nullable=False),
    # The app's DM with the user (D…), as chat.postMessage to the user id answered it.
    Column("dm_channel", String(32), nullable=True),
)

away_periods = Table(
    "away_periods",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("user_id", String(USER), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_away_team_user", "team_id", "user_id", "ends_at"),
)

drafts = Table(
    "drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("user_id", String(USER), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

promises = Table(
    "promises",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("interaction_id", Integer, ForeignKey("interactions.id"), nullable=True),
    Column("text", Text, nullable=False),
    Column("owner_id", String(USER), nullable=False),
    Column("created_by", String(USER), nullable=False),
    Column("due_date", Date, nullable=False),
    # open | kept | broken | cancelled (renegotiated promises are open again)
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("since_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("kept_on_time", Integer, nullable=True),
    Column("renegotiations", Integer, nullable=False, server_default="0"),
    Column("reminder_seq", Integer, nullable=False, server_default="0"),
    Column("last_reminded_at", UTCDateTime(), nullable=True),
    Index("ix_promises_team_status_due", "team_id", "status", "due_date"),
    Index("ix_promises_team_owner_status", "team_id", "owner_id", "status"),
    Index("ix_promises_team_account", "team_id", "account_id"),
    Index("ix_promises_status_due", "status", "due_date"),
    Index("ix_promises_team_closed", "team_id", "closed_at"),
)

promise_events = Table(
    "promise_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("promise_id", Integer, ForeignKey("promises.id"), nullable=False),
    Column("actor_id", String(USER), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    # created | kept | broken | renegotiated | cancelled | edited
    Column("kind", String(16), nullable=False),
    Column("old_status", String(16), nullable=True),
    Column("new_status", String(16), nullable=True),
    Column("old_due_date", Date, nullable=True),
    Column("new_due_date", Date, nullable=True),
    Column("customer_told", Integer, nullable=True),
    Column("in_time", Integer, nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_promise_events_team_promise", "team_id", "promise_id"),
    Index("ix_promise_events_team_at", "team_id", "at"),
    Index("ix_promise_events_team_at_kind", "team_id", "at", "kind", "in_time", "promise_id"),
)

digest_subscriptions = Table(
    "digest_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("weekday", Integer, nullable=False),  # 0 = Monday
    Column("hour", Integer, nullable=False),
    Column("minute", Integer, nullable=False),
    Column("tz", String(64), nullable=False),
    Column("tiers", String(8), nullable=False, server_default=""),  # "A,B"; empty = all
    Column("created_by", String(USER), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("active", Integer, nullable=False, server_default="1"),
    UniqueConstraint("team_id", "channel_id", name="uq_digest_subscriptions_team_channel"),
)

digest_posts = Table(
    "digest_posts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("subscription_id", Integer, ForeignKey("digest_subscriptions.id"), nullable=False),
    Column("week", Date, nullable=False),  # Monday of the subscription's local week
    # claimed | posted | failed | gave_up
    Column("status", String(16), nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("posted_at", UTCDateTime(), nullable=True),
    Column("channel_id", String(32), nullable=False),
    Column("message_ts", String(32), nullable=True),
    Column("error", String(200), nullable=True),
    Column("chart_error", String(200), nullable=True),
    UniqueConstraint("subscription_id", "week", name="uq_digest_posts_subscription_week"),
    Index("ix_digest_posts_status_next", "status", "next_attempt_at"),
)

risk_snapshots = Table(
    "risk_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(TEAM), nullable=False),
    Column("week", Date, nullable=False),
    Column("at_risk", Integer, nullable=False),
    Column("watch", Integer, nullable=False),
    Column("healthy", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("avg_trust", Float, nullable=True),
    Column("computed_at", UTCDateTime(), nullable=False),
    # JSON list of the account ids at risk that week (NULL in snapshots from before 0007)
    Column("at_risk_ids", Text, nullable=True),
    UniqueConstraint("team_id", "week", name="uq_risk_snapshots_team_week"),
)

# Slack requests already handled (an event's event_id, a command's or interaction's
# trigger_id), so that a request Slack delivers again is not handled twice; kept an hour.
slack_deliveries = Table(
    "slack_deliveries",
    metadata,
    Column("team_id", String(TEAM), primary_key=True),
    Column("delivery_key", String(200), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_slack_deliveries_received", "received_at"),
)
