"""Promises and their history of events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add promises and promise events."""
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("interaction_id", sa.Integer, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("since_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("kept_on_time", sa.Integer, nullable=True),
        sa.Column("renegotiations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reminder_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_reminded_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_promises"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_promises_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interactions.id"], name="fk_promises_interaction_id_interactions"
        ),
    )
    op.create_index("ix_promises_team_status_due", "promises", ["team_id", "status", "due_date"])
    op.create_index("ix_promises_team_owner_status", "promises", ["team_id", "owner_id", "status"])
    op.create_index("ix_promises_team_account", "promises", ["team_id", "account_id"])
    op.create_index("ix_promises_status_due", "promises", ["status", "due_date"])
    op.create_table(
        "promise_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("promise_id", sa.Integer, nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("old_status", sa.String(16), nullable=True),
        sa.Column("new_status", sa.String(16), nullable=True),
        sa.Column("old_due_date", sa.Date, nullable=True),
        sa.Column("new_due_date", sa.Date, nullable=True),
        sa.Column("customer_told", sa.Integer, nullable=True),
        sa.Column("in_time", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_promise_events"),
        sa.ForeignKeyConstraint(
            ["promise_id"], ["promises.id"], name="fk_promise_events_promise_id_promises"
        ),
    )
    op.create_index("ix_promise_events_team_promise", "promise_events", ["team_id", "promise_id"])
    op.create_index("ix_promise_events_team_at", "promise_events", ["team_id", "at"])


def downgrade() -> None:
    """Remove promises and their events."""
    op.drop_table("promise_events")
    op.drop_table("promises")
