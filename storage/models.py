"""Frozen dataclasses that query functions return (never raw rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple


@dataclass(frozen=True)
class Account:
    """A customer relationship."""

    id: int
    team_id: str
    name: str
    tier: str
    yearly_value: Decimal | None
    owner_id: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Interaction:
    """One contact with an account."""

    id: int
    team_id: str
    account_id: int
    kind: str
    occurred_at: datetime
    logged_by: str
    note: str
    source: str
    created_at: datetime


@dataclass(frozen=True)
class CheckIn:
    """One question to one team member about one interaction, with its answer."""

    id: int
    team_id: str
    interaction_id: int
    user_id: str
    status: str
    created_at: datetime
    remind_at: datetime | None
    expires_at: datetime
    rating: int | None
    direction: str | None
    stage: str | None
    concern: str | None
    answered_at: datetime | None
    reminded_at: datetime | None
    closed_at: datetime | None
    dm_channel: str | None
    dm_ts: str | None
    reminder_ts: str | None
    delivery_error: str | None
    delivery_attempts: int


@dataclass(frozen=True)
class CheckInDetail:
    """A check-in with what a message about it needs: account and interaction."""

    checkin: CheckIn
    account_id: int
    account_name: str
    kind: str
    occurred_at: datetime
    logged_by: str
    note: str


@dataclass(frozen=True)
class SlackUser:
    """What we cache of a Slack user from users.info."""

    team_id: str
    user_id: str
    name: str
    tz: str | None
    is_bot: bool
    deleted: bool
    is_admin: bool
    fetched_at: datetime


@dataclass(frozen=True)
class AwayPeriod:
    """A span during which a user gets no check-ins or reminders."""

    id: int
    team_id: str
    user_id: str
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Draft:
    """A command waiting on the user's choice (e.g. which account they meant)."""

    id: int
    team_id: str
    user_id: str
    kind: str
    payload: str
    created_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class Promise:
    """Something promised to an account, with its current state."""

    id: int
    team_id: str
    account_id: int
    interaction_id: int | None
    text: str
    owner_id: str
    created_by: str
    due_date: date
    status: str
    created_at: datetime
    since_at: datetime
    closed_at: datetime | None
    kept_on_time: bool | None
    renegotiations: int
    reminder_seq: int
    last_reminded_at: datetime | None


@dataclass(frozen=True)
class PromiseDetail:
    """A promise with what a message about it needs."""

    promise: Promise
    account_name: str
    account_owner_id: str | None


@dataclass(frozen=True)
class PromiseEvent:
    """One change of a promise: who, when, old and new values."""

    id: int
    team_id: str
    promise_id: int
    actor_id: str
    at: datetime
    kind: str
    old_status: str | None
    new_status: str | None
    old_due_date: date | None
    new_due_date: date | None
    customer_told: bool | None
    in_time: bool | None
    note: str | None


@dataclass(frozen=True)
class PromiseFigures:
    """How promises went for one account or person over a window."""

    made: int = 0
    kept_on_time: int = 0
    kept_late: int = 0
    renegotiated_in_time: int = 0
    renegotiated_late: int = 0
    broken: int = 0
    cancelled: int = 0
    overdue: int = 0

    @property
    def kept_on_time_rate(self) -> float | None:
        """Kept on time over all promises resolved as kept or broken (None if none were)."""
        resolved = self.kept_on_time + self.kept_late + self.broken
        return self.kept_on_time / resolved if resolved else None


class WeekRating(NamedTuple):
    """Answered check-ins of one account in one week: `weeks_ago` 0 is the last 7 days.

    A named tuple, not a dataclass: the digest builds a few hundred thousand of them.
    """

    weeks_ago: int
    average: float
    answers: int  # how many answered check-ins the average is over


@dataclass(frozen=True)
class AccountSignals:
    """Everything the risk model reads about one account, as of one instant."""

    account: Account
    weeks: tuple[WeekRating, ...] = ()  # oldest last: sorted by `weeks_ago`
    last_contact_at: datetime | None = None
    last_complaint_at: datetime | None = None
    asked: int = 0  # check-ins asked in the recent window (people away not counted)
    unanswered: int = 0  # of those, expired without an answer
    concerns: int = 0
    latest_concern: str | None = None
    worse: int = 0  # answers saying things got worse
    overdue: int = 0
    oldest_due: date | None = None
    broken: int = 0
    kept_on_time: int = 0
    kept_late: int = 0
    open_promises: int = 0


@dataclass(frozen=True)
class Subscription:
    """A channel's weekly digest: when (local weekday and time in `tz`) and which tiers."""

    id: int
    team_id: str
    channel_id: str
    weekday: int
    hour: int
    minute: int
    tz: str
    tiers: tuple[str, ...]
    created_by: str
    active: bool


@dataclass(frozen=True)
class DigestPost:
    """One subscription's digest for one week: claimed before posting, then its outcome."""

    id: int
    team_id: str
    subscription_id: int
    week: date
    status: str
    attempts: int
    next_attempt_at: datetime | None
    posted_at: datetime | None
    channel_id: str
    message_ts: str | None
    error: str | None


@dataclass(frozen=True)
class Snapshot:
    """A workspace's risk counts and average trust for one week (trend chart, last week's risk).

    `at_risk_ids` are the accounts at risk that week; None when not known (a snapshot stored
    before they were kept, or read without them).
    """

    week: date
    at_risk: int
    watch: int
    healthy: int
    unknown: int
    avg_trust: float | None
    at_risk_ids: frozenset[int] | None = None
