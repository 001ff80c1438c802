"""Pure scheduling rules for promises: reminders before, on and after the due date.

No Slack, no database and no wall clock: `now` is always an argument and every datetime
must be timezone-aware. Due dates are local dates in the owner's timezone; a promise is
overdue once its due day has ended there.

The reminder schedule of a promise due on day D, each at `policy.hour` local wall-clock
time in the owner's timezone (DST-correct; an hour that does not exist that day, in a
spring-forward gap, resolves to the instant after the gap):

1. "before" on the previous working day (Monday-Friday) before D;
2. "due" on D;
3. "overdue" on D+1, D+3, D+7, D+14, D+28 (the default gaps 1, 2, 4, 7, 14 days), then
   every 7 days.

`seq` numbers the items from 1 in that order and never depends on `since` or `until`, so
the caller can store the last sent `seq` and compare. When the due date changes
(renegotiation) the caller passes the new `since` and resets its stored `seq` to 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.checkin_rules import CheckinPolicy, is_quiet

BEFORE = "before"
DUE = "due"
OVERDUE = "overdue"

_REPEAT_GAP_DAYS = 7  # the gap once `overdue_gaps_days` is used up


@dataclass(frozen=True)
class PromisePolicy:
    """The local hour reminders go out, the night to avoid, and the overdue spacing."""

    hour: int = 9  # local hour of every reminder
    quiet_start: int = 21  # local hour the night begins
    quiet_end: int = 8  # local hour the morning begins
    overdue_gaps_days: tuple[int, ...] = (1, 2, 4, 7, 14)  # then every 7 days


@dataclass(frozen=True)
class Reminder:
    """One item of a promise's reminder schedule."""

    seq: int
    kind: str  # "before" | "due" | "overdue"
    at: datetime  # aware, UTC
    overdue_days: int = 0


def previous_working_day(d: date) -> date:
    """The last Monday-Friday strictly before `d` (Monday → the Friday before)."""
    day = d - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def is_overdue(*, now: datetime, due: date, tz: ZoneInfo) -> bool:
    """True once the due day has ended in the owner's timezone."""
    return _local_date(now, tz) > due


def days_overdue(*, now: datetime, due: date, tz: ZoneInfo) -> int:
    """Whole local days since the due day (0 on or before it)."""
    return max(0, (_local_date(now, tz) - due).days)


def kept_on_time(*, at: datetime, due: date, tz: ZoneInfo) -> bool:
    """True when a promise resolved at `at` was resolved on or before its local due day."""
    return _local_date(at, tz) <= due


def reminder_schedule(
    due: date, tz: ZoneInfo, policy: PromisePolicy, *, until: datetime
) -> list[Reminder]:
    """Every reminder of a promise due on `due` that falls at or before `until`."""
    _require_aware(until, "until")
    items: list[Reminder] = []
    for reminder in _schedule(due, tz, policy):
        if reminder.at > until:
            break
        items.append(reminder)
    return items


def due_reminder(
    *,
    now: datetime,
    due: date,
    tz: ZoneInfo,
    since: datetime,
    sent_seq: int,
    policy: PromisePolicy,
) -> Reminder | None:
    """The one reminder to send at `now` (the latest one due since `since`), or None."""
    _require_aware(now, "now")
    _require_aware(since, "since")
    latest: Reminder | None = None
    for reminder in reminder_schedule(due, tz, policy, until=now):
        if reminder.at >= since:
            latest = reminder
    if latest is None or latest.seq <= sent_seq:
        return None
    quiet = CheckinPolicy(quiet_start=policy.quiet_start, quiet_end=policy.quiet_end)
    if is_quiet(now, tz, quiet):
        return None
    return latest


# --- internals -----------------------------------------------------------------------


def _schedule(due: date, tz: ZoneInfo, policy: PromisePolicy) -> Iterator[Reminder]:
    yield Reminder(seq=1, kind=BEFORE, at=_local_at(previous_working_day(due), tz, policy.hour))
    yield Reminder(seq=2, kind=DUE, at=_local_at(due, tz, policy.hour))
    seq, offset = 3, 0
    gaps = iter(policy.overdue_gaps_days)
    while True:
        offset += max(1, next(gaps, _REPEAT_GAP_DAYS))  # at most one reminder a day
        try:
            day = due + timedelta(days=offset)
            at = _local_at(day, tz, policy.hour)
        except OverflowError:
            return
        yield Reminder(seq=seq, kind=OVERDUE, at=at, overdue_days=offset)
        seq += 1


def _local_at(d: date, tz: ZoneInfo, hour: int) -> datetime:
    # fold=0: an ambiguous hour (autumn) is its first occurrence; a missing hour (spring
    # gap) is read with the offset before the gap, which lands just after the gap.
    return datetime.combine(d, time(hour), tzinfo=tz).astimezone(UTC)


def _local_date(moment: datetime, tz: ZoneInfo) -> date:
    _require_aware(moment, "the instant")
    return moment.astimezone(tz).date()


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
