"""Tests for bot.digest_rules: `/trust digest here` parsing, local weeks, DST, due digests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.digest_rules import (
    DIGEST_HERE_USAGE,
    DigestSchedule,
    DigestScheduleError,
    describe_instant,
    digest_due,
    due_instant,
    find_timezone,
    next_due,
    parse_digest_here,
    week_start,
)
from bot.text import escape

HEL = "Europe/Helsinki"
NYC = "America/New_York"
ALL: frozenset[str] = frozenset()


def sched(
    weekday: int = 0,
    hour: int = 9,
    minute: int = 0,
    tz: str = HEL,
    tiers: frozenset[str] = ALL,
) -> DigestSchedule:
    """A schedule with the parser's defaults unless told otherwise."""
    return DigestSchedule(weekday=weekday, hour=hour, minute=minute, tz=tz, tiers=tiers)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware local datetime in `tz` (fold=0)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz))


# --- parse_digest_here: accepted forms -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # defaults
        ("", sched()),
        ("   ", sched()),
        # weekday and time
        ("monday 09:00", sched()),
        ("friday 16:30", sched(4, 16, 30)),
        ("Friday 16:30", sched(4, 16, 30)),
        ("FRIDAY 16:30", sched(4, 16, 30)),
        ("fri 9:00", sched(4, 9, 0)),
        ("Wed 9.00", sched(2, 9, 0)),
        ("tue 07:05", sched(1, 7, 5)),
        ("tues 0:00", sched(1, 0, 0)),
        ("thu 23:59", sched(3, 23, 59)),
        ("thur 12:00", sched(3, 12, 0)),
        ("thurs 12:00", sched(3, 12, 0)),
        ("sat 10:00", sched(5, 10, 0)),
        ("sun 10:00", sched(6, 10, 0)),
        ("mondays 08:15", sched(0, 8, 15)),
        ("mon. 08:15", sched(0, 8, 15)),
        ("16:30 friday", sched(4, 16, 30)),  # any order
        ("every friday at 16:30", sched(4, 16, 30)),
        ("on Friday at 16:30", sched(4, 16, 30)),
        ("friday", sched(4, 9, 0)),  # a day alone keeps 09:00
        ("17:45", sched(0, 17, 45)),  # a time alone keeps Monday
        ("9.00.", sched()),
        ("friday, 16:30,", sched(4, 16, 30)),
        # Finnish
        ("maanantai 9.00", sched(0, 9, 0)),
        ("tiistai 10:00", sched(1, 10, 0)),
        ("keskiviikko 10:00", sched(2, 10, 0)),
        ("torstai 10:00", sched(3, 10, 0)),
        ("perjantai 10:00", sched(4, 10, 0)),
        ("lauantai 10:00", sched(5, 10, 0)),
        ("sunnuntai 10:00", sched(6, 10, 0)),
        ("Perjantaina klo 16.30", sched(4, 16, 30)),
        ("joka maanantai kello 8.00", sched(0, 8, 0)),
        ("perjantaisin 14:00", sched(4, 14, 0)),
        # timezones
        ("Europe/Helsinki", sched()),
        ("europe/helsinki", sched()),
        ("EUROPE/HELSINKI", sched()),
        ("America/New_York", sched(tz=NYC)),
        ("america/new_york monday 9:00", sched(tz=NYC)),
        ("UTC", sched(tz="UTC")),
        ("utc", sched(tz="UTC")),
        ("Asia/Kolkata friday 16:30", sched(4, 16, 30, "Asia/Kolkata")),
        ("America/Argentina/Buenos_Aires", sched(tz="America/Argentina/Buenos_Aires")),
        ("Etc/GMT-2", sched(tz="Etc/GMT-2")),
        ("monday 9:00 Europe/Helsinki Europe/Helsinki", sched()),  # a repeat is not a conflict
        # tiers
        ("tier A", sched(tiers=frozenset({"A"}))),
        ("tier a", sched(tiers=frozenset({"A"}))),
        ("tier A,B", sched(tiers=frozenset({"A", "B"}))),
        ("tiers a, c", sched(tiers=frozenset({"A", "C"}))),
        ("tiers a ,c", sched(tiers=frozenset({"A", "C"}))),
        ("tiers A B", sched(tiers=frozenset({"A", "B"}))),
        ("tier A and B", sched(tiers=frozenset({"A", "B"}))),
        ("tier A ja C", sched(tiers=frozenset({"A", "C"}))),
        ("tier A &amp; C", sched(tiers=frozenset({"A", "C"}))),
        ("Tier B,B", sched(tiers=frozenset({"B"}))),
        ("tier A,B,C", sched()),  # all three = all tiers
        ("tier all", sched()),
        ("tier kaikki", sched()),
        # everything, in several orders
        (
            "monday 09:00 Europe/Helsinki tier A,B",
            sched(tiers=frozenset({"A", "B"})),
        ),
        (
            "tier A,B Europe/Helsinki monday 09:00",
            sched(tiers=frozenset({"A", "B"})),
        ),
        (
            "America/New_York tier c wed 7:30",
            sched(2, 7, 30, NYC, frozenset({"C"})),
        ),
        (
            "tiers a, b thursday 15:00 utc",
            sched(3, 15, 0, "UTC", frozenset({"A", "B"})),
        ),
        (
            "every friday at 16:30 europe/helsinki tier b",
            sched(4, 16, 30, HEL, frozenset({"B"})),
        ),
    ],
)
def test_parse_accepts(text: str, expected: DigestSchedule) -> None:
    assert parse_digest_here(text, default_tz=HEL) == expected


def test_parse_defaults_to_callers_zone() -> None:
    assert parse_digest_here("friday 16:30", default_tz=NYC) == sched(4, 16, 30, NYC)
    assert parse_digest_here("", default_tz="america/new_york").tz == NYC


def test_parse_given_zone_beats_callers_zone() -> None:
    assert parse_digest_here("Asia/Tokyo", default_tz=NYC).tz == "Asia/Tokyo"


def test_parse_unknown_caller_zone_without_a_zone_in_the_text() -> None:
    with pytest.raises(DigestScheduleError) as err:
        parse_digest_here("friday 16:30", default_tz="Mars/Olympus_Mons")
    assert "Mars/Olympus_Mons" in str(err.value)
    assert "Europe/Helsinki" in str(err.value)
    # ...but a zone in the text makes the caller's zone irrelevant
    assert parse_digest_here("UTC", default_tz="Mars/Olympus_Mons").tz == "UTC"


# --- parse_digest_here: errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # unknown timezones
        ("Mars/Phobos", ["“Mars/Phobos”", "Europe/Helsinki"]),
        ("Europe/Helsinky", ["“Europe/Helsinky”", "Did you mean Europe/Helsinki?"]),
        ("monday 9:00 America/New_Yrok", ["“America/New_Yrok”", "Did you mean America/New_York?"]),
        ("helsinki", ["“helsinki”", "Did you mean Europe/Helsinki?"]),
        ("UTC+2", ["“UTC+2”", "fixed offset", "Europe/Helsinki"]),
        ("GMT-05:00", ["“GMT-05:00”", "fixed offset"]),
        ("+03:00", ["“+03:00”", "fixed offset"]),
        ("PST", ["“PST”", "abbreviations", "Europe/Helsinki"]),
        ("EEST", ["“EEST”", "abbreviations"]),
        # times
        ("25:00", ["“25:00”", "hours go from 00 to 23", "09:00"]),
        ("24:00", ["“24:00”", "hours go from 00 to 23"]),
        ("9:60", ["“9:60”", "minutes go from 00 to 59"]),
        ("monday 9am", ["“9am”", "HH:MM"]),
        ("monday 9", ["“9”", "HH:MM"]),
        ("monday 9:5", ["“9:5”", "HH:MM"]),
        ("monday 123:00", ["“123:00”", "HH:MM"]),
        # weekday typos, with the closest day suggested
        ("mnday 09:00", ["“mnday”", "Did you mean Monday?"]),
        ("Tusday", ["“Tusday”", "Did you mean Tuesday?"]),
        ("wensday 10:00", ["“wensday”", "Did you mean Wednesday?"]),
        ("thrusday", ["“thrusday”", "Did you mean Thursday?"]),
        ("fridya 16:30", ["“fridya”", "Did you mean Friday?"]),
        ("satrday", ["“satrday”", "Did you mean Saturday?"]),
        ("sundy", ["“sundy”", "Did you mean Sunday?"]),
        ("perjantia", ["“perjantia”", "Did you mean perjantai?"]),
        # tiers
        ("tier D", ["“D”", "A, B or C"]),
        ("tier A,D", ["“D”", "A, B or C"]),
        ("tier gold", ["“gold”", "A, B or C"]),
        ("tier", ["Which tiers?"]),
        ("monday tier", ["Which tiers?"]),
        ("tier ,", ["Which tiers?"]),
        # conflicts
        ("monday friday", ["Monday", "Friday", "one day"]),
        ("9:00 10:00", ["09:00", "10:00"]),
        ("UTC Europe/Helsinki", ["UTC", "Europe/Helsinki", "one timezone"]),
        ("tier A tier B", ["tier A", "tier B"]),
        # unknown extra words, with what was understood
        ("weekly", ["I don't understand “weekly”"]),
        ("monday 9:00 please", ["I understood Monday at 09:00 but not “please”"]),
        (
            "friday 16:30 UTC tier A to the sales team",
            ["I understood Friday at 16:30 in UTC, tier A but not “to the sales team”"],
        ),
        ("tier A foo", ["I understood tier A but not “foo”"]),
        ("foo monday bar", ["I understood Monday but not “foo bar”"]),
        ("pe 14:00", ["I understood at 14:00 but not “pe”"]),  # no two-letter Finnish days
    ],
)
def test_parse_rejects(text: str, fragments: list[str]) -> None:
    with pytest.raises(DigestScheduleError) as err:
        parse_digest_here(text, default_tz=HEL)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message
    assert escape(DIGEST_HERE_USAGE) in message  # every error ends with the usage line
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # a Slack special mention typed as plain text must never ping when echoed
        ("monday <!channel>", "“&lt;!channel&gt;”"),
        ("<!here> 9:00", "“&lt;!here&gt;”"),
        ("<@U123|bob>", "“&lt;@U123|bob&gt;”"),
        # Slack's own escaping is read back and escaped once again (no double escaping)
        ("&lt;!everyone&gt;", "“&lt;!everyone&gt;”"),
        ("R&amp;D", "“R&amp;D”"),
        # links and mrkdwn
        ("<https://evil.example|click me>", "“&lt;https://evil.example|click me&gt;”"),
        ("*bold* _it_ <b>", "“*bold* _it_ &lt;b&gt;”"),
        ("<!channel>/x", "“&lt;!channel&gt;/x”"),
        ("<script>:00", "“&lt;script&gt;:00”"),
        ("tier <!channel>", "“&lt;!channel&gt;”"),
        ("9:00 <evil>/Zone", "“&lt;evil&gt;/Zone”"),
    ],
)
def test_parse_errors_echo_user_text_escaped(text: str, shown: str) -> None:
    with pytest.raises(DigestScheduleError) as err:
        parse_digest_here(text, default_tz=HEL)
    message = str(err.value)
    assert shown in message
    assert "<!" not in message and "<@" not in message and "<h" not in message
    # the usage line's placeholders are escaped too, so the whole message is safe mrkdwn
    assert "<weekday>" not in message
    assert "&lt;weekday&gt;" in message
    assert "&amp;lt;" not in message


def test_error_plain_is_the_unescaped_message() -> None:
    with pytest.raises(DigestScheduleError) as err:
        parse_digest_here("<!channel>", default_tz=HEL)
    assert "“<!channel>”" in err.value.plain
    assert DIGEST_HERE_USAGE in err.value.plain


def test_error_echo_is_shortened() -> None:
    with pytest.raises(DigestScheduleError) as err:
        parse_digest_here("word " * 100, default_tz=HEL)
    assert "…”" in str(err.value)
    assert len(str(err.value)) < 400


# --- DigestSchedule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (
            sched(tiers=frozenset({"A", "B"})),
            "every Monday at 09:00 (Europe/Helsinki), tiers A and B",
        ),
        (sched(), "every Monday at 09:00 (Europe/Helsinki), all tiers"),
        (
            sched(4, 16, 5, NYC, frozenset({"C"})),
            "every Friday at 16:05 (America/New_York), tier C",
        ),
        (
            sched(6, 0, 0, "UTC", frozenset({"A", "C"})),
            "every Sunday at 00:00 (UTC), tiers A and C",
        ),
        (
            sched(tiers=frozenset({"A", "B", "C"})),
            "every Monday at 09:00 (Europe/Helsinki), all tiers",
        ),
    ],
)
def test_describe(schedule: DigestSchedule, text: str) -> None:
    assert schedule.describe() == text


def test_schedule_normalises_all_tiers_to_empty() -> None:
    assert sched(tiers=frozenset({"A", "B", "C"})) == sched()
    assert sched().includes_tier("C")
    assert sched(tiers=frozenset({"A"})).includes_tier("A")
    assert not sched(tiers=frozenset({"A"})).includes_tier("B")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weekday": 7},
        {"weekday": -1},
        {"hour": 24},
        {"minute": 60},
        {"tz": "Mars/Phobos"},
        {"tiers": frozenset({"D"})},
    ],
)
def test_schedule_rejects_impossible_values(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"weekday": 0, "hour": 9, "minute": 0, "tz": HEL}
    fields.update(kwargs)
    with pytest.raises(ValueError):
        DigestSchedule(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Europe/Helsinki", "Europe/Helsinki"),
        ("europe/helsinki", "Europe/Helsinki"),
        (" UTC ", "UTC"),
        ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
        ("Europe/Helsinky", None),
        ("", None),
    ],
)
def test_find_timezone(name: str, canonical: str | None) -> None:
    assert find_timezone(name) == canonical


# --- week_start ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "tz", "monday"),
    [
        # the same instant, Sunday 29 Nov 2026 22:30 UTC, lies in different local weeks
        (utc(2026, 11, 29, 22, 30), HEL, date(2026, 11, 30)),  # Monday 00:30 in Helsinki
        (utc(2026, 11, 29, 22, 30), "UTC", date(2026, 11, 23)),
        (utc(2026, 11, 29, 22, 30), NYC, date(2026, 11, 23)),
        # Monday 30 Nov 03:00 UTC is still Sunday evening in New York
        (utc(2026, 11, 30, 3, 0), NYC, date(2026, 11, 23)),
        (utc(2026, 11, 30, 3, 0), HEL, date(2026, 11, 30)),
        (utc(2026, 11, 30, 5, 0), NYC, date(2026, 11, 30)),  # 00:00 Monday in New York
        (utc(2026, 11, 30, 4, 59), NYC, date(2026, 11, 23)),  # 23:59 Sunday in New York
        # around local midnight
        (local(HEL, 2026, 11, 30, 0, 0), HEL, date(2026, 11, 30)),
        (local(HEL, 2026, 11, 29, 23, 59), HEL, date(2026, 11, 23)),
        (local(HEL, 2026, 11, 25, 12, 0), HEL, date(2026, 11, 23)),  # mid-week
        # far east and far west
        (utc(2026, 11, 29, 10, 0), "Pacific/Kiritimati", date(2026, 11, 30)),  # UTC+14
        (utc(2026, 11, 30, 10, 0), "Pacific/Pago_Pago", date(2026, 11, 23)),  # UTC-11
        # a `now` in another zone is converted, not read as local
        (local(NYC, 2026, 11, 29, 20, 0), HEL, date(2026, 11, 30)),
        # across the year end: 2026 has an ISO week 53 (28 Dec 2026 - 3 Jan 2027)
        (utc(2026, 12, 31, 12, 0), HEL, date(2026, 12, 28)),
        (utc(2027, 1, 1, 12, 0), HEL, date(2026, 12, 28)),
        (utc(2027, 1, 3, 12, 0), HEL, date(2026, 12, 28)),
        (utc(2027, 1, 3, 22, 30), HEL, date(2027, 1, 4)),  # Monday 00:30 in Helsinki
        (utc(2027, 1, 3, 22, 30), "UTC", date(2026, 12, 28)),
        (utc(2027, 1, 4, 3, 0), NYC, date(2026, 12, 28)),
        (utc(2025, 12, 31, 23, 30), HEL, date(2025, 12, 29)),  # 2026's ISO week 1 starts in 2025
        # on DST days
        (utc(2026, 3, 29, 1, 30), HEL, date(2026, 3, 23)),
        (utc(2026, 3, 29, 21, 0), HEL, date(2026, 3, 30)),  # Monday 00:00 EEST
        (utc(2026, 10, 25, 21, 59), HEL, date(2026, 10, 19)),  # Sunday 23:59 EET
        (utc(2026, 10, 25, 22, 0), HEL, date(2026, 10, 26)),
    ],
)
def test_week_start(now: datetime, tz: str, monday: date) -> None:
    assert week_start(now, tz) == monday
    assert monday.weekday() == 0


def test_week_start_of_iso_week_53() -> None:
    monday = week_start(utc(2027, 1, 2, 12), HEL)
    assert monday.isocalendar()[:2] == (2026, 53)
    assert (monday + timedelta(days=7)).isocalendar()[:2] == (2027, 1)


def test_week_start_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        week_start(datetime(2026, 11, 30, 9, 0), HEL)


# --- due_instant ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "week", "expected"),
    [
        # ordinary weeks
        (sched(), date(2026, 11, 23), utc(2026, 11, 23, 7, 0)),  # EET = UTC+2
        (sched(4, 16, 30), date(2026, 11, 23), utc(2026, 11, 27, 14, 30)),
        (sched(tz="UTC"), date(2026, 11, 23), utc(2026, 11, 23, 9, 0)),
        (sched(6, 23, 59, "UTC"), date(2026, 11, 23), utc(2026, 11, 29, 23, 59)),
        (sched(tz="Asia/Kolkata"), date(2026, 11, 23), utc(2026, 11, 23, 3, 30)),
        # a Monday early-morning schedule east of UTC lands on Sunday in UTC
        (sched(0, 1, 0), date(2026, 11, 30), utc(2026, 11, 29, 23, 0)),
        # Helsinki, spring forward on Sunday 29 March 2026: 03:00 EET -> 04:00 EEST (01:00 UTC)
        (sched(0, 9, 0), date(2026, 3, 23), utc(2026, 3, 23, 7, 0)),  # still EET
        (sched(0, 9, 0), date(2026, 3, 30), utc(2026, 3, 30, 6, 0)),  # EEST = UTC+3
        (sched(6, 2, 59), date(2026, 3, 23), utc(2026, 3, 29, 0, 59)),  # just before the gap
        (sched(6, 3, 0), date(2026, 3, 23), utc(2026, 3, 29, 1, 0)),  # in the gap -> 04:00
        (sched(6, 3, 30), date(2026, 3, 23), utc(2026, 3, 29, 1, 0)),  # in the gap -> 04:00
        (sched(6, 3, 59), date(2026, 3, 23), utc(2026, 3, 29, 1, 0)),  # in the gap -> 04:00
        (sched(6, 4, 0), date(2026, 3, 23), utc(2026, 3, 29, 1, 0)),  # first valid time
        (sched(6, 4, 30), date(2026, 3, 23), utc(2026, 3, 29, 1, 30)),
        (sched(6, 3, 30), date(2026, 3, 16), utc(2026, 3, 22, 1, 30)),  # the week before: EET
        (sched(6, 3, 30), date(2026, 3, 30), utc(2026, 4, 5, 0, 30)),  # the week after: EEST
        # Helsinki, fall back on Sunday 25 October 2026: 04:00 EEST -> 03:00 EET (01:00 UTC)
        (sched(6, 2, 59), date(2026, 10, 19), utc(2026, 10, 24, 23, 59)),
        (sched(6, 3, 0), date(2026, 10, 19), utc(2026, 10, 25, 0, 0)),  # first 03:00, EEST
        (sched(6, 3, 30), date(2026, 10, 19), utc(2026, 10, 25, 0, 30)),  # first 03:30, EEST
        (sched(6, 4, 0), date(2026, 10, 19), utc(2026, 10, 25, 2, 0)),  # EET
        (sched(0, 9, 0), date(2026, 10, 19), utc(2026, 10, 19, 6, 0)),  # EEST
        (sched(0, 9, 0), date(2026, 10, 26), utc(2026, 10, 26, 7, 0)),  # EET
        # New York, spring forward on Sunday 8 March 2026: 02:00 EST -> 03:00 EDT (07:00 UTC)
        (sched(0, 9, 0, NYC), date(2026, 3, 2), utc(2026, 3, 2, 14, 0)),  # EST = UTC-5
        (sched(0, 9, 0, NYC), date(2026, 3, 9), utc(2026, 3, 9, 13, 0)),  # EDT = UTC-4
        (sched(6, 1, 59, NYC), date(2026, 3, 2), utc(2026, 3, 8, 6, 59)),
        (sched(6, 2, 0, NYC), date(2026, 3, 2), utc(2026, 3, 8, 7, 0)),  # gap -> 03:00 EDT
        (sched(6, 2, 30, NYC), date(2026, 3, 2), utc(2026, 3, 8, 7, 0)),  # gap -> 03:00 EDT
        (sched(6, 3, 0, NYC), date(2026, 3, 2), utc(2026, 3, 8, 7, 0)),
        # New York, fall back on Sunday 1 November 2026: 02:00 EDT -> 01:00 EST (06:00 UTC)
        (sched(6, 0, 59, NYC), date(2026, 10, 26), utc(2026, 11, 1, 4, 59)),
        (sched(6, 1, 0, NYC), date(2026, 10, 26), utc(2026, 11, 1, 5, 0)),  # first 01:00, EDT
        (sched(6, 1, 30, NYC), date(2026, 10, 26), utc(2026, 11, 1, 5, 30)),  # first 01:30, EDT
        (sched(6, 2, 0, NYC), date(2026, 10, 26), utc(2026, 11, 1, 7, 0)),  # EST
        (sched(0, 9, 0, NYC), date(2026, 11, 2), utc(2026, 11, 2, 14, 0)),  # EST
        # a half-hour DST shift: Lord Howe Island, 02:00 +10:30 -> 02:30 +11 on 4 October 2026
        (sched(6, 2, 15, "Australia/Lord_Howe"), date(2026, 9, 28), utc(2026, 10, 3, 15, 30)),
        (sched(6, 1, 59, "Australia/Lord_Howe"), date(2026, 9, 28), utc(2026, 10, 3, 15, 29)),
    ],
)
def test_due_instant(schedule: DigestSchedule, week: date, expected: datetime) -> None:
    instant = due_instant(schedule, week)
    assert instant == expected
    assert instant.tzinfo is UTC
    # the digest always lands on the scheduled local day, and never before the asked time
    shown = instant.astimezone(ZoneInfo(schedule.tz))
    assert shown.date() == week + timedelta(days=schedule.weekday)
    assert (shown.hour, shown.minute) >= (schedule.hour, schedule.minute)


def test_due_instant_needs_a_monday() -> None:
    with pytest.raises(ValueError, match="Monday"):
        due_instant(sched(), date(2026, 11, 24))


def test_due_instant_every_week_of_a_year_is_one_per_week() -> None:
    for tz in (HEL, NYC, "Australia/Sydney", "UTC"):
        schedule = sched(6, 2, 30, tz)
        week = date(2025, 12, 29)
        instants = []
        for _ in range(53):
            instants.append(due_instant(schedule, week))
            week += timedelta(days=7)
        gaps = {b - a for a, b in itertools.pairwise(instants)}
        # a week is 7 days, give or take a DST shift (or the gap's half hour in Sydney)
        assert all(abs(gap - timedelta(days=7)) <= timedelta(hours=1) for gap in gaps)
        assert {week_start(i, tz) for i in instants} == {
            date(2025, 12, 29) + timedelta(days=7 * n) for n in range(53)
        }


# --- digest_due ------------------------------------------------------------------------------

MONDAY_9 = sched()  # due 07:00 UTC on Monday 23 Nov 2026, 07:00 UTC on Monday 30 Nov
W47 = date(2026, 11, 16)
W48 = date(2026, 11, 23)
W49 = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("schedule", "now", "last_posted_week", "expected"),
    [
        # before, at and after the due time
        (MONDAY_9, utc(2026, 11, 23, 6, 59), W47, None),
        (MONDAY_9, utc(2026, 11, 23, 7, 0), W47, W48),
        (MONDAY_9, utc(2026, 11, 23, 7, 1), W47, W48),
        (MONDAY_9, utc(2026, 11, 23, 7, 0), None, W48),  # a brand-new subscription
        (MONDAY_9, utc(2026, 11, 23, 6, 59), None, None),
        # already posted this week
        (MONDAY_9, utc(2026, 11, 23, 7, 0), W48, None),
        (MONDAY_9, utc(2026, 11, 27, 12, 0), W48, None),
        (MONDAY_9, utc(2026, 11, 27, 12, 0), W49, None),  # a later week recorded: never again
        # catch-up later in the same week (the bot was down at the time)
        (MONDAY_9, utc(2026, 11, 25, 12, 0), W47, W48),
        (MONDAY_9, local(HEL, 2026, 11, 29, 23, 59), W47, W48),  # last minute of the week
        # the missed week is not posted once a new week starts, before or after its due time
        (MONDAY_9, local(HEL, 2026, 11, 30, 0, 0), W47, None),
        (MONDAY_9, utc(2026, 11, 30, 6, 59), W47, None),
        (MONDAY_9, utc(2026, 11, 30, 7, 0), W47, W49),  # only the current week, once
        (MONDAY_9, utc(2026, 11, 30, 7, 0), W48, W49),
        # late in the week: a Sunday 23:30 digest missed until Monday is skipped
        (sched(6, 23, 30), local(HEL, 2026, 11, 29, 23, 29), W47, None),
        (sched(6, 23, 30), local(HEL, 2026, 11, 29, 23, 45), W47, W48),
        (sched(6, 23, 30), local(HEL, 2026, 11, 30, 0, 10), W47, None),
        # weeks are local: 23:30 UTC on Sunday is already next week in Helsinki
        (sched(6, 23, 30, "UTC"), utc(2026, 11, 29, 23, 30), W47, W48),
        # DST: Sunday 03:30 falls in Helsinki's gap and is due at 04:00 EEST = 01:00 UTC
        (sched(6, 3, 30), utc(2026, 3, 29, 0, 59), date(2026, 3, 16), None),
        (sched(6, 3, 30), utc(2026, 3, 29, 1, 0), date(2026, 3, 16), date(2026, 3, 23)),
        # DST: the ambiguous Sunday 03:30 in October is due at its first occurrence only
        (sched(6, 3, 30), utc(2026, 10, 25, 0, 29), date(2026, 10, 12), None),
        (sched(6, 3, 30), utc(2026, 10, 25, 0, 30), date(2026, 10, 12), date(2026, 10, 19)),
        (sched(6, 3, 30), utc(2026, 10, 25, 1, 30), date(2026, 10, 19), None),  # second 03:30
        # New York
        (sched(0, 9, 0, NYC), utc(2026, 3, 9, 12, 59), date(2026, 3, 2), None),
        (sched(0, 9, 0, NYC), utc(2026, 3, 9, 13, 0), date(2026, 3, 2), date(2026, 3, 9)),
        # a `now` given in another zone means the same instant
        (MONDAY_9, local(NYC, 2026, 11, 23, 2, 0), W47, W48),
    ],
)
def test_digest_due(
    schedule: DigestSchedule, now: datetime, last_posted_week: date | None, expected: date | None
) -> None:
    assert digest_due(schedule, now=now, last_posted_week=last_posted_week) == expected


def test_digest_due_posts_exactly_once_per_week_over_a_year() -> None:
    """Ticking every 20 minutes through a year of DST changes posts once every week."""
    for schedule in (sched(6, 3, 30), sched(6, 1, 30, NYC), sched(0, 9, 0, NYC)):
        now = utc(2026, 1, 5)
        posted = [week_start(now, schedule.tz)]  # the week in progress was posted already
        while now < utc(2027, 1, 4):
            week = digest_due(schedule, now=now, last_posted_week=posted[-1])
            if week is not None:
                assert now >= due_instant(schedule, week)
                assert now - due_instant(schedule, week) < timedelta(minutes=20)
                posted.append(week)
            now += timedelta(minutes=20)
        # every week once, none skipped, none twice, up to the last week of 2026
        assert posted[-1] == date(2026, 12, 28)
        assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(posted))


def test_digest_due_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        digest_due(MONDAY_9, now=datetime(2026, 11, 23, 9, 0), last_posted_week=None)


# --- next_due and describe_instant ------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "now", "expected", "shown"),
    [
        (MONDAY_9, utc(2026, 11, 24, 12, 0), utc(2026, 11, 30, 7, 0), "Monday 30 Nov 09:00"),
        (MONDAY_9, utc(2026, 11, 23, 6, 59), utc(2026, 11, 23, 7, 0), "Monday 23 Nov 09:00"),
        # strictly after now: at the due instant the next one is a week later
        (MONDAY_9, utc(2026, 11, 23, 7, 0), utc(2026, 11, 30, 7, 0), "Monday 30 Nov 09:00"),
        (
            sched(4, 16, 30),
            utc(2026, 11, 22, 12, 0),
            utc(2026, 11, 27, 14, 30),
            "Friday 27 Nov 16:30",
        ),
        # across the year end
        (MONDAY_9, utc(2026, 12, 29, 12, 0), utc(2027, 1, 4, 7, 0), "Monday 4 Jan 09:00"),
        # across DST: the next Monday 09:00 is on summer time
        (MONDAY_9, utc(2026, 3, 23, 8, 0), utc(2026, 3, 30, 6, 0), "Monday 30 Mar 09:00"),
        # a time in the gap is shown as the time it really happens
        (sched(6, 3, 30), utc(2026, 3, 24), utc(2026, 3, 29, 1, 0), "Sunday 29 Mar 04:00"),
        (
            sched(0, 9, 0, NYC),
            utc(2026, 11, 1, 12, 0),
            utc(2026, 11, 2, 14, 0),
            "Monday 2 Nov 09:00",
        ),
    ],
)
def test_next_due(schedule: DigestSchedule, now: datetime, expected: datetime, shown: str) -> None:
    instant = next_due(schedule, now=now)
    assert instant == expected
    assert instant > now
    assert describe_instant(instant, schedule.tz) == shown
