"""Pure scheduling rules for check-ins: when to remind, when to expire, quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CheckinPolicy:
    """How long to wait before the one reminder, when to expire, and the night to avoid."""

    remind_after: timedelta = timedelta(hours=4)
    expire_after: timedelta = timedelta(days=3)
    quiet_start: int = 21  # local hour the night begins
    quiet_end: int = 8  # local hour the morning begins


def remind_at(created_at: datetime, policy: CheckinPolicy) -> datetime:
    """The earliest instant the reminder may go out (quiet hours are checked when due)."""
    return created_at + policy.remind_after


def expires_at(created_at: datetime, policy: CheckinPolicy) -> datetime:
    """The instant an unanswered check-in expires."""
    return created_at + policy.expire_after


def is_quiet(now: datetime, tz: ZoneInfo, policy: CheckinPolicy) -> bool:
    """True when it is night for someone in `tz` (no reminders then)."""
    hour = now.astimezone(tz).hour
    if policy.quiet_start == policy.quiet_end:
        return False
    if policy.quiet_start > policy.quiet_end:
        return hour >= policy.quiet_start or hour < policy.quiet_end
    return policy.quiet_start <= hour < policy.quiet_end


def should_remind(
    *,
    now: datetime,
    remind_at: datetime | None,
    expires_at: datetime,
    reminded: bool,
    away: bool,
    tz: ZoneInfo,
    policy: CheckinPolicy,
) -> bool:
    """Whether the one reminder of a pending check-in should be sent at `now`."""
    if reminded or away or remind_at is None:
        return False
    if now < remind_at or now >= expires_at:
        return False
    return not is_quiet(now, tz, policy)


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """A ZoneInfo for a Slack tz name, falling back to `default` when unknown."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (KeyError, ValueError, OSError):  # OSError: directory or overlong names
                continue
    return ZoneInfo("UTC")
