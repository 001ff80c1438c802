"""Check-in scheduling rules: reminder and expiry times, quiet hours, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.checkin_rules import CheckinPolicy, expires_at, is_quiet, remind_at, should_remind, zone

HEL = ZoneInfo("Europe/Helsinki")
NYC = ZoneInfo("America/New_York")
POLICY = CheckinPolicy()
CREATED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_remind_at_and_expires_at_follow_policy():
    policy = CheckinPolicy(remind_after=timedelta(hours=2), expire_after=timedelta(days=1))
    assert remind_at(CREATED, policy) == CREATED + timedelta(hours=2)
    assert expires_at(CREATED, policy) == CREATED + timedelta(days=1)


def test_default_policy_times():
    assert remind_at(CREATED, POLICY) == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert expires_at(CREATED, POLICY) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _hel(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=HEL)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (_hel(20, 59), False),
        (_hel(21, 0), True),
        (_hel(23, 30), True),
        (_hel(0, 0), True),
        (_hel(3, 0), True),
        (_hel(7, 59), True),
        (_hel(8, 0), False),
        (_hel(12, 0), False),
    ],
)
def test_quiet_hours_wrap_midnight(local, quiet):
    assert is_quiet(local.astimezone(UTC), HEL, POLICY) is quiet


def test_quiet_depends_on_the_users_zone():
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 04:00 Helsinki, 21:00 New York
    assert is_quiet(now, HEL, POLICY)
    assert is_quiet(now, NYC, POLICY)
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 16:00 Helsinki, 09:00 New York
    assert not is_quiet(now, HEL, POLICY)
    assert not is_quiet(now, NYC, POLICY)
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 09:00 Helsinki, 02:00 New York
    assert not is_quiet(now, HEL, POLICY)
    assert is_quiet(now, NYC, POLICY)


def test_quiet_hours_follow_dst_in_helsinki():
    # 05:30 UTC is 07:30 in winter time (EET, +2) but 08:30 in summer time (EEST, +3).
    before_switch = datetime(2026, 3, 28, 5, 30, tzinfo=UTC)
    after_switch = datetime(2026, 3, 29, 5, 30, tzinfo=UTC)
    assert is_quiet(before_switch, HEL, POLICY)
    assert not is_quiet(after_switch, HEL, POLICY)


def test_quiet_hours_follow_dst_in_new_york_autumn():
    # 12:30 UTC: 08:30 EDT (-4) on Oct 31, 07:30 EST (-5) on Nov 2 2026.
    assert not is_quiet(datetime(2026, 10, 31, 12, 30, tzinfo=UTC), NYC, POLICY)
    assert is_quiet(datetime(2026, 11, 2, 12, 30, tzinfo=UTC), NYC, POLICY)


def test_quiet_hours_without_wrap():
    policy = CheckinPolicy(quiet_start=1, quiet_end=5)
    utc = ZoneInfo("UTC")
    assert not is_quiet(datetime(2026, 1, 1, 0, 59, tzinfo=UTC), utc, policy)
    assert is_quiet(datetime(2026, 1, 1, 1, 0, tzinfo=UTC), utc, policy)
    assert is_quiet(datetime(2026, 1, 1, 4, 59, tzinfo=UTC), utc, policy)
    assert not is_quiet(datetime(2026, 1, 1, 5, 0, tzinfo=UTC), utc, policy)
    assert not is_quiet(datetime(2026, 1, 1, 23, 0, tzinfo=UTC), utc, policy)


def test_equal_start_and_end_means_no_quiet_hours():
    policy = CheckinPolicy(quiet_start=8, quiet_end=8)
    for hour in range(24):
        now = datetime(2026, 1, 1, hour, tzinfo=UTC)
        assert not is_quiet(now, ZoneInfo("UTC"), policy)


def _remind(now, **kw):
    args = {
        "now": now,
        "remind_at": datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
        "expires_at": datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
        "reminded": False,
        "away": False,
        "tz": HEL,
        "policy": POLICY,
    }
    args.update(kw)
    return should_remind(**args)


def test_should_remind_at_nine_in_helsinki():
    assert _remind(_hel(9, 0).astimezone(UTC)) is True


def test_should_not_remind_at_three_in_the_night_in_helsinki():
    assert _remind(_hel(3, 0).astimezone(UTC)) is False


def test_should_not_remind_before_remind_at():
    due = _hel(10, 0)
    assert _remind(due - timedelta(seconds=1), remind_at=due) is False
    assert _remind(due, remind_at=due) is True


def test_should_not_remind_at_or_after_expiry():
    end = _hel(10, 0)
    assert _remind(end - timedelta(seconds=1), expires_at=end) is True
    assert _remind(end, expires_at=end) is False
    assert _remind(end + timedelta(hours=1), expires_at=end) is False


def test_should_not_remind_when_away_or_already_reminded():
    now = _hel(10, 0)
    assert _remind(now) is True
    assert _remind(now, away=True) is False
    assert _remind(now, reminded=True) is False


def test_should_not_remind_without_remind_time():
    assert _remind(_hel(10, 0), remind_at=None) is False


def test_should_remind_uses_the_users_zone():
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 09:00 Helsinki, 02:00 New York
    assert _remind(now, tz=HEL) is True
    assert _remind(now, tz=NYC) is False


@pytest.mark.parametrize("name", [None, "", "Not/AZone", "garbage", "../etc/passwd", "a\x00b"])
def test_zone_falls_back_to_utc(name):
    assert zone(name) == ZoneInfo("UTC")


def test_zone_falls_back_to_given_default():
    assert zone("Not/AZone", default="Europe/Helsinki") == HEL
    assert zone(None, default="Europe/Helsinki") == HEL


def test_zone_with_bad_default_falls_back_to_utc():
    assert zone("nope", default="also-nope") == ZoneInfo("UTC")


def test_zone_known_name():
    assert zone("America/New_York", default="Europe/Helsinki") == NYC
