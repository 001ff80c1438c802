"""Promise reminder rules: schedule, catch-up, quiet hours, overdue and kept-on-time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.promise_rules import (
    PromisePolicy,
    Reminder,
    days_overdue,
    due_reminder,
    is_overdue,
    kept_on_time,
    previous_working_day,
    reminder_schedule,
)

HEL = ZoneInfo("Europe/Helsinki")
NYC = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
POLICY = PromisePolicy()
WED = date(2026, 11, 25)  # a Wednesday
MON = date(2026, 11, 23)  # a Monday


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _local(tz: ZoneInfo, d: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def _summary(items: list[Reminder]) -> list[tuple[int, str, datetime, int]]:
    return [(r.seq, r.kind, r.at, r.overdue_days) for r in items]


# --- previous_working_day -------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (date(2026, 11, 25), date(2026, 11, 24)),  # Wed -> Tue
        (date(2026, 11, 24), date(2026, 11, 23)),  # Tue -> Mon
        (date(2026, 11, 23), date(2026, 11, 20)),  # Mon -> previous Fri
        (date(2026, 11, 22), date(2026, 11, 20)),  # Sun -> Fri
        (date(2026, 11, 21), date(2026, 11, 20)),  # Sat -> Fri
        (date(2026, 11, 27), date(2026, 11, 26)),  # Fri -> Thu
        (date(2027, 1, 1), date(2026, 12, 31)),  # across the year
    ],
)
def test_previous_working_day(due, expected):
    assert previous_working_day(due) == expected


# --- reminder_schedule ----------------------------------------------------------------


def test_schedule_for_a_wednesday_due_date_in_helsinki_winter():
    items = reminder_schedule(WED, HEL, POLICY, until=_utc(2027, 1, 31))
    # Helsinki is UTC+2 in November: 09:00 local = 07:00 UTC
    assert _summary(items) == [
        (1, "before", _utc(2026, 11, 24, 7), 0),
        (2, "due", _utc(2026, 11, 25, 7), 0),
        (3, "overdue", _utc(2026, 11, 26, 7), 1),
        (4, "overdue", _utc(2026, 11, 28, 7), 3),
        (5, "overdue", _utc(2026, 12, 2, 7), 7),
        (6, "overdue", _utc(2026, 12, 9, 7), 14),
        (7, "overdue", _utc(2026, 12, 23, 7), 28),
        (8, "overdue", _utc(2026, 12, 30, 7), 35),
        (9, "overdue", _utc(2027, 1, 6, 7), 42),
        (10, "overdue", _utc(2027, 1, 13, 7), 49),
        (11, "overdue", _utc(2027, 1, 20, 7), 56),
        (12, "overdue", _utc(2027, 1, 27, 7), 63),
    ]


def test_schedule_for_a_monday_due_date_reminds_the_friday_before():
    items = reminder_schedule(MON, NYC, POLICY, until=_local(NYC, MON, 9))
    # New York is UTC-5 in November: 09:00 local = 14:00 UTC
    assert _summary(items) == [
        (1, "before", _utc(2026, 11, 20, 14), 0),
        (2, "due", _utc(2026, 11, 23, 14), 0),
    ]


@pytest.mark.parametrize(
    ("until", "count"),
    [
        (_utc(2026, 11, 24, 6, 59, 59), 0),
        (_utc(2026, 11, 24, 7), 1),  # `until` itself is included
        (_utc(2026, 11, 25, 7), 2),
        (_utc(2026, 11, 26, 6), 2),
        (_utc(2026, 12, 5), 5),
    ],
)
def test_until_bounds_the_schedule(until, count):
    assert len(reminder_schedule(WED, HEL, POLICY, until=until)) == count


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        # Spring forward on Sun 2026-03-29 (03:00 EET -> 04:00 EEST): 09:00 local moves
        # from 07:00 UTC to 06:00 UTC.
        (
            date(2026, 3, 28),
            [
                ("before", _utc(2026, 3, 27, 7)),
                ("due", _utc(2026, 3, 28, 7)),
                ("overdue", _utc(2026, 3, 29, 6)),
                ("overdue", _utc(2026, 3, 31, 6)),
            ],
        ),
        # Fall back on Sun 2026-10-25 (04:00 EEST -> 03:00 EET): 09:00 local moves from
        # 06:00 UTC to 07:00 UTC.
        (
            date(2026, 10, 24),
            [
                ("before", _utc(2026, 10, 23, 6)),
                ("due", _utc(2026, 10, 24, 6)),
                ("overdue", _utc(2026, 10, 25, 7)),
                ("overdue", _utc(2026, 10, 27, 7)),
            ],
        ),
    ],
)
def test_schedule_keeps_local_wall_clock_across_dst(due, expected):
    items = reminder_schedule(due, HEL, POLICY, until=_local(HEL, due + timedelta(days=3), 12))
    assert [(r.kind, r.at) for r in items] == expected
    assert all(r.at.astimezone(HEL).hour == 9 for r in items)


def test_a_reminder_hour_inside_the_spring_gap_lands_just_after_it():
    # 03:00 does not exist in Helsinki on 2026-03-29; the reminder goes at 04:00 EEST.
    policy = PromisePolicy(hour=3)
    items = reminder_schedule(date(2026, 3, 28), HEL, policy, until=_utc(2026, 3, 29, 12))
    assert items[-1].kind == "overdue"
    assert items[-1].at == _utc(2026, 3, 29, 1)
    assert items[-1].at.astimezone(HEL).hour == 4


def test_custom_gaps_then_weekly_and_never_two_a_day():
    policy = PromisePolicy(overdue_gaps_days=(0, 3))
    items = reminder_schedule(WED, HEL, policy, until=_local(HEL, WED + timedelta(days=20), 12))
    assert [r.overdue_days for r in items if r.kind == "overdue"] == [1, 4, 11, 18]
    days = [r.at.astimezone(HEL).date() for r in items]
    assert len(days) == len(set(days))


def test_schedule_rejects_a_naive_until():
    with pytest.raises(ValueError):
        reminder_schedule(WED, HEL, POLICY, until=datetime(2026, 12, 1))


# --- due_reminder ----------------------------------------------------------------------

CREATED = _local(HEL, date(2026, 11, 20), 10)  # the Friday before


@pytest.mark.parametrize(
    ("now", "sent_seq", "expected"),
    [
        (_local(HEL, date(2026, 11, 24), 8, 59), 0, None),  # nothing due yet
        (_local(HEL, date(2026, 11, 24), 9), 0, (1, "before", 0)),
        (_local(HEL, date(2026, 11, 24), 9), 1, None),  # the same instant twice
        (_local(HEL, date(2026, 11, 24), 15), 1, None),
        (_local(HEL, WED, 9), 1, (2, "due", 0)),
        (_local(HEL, WED, 9), 0, (2, "due", 0)),  # missed "before": only the latest
        (_local(HEL, date(2026, 11, 26), 9, 30), 2, (3, "overdue", 1)),
        # down for 10 days: one reminder, the latest, not a burst
        (_local(HEL, date(2026, 12, 5), 12), 0, (5, "overdue", 7)),
        (_local(HEL, date(2026, 12, 5), 12), 5, None),
        (_local(HEL, date(2026, 12, 5), 12), 6, None),  # sent_seq ahead: still nothing
    ],
)
def test_due_reminder(now, sent_seq, expected):
    got = due_reminder(now=now, due=WED, tz=HEL, since=CREATED, sent_seq=sent_seq, policy=POLICY)
    assert (None if got is None else (got.seq, got.kind, got.overdue_days)) == expected


def test_catch_up_after_ten_days_down_then_nothing_for_the_same_instant():
    now = _local(HEL, WED + timedelta(days=10), 12)
    first = due_reminder(now=now, due=WED, tz=HEL, since=CREATED, sent_seq=0, policy=POLICY)
    assert first is not None
    assert first.at == _local(HEL, WED + timedelta(days=7), 9)
    again = due_reminder(now=now, due=WED, tz=HEL, since=CREATED, sent_seq=first.seq, policy=POLICY)
    assert again is None


@pytest.mark.parametrize(
    ("since", "now", "expected"),
    [
        # logged Tuesday 20:00, the evening before: no stale "before" reminder
        (_local(HEL, date(2026, 11, 24), 20), _local(HEL, date(2026, 11, 24), 20, 30), None),
        (_local(HEL, date(2026, 11, 24), 20), _local(HEL, WED, 9), (2, "due")),
        # logged Tuesday 08:00: the "before" reminder still comes at 09:00
        (_local(HEL, date(2026, 11, 24), 8), _local(HEL, date(2026, 11, 24), 9), (1, "before")),
        # logged (or renegotiated) on the due day after 09:00: next is the first overdue one
        (_local(HEL, WED, 10), _local(HEL, WED, 12), None),
        (_local(HEL, WED, 10), _local(HEL, date(2026, 11, 26), 9), (3, "overdue")),
        # `since` exactly at a reminder's instant includes it
        (_local(HEL, WED, 9), _local(HEL, WED, 9), (2, "due")),
    ],
)
def test_since_drops_reminders_from_before_the_promise(since, now, expected):
    got = due_reminder(now=now, due=WED, tz=HEL, since=since, sent_seq=0, policy=POLICY)
    assert (None if got is None else (got.seq, got.kind)) == expected


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (6, None),  # 14:00 UTC, but night in Los Angeles
        (7, None),
        (8, (2, "due")),  # morning: the pending one from yesterday
        (9, (3, "overdue")),  # the day's own reminder
        (20, (3, "overdue")),
        (21, None),
    ],
)
def test_quiet_hours_in_the_owners_zone(hour, expected):
    now = _local(LA, date(2026, 11, 26), hour)
    since = _local(LA, date(2026, 11, 20), 10)
    got = due_reminder(now=now, due=WED, tz=LA, since=since, sent_seq=1, policy=POLICY)
    assert (None if got is None else (got.seq, got.kind)) == expected


def test_quiet_hours_follow_the_policy():
    now = _local(LA, date(2026, 11, 26), 9)
    since = _local(LA, date(2026, 11, 20), 10)
    policy = PromisePolicy(quiet_start=22, quiet_end=10)
    assert due_reminder(now=now, due=WED, tz=LA, since=since, sent_seq=1, policy=policy) is None


def test_due_reminder_rejects_naive_datetimes():
    with pytest.raises(ValueError):
        due_reminder(
            now=datetime(2026, 11, 25, 9),
            due=WED,
            tz=HEL,
            since=CREATED,
            sent_seq=0,
            policy=POLICY,
        )


# --- is_overdue / days_overdue / kept_on_time ------------------------------------------


@pytest.mark.parametrize(
    ("now", "tz", "overdue", "days"),
    [
        (_local(HEL, WED, 0), HEL, False, 0),
        (_local(HEL, WED, 23, 59, 59), HEL, False, 0),
        (_local(HEL, date(2026, 11, 26), 0), HEL, True, 1),
        (_local(HEL, date(2026, 11, 26), 23, 59), HEL, True, 1),
        (_local(HEL, date(2026, 11, 27), 0), HEL, True, 2),
        (_local(HEL, date(2026, 11, 20), 12), HEL, False, 0),  # before the due day
        # 22:30 UTC on the due day: already the next day in Helsinki, not in New York
        (_utc(2026, 11, 25, 22, 30), HEL, True, 1),
        (_utc(2026, 11, 25, 22, 30), NYC, False, 0),
        (_utc(2026, 11, 26, 5), NYC, True, 1),  # midnight in New York
        (_utc(2026, 11, 26, 4, 59, 59), NYC, False, 0),
    ],
)
def test_is_overdue_and_days_overdue_at_day_boundaries(now, tz, overdue, days):
    assert is_overdue(now=now, due=WED, tz=tz) is overdue
    assert days_overdue(now=now, due=WED, tz=tz) == days


def test_days_overdue_across_the_dst_change():
    due = date(2026, 3, 28)
    assert days_overdue(now=_local(HEL, date(2026, 3, 30), 0, 30), due=due, tz=HEL) == 2
    assert days_overdue(now=_local(HEL, date(2026, 3, 29), 23, 59), due=due, tz=HEL) == 1


@pytest.mark.parametrize(
    ("at", "tz", "on_time"),
    [
        (_local(HEL, WED, 23, 59), HEL, True),
        (_local(HEL, date(2026, 11, 26), 0, 1), HEL, False),
        (_local(HEL, date(2026, 11, 2), 12), HEL, True),  # early is on time
        (_local(LA, WED, 23, 59), LA, True),  # 07:59 UTC the next day
        (_local(LA, date(2026, 11, 26), 0, 1), LA, False),
    ],
)
def test_kept_on_time_uses_the_owners_local_date(at, tz, on_time):
    assert kept_on_time(at=at, due=WED, tz=tz) is on_time


def test_overdue_days_of_a_reminder_match_days_overdue_at_its_instant():
    for reminder in reminder_schedule(WED, LA, POLICY, until=_utc(2027, 3, 1)):
        assert reminder.overdue_days == days_overdue(now=reminder.at, due=WED, tz=LA)
        assert (reminder.kind == "overdue") is is_overdue(now=reminder.at, due=WED, tz=LA)
