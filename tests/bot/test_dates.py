"""Tests for bot.dates: due-date phrases in English and Finnish, clock times, local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser
import pytest

from bot.dates import DateParseError, day_end, local_day_start, parse_clock_time, parse_due_date

HEL = ZoneInfo("Europe/Helsinki")
NYC = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
Z = ZoneInfo("UTC")


def hel(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """Return an aware Helsinki datetime (a `now` for the tests)."""
    return datetime(year, month, day, hour, minute, tzinfo=HEL)


MON = hel(2026, 11, 23)  # Monday
FRI = hel(2026, 11, 27)  # Friday
SAT = hel(2026, 11, 28)
SUN = hel(2026, 11, 29)
DEC31 = hel(2026, 12, 31)  # Thursday, last day of the year
FEB_LEAP = hel(2028, 2, 10)  # Thursday in a leap-year February
FEB29 = hel(2028, 2, 29)
JAN31 = hel(2027, 1, 31)
JAN31_LEAP = hel(2028, 1, 31)


def test_fixture_weekdays_are_what_the_tables_assume() -> None:
    assert [d.weekday() for d in (MON, FRI, SAT, SUN, DEC31, FEB_LEAP)] == [0, 4, 5, 6, 3, 3]


ENGLISH = [
    # ISO and numeric
    (MON, "2026-12-01", date(2026, 12, 1)),
    (MON, "2027-1-5", date(2027, 1, 5)),
    (MON, "1.12.2026", date(2026, 12, 1)),
    (MON, "1.12.26", date(2026, 12, 1)),
    (MON, "1.12.2026.", date(2026, 12, 1)),
    (MON, "1.12.", date(2026, 12, 1)),
    (MON, "1.12", date(2026, 12, 1)),
    (MON, "31.12", date(2026, 12, 31)),
    (MON, "23.11.", date(2026, 11, 23)),  # today is its own next occurrence
    (MON, "22.11.", date(2027, 11, 22)),  # yesterday's day -> next year
    (MON, "1.1.", date(2027, 1, 1)),
    (MON, "29.2.", date(2028, 2, 29)),  # next leap day
    (MON, "25/12/2026", date(2026, 12, 25)),
    (MON, "12/25/2026", date(2026, 12, 25)),
    # relative words
    (MON, "today", date(2026, 11, 23)),
    (MON, "tomorrow", date(2026, 11, 24)),
    (MON, "  TOMORROW  ", date(2026, 11, 24)),
    (MON, "Tomorrow.", date(2026, 11, 24)),
    (MON, "day after tomorrow", date(2026, 11, 25)),
    (MON, "in 3 days", date(2026, 11, 26)),
    (MON, "in 1 day", date(2026, 11, 24)),
    (MON, "in 2 weeks", date(2026, 12, 7)),
    (MON, "in a week", date(2026, 11, 30)),
    (MON, "in two weeks", date(2026, 12, 7)),
    (MON, "3 days from now", date(2026, 11, 26)),
    (MON, "in 1 month", date(2026, 12, 23)),
    (MON, "next week", date(2026, 11, 30)),
    (MON, "next month", date(2026, 12, 1)),
    (MON, "end of month", date(2026, 11, 30)),
    (MON, "end of the month", date(2026, 11, 30)),
    (MON, "end of week", date(2026, 11, 27)),
    # weekdays: next such day strictly after today
    (MON, "friday", date(2026, 11, 27)),
    (MON, "Friday", date(2026, 11, 27)),
    (MON, "fri", date(2026, 11, 27)),
    (MON, "on friday", date(2026, 11, 27)),
    (MON, "by Friday", date(2026, 11, 27)),
    (MON, "until fri.", date(2026, 11, 27)),
    (MON, "next friday", date(2026, 11, 27)),
    (MON, "tue", date(2026, 11, 24)),
    (MON, "thurs", date(2026, 11, 26)),
    (MON, "sunday", date(2026, 11, 29)),
    (MON, "monday", date(2026, 11, 30)),
    (MON, "this monday", date(2026, 11, 23)),
    (MON, "by 2026-12-01", date(2026, 12, 1)),
    (FRI, "friday", date(2026, 12, 4)),
    (FRI, "this friday", date(2026, 11, 27)),
    (FRI, "saturday", date(2026, 11, 28)),
    (FRI, "thursday", date(2026, 12, 3)),
    (FRI, "end of week", date(2026, 11, 27)),
    (FRI, "next week", date(2026, 11, 30)),
    (SAT, "end of week", date(2026, 12, 4)),
    (SAT, "next week", date(2026, 11, 30)),
    (SAT, "end of month", date(2026, 11, 30)),
    (SUN, "next week", date(2026, 11, 30)),
    (SUN, "monday", date(2026, 11, 30)),
    (SUN, "sunday", date(2026, 12, 6)),
    (SUN, "end of week", date(2026, 12, 4)),
    # month and year ends
    (DEC31, "end of month", date(2026, 12, 31)),
    (DEC31, "today", date(2026, 12, 31)),
    (DEC31, "tomorrow", date(2027, 1, 1)),
    (DEC31, "1.1.", date(2027, 1, 1)),
    (DEC31, "31.12", date(2026, 12, 31)),
    (DEC31, "next week", date(2027, 1, 4)),
    (DEC31, "next month", date(2027, 1, 1)),
    (DEC31, "in 2 weeks", date(2027, 1, 14)),
    (DEC31, "in 1 month", date(2027, 1, 31)),
    (DEC31, "friday", date(2027, 1, 1)),
    (DEC31, "end of week", date(2027, 1, 1)),
    (FEB_LEAP, "end of month", date(2028, 2, 29)),
    (FEB_LEAP, "29.2.", date(2028, 2, 29)),
    (FEB_LEAP, "in 3 weeks", date(2028, 3, 2)),
    (FEB29, "end of month", date(2028, 2, 29)),
    (FEB29, "tomorrow", date(2028, 3, 1)),
    (FEB29, "29.2.", date(2028, 2, 29)),
    (JAN31, "in 1 month", date(2027, 2, 28)),  # clamped to the month's last day
    (JAN31, "end of month", date(2027, 1, 31)),
    (JAN31_LEAP, "in 1 month", date(2028, 2, 29)),
    # other phrasings go to dateparser
    (MON, "December 1", date(2026, 12, 1)),
    (MON, "1 December 2026", date(2026, 12, 1)),
    (MON, "dec 24", date(2026, 12, 24)),
    (MON, "may 5", date(2027, 5, 5)),  # future preferred
    (MON, "tuesday 1 December 2026", date(2026, 12, 1)),
    (MON, "tomorrow at 5pm", date(2026, 11, 24)),
]

FINNISH = [
    (MON, "tänään", date(2026, 11, 23)),
    (MON, "TÄNÄÄN", date(2026, 11, 23)),
    (MON, "huomenna", date(2026, 11, 24)),
    (MON, "ylihuomenna", date(2026, 11, 25)),
    (MON, "maanantaina", date(2026, 11, 30)),
    (MON, "maanantai", date(2026, 11, 30)),
    (MON, "tiistaina", date(2026, 11, 24)),
    (MON, "tiistai", date(2026, 11, 24)),
    (MON, "keskiviikkona", date(2026, 11, 25)),
    (MON, "keskiviikko", date(2026, 11, 25)),
    (MON, "torstaina", date(2026, 11, 26)),
    (MON, "torstai", date(2026, 11, 26)),
    (MON, "perjantaina", date(2026, 11, 27)),
    (MON, "Perjantai", date(2026, 11, 27)),
    (MON, "pe", date(2026, 11, 27)),
    (MON, "lauantaina", date(2026, 11, 28)),
    (MON, "lauantai", date(2026, 11, 28)),
    (MON, "sunnuntaina", date(2026, 11, 29)),
    (MON, "sunnuntai", date(2026, 11, 29)),
    (MON, "ensi perjantaina", date(2026, 11, 27)),
    (MON, "perjantaihin mennessä", date(2026, 11, 27)),
    (MON, "viimeistään perjantaina", date(2026, 11, 27)),
    (MON, "3 päivän päästä", date(2026, 11, 26)),
    (MON, "päivän päästä", date(2026, 11, 24)),
    (MON, "viikon päästä", date(2026, 11, 30)),
    (MON, "kahden viikon päästä", date(2026, 12, 7)),
    (MON, "2 viikon kuluttua", date(2026, 12, 7)),
    (MON, "kuukauden päästä", date(2026, 12, 23)),
    (MON, "ensi viikolla", date(2026, 11, 30)),
    (MON, "ensi kuussa", date(2026, 12, 1)),
    (MON, "kuun lopussa", date(2026, 11, 30)),
    (MON, "kuun loppuun", date(2026, 11, 30)),
    (MON, "kuun loppuun mennessä", date(2026, 11, 30)),
    (MON, "viikon loppuun", date(2026, 11, 27)),
    (MON, "1. joulukuuta 2026", date(2026, 12, 1)),
    (FRI, "perjantaina", date(2026, 12, 4)),
    (FRI, "ensi viikolla", date(2026, 11, 30)),
    (SUN, "ensi viikolla", date(2026, 11, 30)),
    (DEC31, "kuun lopussa", date(2026, 12, 31)),
    (DEC31, "huomenna", date(2027, 1, 1)),
    (FEB_LEAP, "kuun loppuun", date(2028, 2, 29)),
    (JAN31, "kuukauden päästä", date(2027, 2, 28)),
]


@pytest.mark.parametrize(("now", "text", "expected"), ENGLISH)
def test_english_phrases(now: datetime, text: str, expected: date) -> None:
    assert parse_due_date(text, now=now, tz=HEL) == expected


@pytest.mark.parametrize(("now", "text", "expected"), FINNISH)
def test_finnish_phrases(now: datetime, text: str, expected: date) -> None:
    assert parse_due_date(text, now=now, tz=HEL) == expected


@pytest.mark.parametrize(
    ("tz", "text", "expected"),
    [
        # 2026-11-23T23:30Z is Tuesday 01:30 in Helsinki but Monday 18:30 in New York.
        (HEL, "today", date(2026, 11, 24)),
        (HEL, "tomorrow", date(2026, 11, 25)),
        (HEL, "tuesday", date(2026, 12, 1)),
        (HEL, "friday", date(2026, 11, 27)),
        (HEL, "next week", date(2026, 11, 30)),
        (HEL, "24.11.", date(2026, 11, 24)),
        (NYC, "today", date(2026, 11, 23)),
        (NYC, "tomorrow", date(2026, 11, 24)),
        (NYC, "tuesday", date(2026, 11, 24)),
        (NYC, "2026-11-23", date(2026, 11, 23)),
        (NYC, "23.11.", date(2026, 11, 23)),
    ],
)
def test_today_is_the_users_local_day(tz: ZoneInfo, text: str, expected: date) -> None:
    now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert parse_due_date(text, now=now, tz=tz) == expected


def test_same_instant_can_be_in_the_past_in_one_timezone_only() -> None:
    now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert parse_due_date("2026-11-23", now=now, tz=NYC) == date(2026, 11, 23)
    with pytest.raises(DateParseError, match="is in the past"):
        parse_due_date("2026-11-23", now=now, tz=HEL)


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        # 22:30Z on Mar 28 is already 00:30 on Sunday Mar 29 (the spring-forward day).
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "today", date(2026, 3, 29)),
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "tomorrow", date(2026, 3, 30)),
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "monday", date(2026, 3, 30)),
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "in 1 week", date(2026, 4, 5)),
        (datetime(2026, 3, 28, 21, 59, tzinfo=UTC), "today", date(2026, 3, 28)),
        # 21:30Z on Oct 24 is 00:30 on Sunday Oct 25 (summer time, UTC+3).
        (datetime(2026, 10, 24, 21, 30, tzinfo=UTC), "today", date(2026, 10, 25)),
        (datetime(2026, 10, 24, 21, 30, tzinfo=UTC), "tomorrow", date(2026, 10, 26)),
        (datetime(2026, 10, 24, 21, 30, tzinfo=UTC), "friday", date(2026, 10, 30)),
        (datetime(2026, 10, 24, 21, 30, tzinfo=UTC), "end of month", date(2026, 10, 31)),
        # After falling back (UTC+2): 21:59Z is 23:59 on Oct 25, 22:00Z is Oct 26.
        (datetime(2026, 10, 25, 21, 59, tzinfo=UTC), "today", date(2026, 10, 25)),
        (datetime(2026, 10, 25, 22, 0, tzinfo=UTC), "today", date(2026, 10, 26)),
        (datetime(2026, 10, 25, 22, 0, tzinfo=UTC), "huomenna", date(2026, 10, 27)),
    ],
)
def test_dst_change_weeks_in_helsinki(now: datetime, text: str, expected: date) -> None:
    assert parse_due_date(text, now=now, tz=HEL) == expected


@pytest.mark.parametrize(
    ("now", "text", "reason"),
    [
        (MON, "31.2.", "February has no 31st"),
        (MON, "30.2", "February has no 30th"),
        (MON, "31.4.", "April has no 31st"),
        (MON, "31.2.2027", "February 2027 has no 31st"),
        (MON, "29.2.2027", "February 2027 has no 29th"),
        (MON, "2026-13-01", "there is no month 13"),
        (MON, "2026-02-30", "February 2026 has no 30th"),
        (MON, "2026-00-10", "there is no month 0"),
        (MON, "32.1.", "no month has a day 32"),
        (MON, "1.13.", "there is no month 13"),
        (MON, "1/12/2026", "1 December or 12 January"),
        (MON, "13/14/2026", "neither number can be a month"),
        (MON, "17", "number format"),
        (MON, "1-12-2026", "number format"),
        (MON, "", "empty"),
        (MON, "   ", "empty"),
        (MON, "by ", "empty"),
        (MON, "asap", "don't recognise"),
        (MON, "soon", "don't recognise"),
        (MON, "banana", "don't recognise"),
        (MON, "friday-ish", "don't recognise"),
        (MON, "<!channel>", "don't recognise"),
        (MON, "yesterday", "2026-11-22 is in the past"),
        (MON, "eilen", "2026-11-22 is in the past"),
        (MON, "2026-11-01", "2026-11-01 is in the past"),
        (MON, "1.11.2026", "2026-11-01 is in the past"),
        (MON, "3 days ago", "2026-11-20 is in the past"),
        (DEC31, "30.12.2026", "is in the past"),
        (MON, "in 99999999 days", "too far away"),
        (MON, "1 December 2026 friday", "2026-12-01 is a Tuesday, not a Friday"),
    ],
)
def test_errors_explain_in_plain_words(now: datetime, text: str, reason: str) -> None:
    with pytest.raises(DateParseError) as caught:
        parse_due_date(text, now=now, tz=HEL)
    message = str(caught.value)
    assert reason in message
    assert f"“{text.strip()}”" in message  # echoes what the user typed
    assert "Try an ISO date like" in message
    assert "Traceback" not in message
    assert caught.value.text == text


def test_error_message_matches_the_documented_example() -> None:
    with pytest.raises(DateParseError) as caught:
        parse_due_date("31.2.", now=MON, tz=HEL)
    assert str(caught.value) == (
        "I couldn't read “31.2.” as a date: February has no 31st. "
        "Try an ISO date like 2026-12-07, a weekday like friday, tomorrow, or in 3 days."
    )


def test_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(DateParseError) as caught:
        parse_due_date("x" * 500, now=MON, tz=HEL)
    assert len(str(caught.value)) < 250


def test_date_parse_error_is_a_value_error() -> None:
    assert issubclass(DateParseError, ValueError)


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (MON, "yesterday", date(2026, 11, 22)),
        (MON, "eilen", date(2026, 11, 22)),
        (MON, "2026-11-01", date(2026, 11, 1)),
        (MON, "20.11.", date(2026, 11, 20)),  # nearest occurrence, not next year
        (MON, "3 days ago", date(2026, 11, 20)),
        (DEC31, "1.1.", date(2027, 1, 1)),  # nearest occurrence is in the future
        (MON, "friday", date(2026, 11, 27)),  # weekdays still look forward
    ],
)
def test_allow_past(now: datetime, text: str, expected: date) -> None:
    assert parse_due_date(text, now=now, tz=HEL, allow_past=True) == expected


def test_yearless_date_without_allow_past_is_next_occurrence() -> None:
    assert parse_due_date("20.11.", now=MON, tz=HEL) == date(2027, 11, 20)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware") as caught:
        parse_due_date("tomorrow", now=datetime(2026, 11, 23, 10, 0), tz=HEL)
    assert not isinstance(caught.value, DateParseError)


def test_results_never_depend_on_the_wall_clock() -> None:
    far = hel(2031, 6, 15)
    assert parse_due_date("December 1", now=far, tz=HEL) == date(2031, 12, 1)
    assert parse_due_date("1.12.", now=far, tz=HEL) == date(2031, 12, 1)
    assert parse_due_date("tomorrow", now=far, tz=HEL) == date(2031, 6, 16)
    for _ in range(3):
        assert parse_due_date("may 5", now=MON, tz=HEL) == date(2027, 5, 5)


def _dateparser_date(text: str, now: datetime, tz: ZoneInfo) -> date:
    parsed = dateparser.parse(
        text,
        languages=["en", "fi"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now.astimezone(tz).replace(tzinfo=None),
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    assert parsed is not None, text
    return parsed.date()


@pytest.mark.parametrize("now", [MON, FRI, SUN, DEC31, FEB_LEAP, FEB29, JAN31, JAN31_LEAP])
@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01",
        "2031-02-28",
        "today",
        "tomorrow",
        "in 3 days",
        "in 2 weeks",
        "in a week",
        "in 1 month",
        "in 2 months",
        "tänään",
        "huomenna",
        "3 päivän päästä",
        "2 kuukauden päästä",
        "1 December 2030",
    ],
)
def test_agrees_with_dateparser_where_meanings_match(now: datetime, text: str) -> None:
    expected = _dateparser_date(text, now, HEL)
    assert parse_due_date(text, now=now, tz=HEL, allow_past=True) == expected


def test_next_week_agrees_with_dateparser_on_a_monday() -> None:
    # dateparser's "next week" is "a week from now"; ours is Monday of next week. On a
    # Monday both mean the same day.
    assert parse_due_date("next week", now=MON, tz=HEL) == _dateparser_date("next week", MON, HEL)
    assert parse_due_date("next week", now=FRI, tz=HEL) == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", time(9, 0)),
        ("9:30", time(9, 30)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
        (" 17:30 ", time(17, 30)),
    ],
)
def test_parse_clock_time(text: str, expected: time) -> None:
    assert parse_clock_time(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("25:00", "hours go from 00 to 23"),
        ("24:00", "hours go from 00 to 23"),
        ("12:60", "minutes go from 00 to 59"),
        ("17", "Use HH:MM"),
        ("9.30", "Use HH:MM"),
        ("9:5", "Use HH:MM"),
        ("", "Use HH:MM"),
        ("noon", "Use HH:MM"),
        ("-1:00", "Use HH:MM"),
        ("9:00 am", "Use HH:MM"),
    ],
)
def test_parse_clock_time_errors(text: str, reason: str) -> None:
    with pytest.raises(DateParseError, match=reason) as caught:
        parse_clock_time(text)
    assert f"“{text}”" in str(caught.value)


@pytest.mark.parametrize(
    ("tz", "day", "start_utc", "hours"),
    [
        (HEL, date(2026, 11, 23), datetime(2026, 11, 22, 22, 0, tzinfo=UTC), 24),
        (HEL, date(2026, 3, 29), datetime(2026, 3, 28, 22, 0, tzinfo=UTC), 23),
        (HEL, date(2026, 10, 25), datetime(2026, 10, 24, 21, 0, tzinfo=UTC), 25),
        (HEL, date(2026, 7, 1), datetime(2026, 6, 30, 21, 0, tzinfo=UTC), 24),
        (NYC, date(2026, 3, 8), datetime(2026, 3, 8, 5, 0, tzinfo=UTC), 23),
        (NYC, date(2026, 11, 1), datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 25),
        (Z, date(2026, 3, 29), datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 24),
        # Chile springs forward at midnight: 2026-09-06 starts at 01:00 local (04:00Z).
        (SANTIAGO, date(2026, 9, 6), datetime(2026, 9, 6, 4, 0, tzinfo=UTC), 23),
    ],
)
def test_local_day_bounds(tz: ZoneInfo, day: date, start_utc: datetime, hours: int) -> None:
    start = local_day_start(day, tz)
    end = day_end(day, tz)
    assert start == start_utc
    assert start.utcoffset() == timedelta(0)  # instants are returned in UTC
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)
    assert end == local_day_start(day + timedelta(days=1), tz)
    assert start.astimezone(tz).date() == day
    assert (start - timedelta(seconds=1)).astimezone(tz).date() == day - timedelta(days=1)
    assert (end - timedelta(seconds=1)).astimezone(tz).date() == day
    assert end.astimezone(tz).date() == day + timedelta(days=1)
