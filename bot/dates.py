"""Turn what a user types as a date or a time into a `date` or `time`, in the user's timezone.

Pure functions: no Slack, no database and no wall clock. `now` is always an argument and
must be timezone-aware; "today" is `now.astimezone(tz).date()`.

`parse_due_date` understands (case-insensitive, surrounding whitespace ignored, a leading
``by``/``on``/``until``/``till``/``due`` or Finnish ``viimeistään`` and a trailing Finnish
``mennessä`` tolerated):

* ISO ``2026-12-01``; Finnish/European ``1.12.2026``, ``1.12.26``, ``1.12.`` and ``31.12``;
  a date without a year is its next occurrence on or after today (with ``allow_past`` the
  occurrence nearest to today). Slashed ``25/12/2026`` only when day and month cannot be
  mixed up; ``1/12/2026`` is refused as ambiguous.
* ``today``/``tänään``, ``tomorrow``/``huomenna``, ``day after tomorrow``/``ylihuomenna``,
  ``yesterday``/``eilen`` (in the past, so refused unless ``allow_past``).
* weekday names in English (``friday``, ``fri``) and Finnish (``perjantai``,
  ``perjantaina``, ``pe``, ``perjantaihin``): the next such day strictly after today, so
  ``friday`` said on a Friday is a week later. ``next friday``/``ensi perjantaina`` mean
  the same; ``this friday`` is the next Friday on or after today.
* ``in 3 days``, ``in 2 weeks``, ``in a week``, ``3 days from now``, ``in 1 month``
  (clamped to the month's last day: Jan 31 + 1 month = Feb 28/29), ``3 päivän päästä``,
  ``viikon päästä``, ``kahden viikon kuluttua``, ``kuukauden päästä``.
* ``next week``/``ensi viikolla`` = Monday of next week; ``next month``/``ensi kuussa`` =
  the 1st of next month.
* ``end of month``/``kuun lopussa``/``kuun loppuun`` = the last day of this month (today on
  the last day); ``end of week``/``viikon loppuun`` = the first Friday on or after today
  (Monday-Friday: this week's Friday, Friday itself included; Saturday/Sunday: next Friday).
* anything else goes to the ``dateparser`` library (English and Finnish, future dates
  preferred, relative to `now` in `tz`, day and month required), e.g. ``December 1`` or
  ``1. joulukuuta 2026``. Purely numeric input is never handed to it, so it cannot guess
  ``2026-13-01`` into January 13th.

Everything that cannot be read, is ambiguous, or lies in the past (unless ``allow_past``)
raises `DateParseError`, whose message is meant for the Slack user. The message echoes the
user's text unescaped: escape it (``&``, ``<``, ``>``) like any user text before posting.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

__all__ = [
    "DateParseError",
    "day_end",
    "local_day_start",
    "parse_clock_time",
    "parse_due_date",
]

_MAX_ECHO = 60

_WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    [
        ("monday", "mon", "maanantai", "maanantaina", "maanantaihin", "ma"),
        ("tuesday", "tue", "tues", "tiistai", "tiistaina", "tiistaihin", "ti"),
        ("wednesday", "wed", "keskiviikko", "keskiviikkona", "keskiviikkoon", "ke"),
        ("thursday", "thu", "thur", "thurs", "torstai", "torstaina", "torstaihin", "to"),
        ("friday", "fri", "perjantai", "perjantaina", "perjantaihin", "pe"),
        ("saturday", "sat", "lauantai", "lauantaina", "lauantaihin", "la"),
        ("sunday", "sun", "sunnuntai", "sunnuntaina", "sunnuntaihin", "su"),
    ]
):
    for _name in _names:
        _WEEKDAYS[_name] = _index

# English month names, independent of the process locale (calendar.month_name is not).
_MONTH_NAMES = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

_NUMBER_WORDS: dict[str, int] = {
    # English
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    # Finnish genitives ("kahden viikon päästä")
    "yhden": 1,
    "kahden": 2,
    "kolmen": 3,
    "neljän": 4,
    "viiden": 5,
    "kuuden": 6,
    "seitsemän": 7,
    "kahdeksan": 8,
    "yhdeksän": 9,
    "kymmenen": 10,
}

_FIXED_OFFSETS: dict[str, int] = {
    "today": 0,
    "tänään": 0,
    "tomorrow": 1,
    "huomenna": 1,
    "huomiseen": 1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "ylihuomenna": 2,
    "yesterday": -1,
    "eilen": -1,
}

_NEXT_WEEK = {"next week", "ensi viikolla", "ensi viikko", "ensi viikkoon"}
_NEXT_MONTH = {"next month", "ensi kuussa", "ensi kuuhun"}
_END_OF_MONTH = {
    "end of month",
    "end of the month",
    "end of this month",
    "month end",
    "eom",
    "kuun lopussa",
    "kuun loppuun",
    "kuun lopulla",
    "kuukauden lopussa",
    "kuukauden loppuun",
    "tämän kuun lopussa",
    "tämän kuun loppuun",
}
_END_OF_WEEK = {
    "end of week",
    "end of the week",
    "end of this week",
    "eow",
    "viikon lopussa",
    "viikon loppuun",
    "tämän viikon lopussa",
    "tämän viikon loppuun",
}

_PREFIXES = ("by ", "on ", "until ", "till ", "due ", "viimeistään ")
_SUFFIXES = (" mennessä",)

_NUM = r"(\d+|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_EN_RELATIVE = re.compile(rf"^in {_NUM} (days?|weeks?|months?)$")
_EN_FROM_NOW = re.compile(rf"^{_NUM} (days?|weeks?|months?) from (?:now|today)$")
_FI_RELATIVE = re.compile(rf"^(?:{_NUM} )?(päivän|viikon|kuukauden|kuun) (?:päästä|kuluttua)$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(?:(\d{4}|\d{2})\.?)?)?$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?$")
_NUMERIC_ISH = re.compile(r"^[\d\s./-]+$")
_WEEKDAY_PHRASE = re.compile(r"^(?:(next|this|ensi|tänä|tämän) )?([a-zäö]+)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class DateParseError(ValueError):
    """A date or time the user typed could not be used; `str(err)` is a message for them."""

    def __init__(self, message: str, *, text: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.text = text
        self.reason = reason


def parse_due_date(text: str, *, now: datetime, tz: ZoneInfo, allow_past: bool = False) -> date:
    """Resolve a user's `<when>` to a local date in `tz`, or raise `DateParseError`."""
    today = _local_today(now, tz)
    phrase = _normalise(text)
    if not phrase:
        raise _error(text, "it's empty", today)
    try:
        result = _resolve(text, phrase, now=now, tz=tz, today=today, allow_past=allow_past)
    except OverflowError:
        raise _error(text, "that is too far away", today) from None
    if result < today and not allow_past:
        raise _error(
            text,
            f"{result.isoformat()} is in the past (today is {today.isoformat()})",
            today,
            understood=True,
        )
    return result


def parse_clock_time(text: str) -> time:
    """Parse a 24-hour `HH:MM` or `H:MM` clock time, or raise `DateParseError`."""
    raw = unicodedata.normalize("NFC", text).strip()
    match = _CLOCK.match(raw)
    hint = "Use HH:MM on a 24-hour clock, like 09:00 or 17:30."
    if not match:
        raise DateParseError(
            f"I couldn't read “{_echo(text)}” as a time. {hint}", text=text, reason="format"
        )
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23:
        reason = "hours go from 00 to 23"
    elif minute > 59:
        reason = "minutes go from 00 to 59"
    else:
        return time(hour, minute)
    raise DateParseError(
        f"I couldn't read “{_echo(text)}” as a time: {reason}. {hint}", text=text, reason=reason
    )


def local_day_start(d: date, tz: ZoneInfo) -> datetime:
    """Return the first instant of local day `d` in `tz`, as an aware UTC datetime."""
    midnight = datetime.combine(d, time(0), tzinfo=tz)
    instant = midnight.astimezone(UTC)
    back = instant.astimezone(tz)
    if back.date() == d and back.time() == time(0):
        return instant
    # Midnight does not exist that day (a DST gap spans it): the day starts at the first
    # instant whose local date is `d`. Binary search to the second.
    lo, hi = instant - timedelta(hours=3), instant
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).date() >= d:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def day_end(d: date, tz: ZoneInfo) -> datetime:
    """Return the end of local day `d` (the next local midnight) as an aware UTC datetime."""
    return local_day_start(d + timedelta(days=1), tz)


# --- internals -----------------------------------------------------------------------


def _local_today(now: datetime, tz: ZoneInfo) -> date:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(tz).date()


def _normalise(text: str) -> str:
    phrase = " ".join(unicodedata.normalize("NFC", text).lower().split())
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if (phrase + " ").startswith(prefix):
                phrase = phrase[len(prefix) :].strip()
                changed = True
        for suffix in _SUFFIXES:
            if (" " + phrase).endswith(suffix):
                phrase = (" " + phrase)[: -len(suffix)].strip()
                changed = True
    return phrase


def _resolve(
    text: str, phrase: str, *, now: datetime, tz: ZoneInfo, today: date, allow_past: bool
) -> date:
    numeric = _resolve_numeric(text, phrase, today, allow_past)
    if numeric is not None:
        return numeric
    words = phrase.rstrip(".!?,;: ")
    keyword = _resolve_keyword(text, words, today)
    if keyword is not None:
        return keyword
    return _resolve_with_dateparser(text, words, now=now, tz=tz, today=today)


def _resolve_numeric(text: str, phrase: str, today: date, allow_past: bool) -> date | None:
    if match := _ISO.match(phrase):
        year, month, day = (int(g) for g in match.groups())
        return _checked_date(text, year, month, day, today, year_given=True)
    if match := _DOTTED.match(phrase):
        day, month = int(match.group(1)), int(match.group(2))
        return _day_month(text, day, month, match.group(3), today, allow_past)
    if match := _SLASHED.match(phrase):
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second or first == second:
            day, month = first, second
        elif second > 12 >= first:
            day, month = second, first
        elif first > 12 and second > 12:
            raise _error(text, "neither number can be a month", today)
        else:
            raise _error(
                text,
                f"it could be {_fmt_day_month(first, second)} or {_fmt_day_month(second, first)}",
                today,
            )
        return _day_month(text, day, month, match.group(3), today, allow_past)
    if _NUMERIC_ISH.match(phrase):
        raise _error(text, "I don't know that number format", today)
    return None


def _day_month(
    text: str, day: int, month: int, year_text: str | None, today: date, allow_past: bool
) -> date:
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        return _checked_date(text, year, month, day, today, year_given=True)
    _checked_date(text, 2000, month, day, today, year_given=False)  # validates day/month
    candidates = [
        date(year, month, day)
        for year in range(today.year - 4, today.year + 9)
        if _exists(year, month, day)
    ]
    if not allow_past:
        return min(c for c in candidates if c >= today)
    return min(candidates, key=lambda c: (abs((c - today).days), c < today))


def _exists(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _checked_date(
    text: str, year: int, month: int, day: int, today: date, *, year_given: bool
) -> date:
    if not 1 <= month <= 12:
        raise _error(text, f"there is no month {month}", today)
    if not 1 <= year <= 9999:
        raise _error(text, f"the year {year} is out of range", today)
    if day < 1 or day > 31:
        raise _error(text, f"no month has a day {day}", today)
    if not year_given:
        # Without a year, only refuse days that exist in no year (Feb 29 exists in leap years).
        if day > (29 if month == 2 else calendar.monthrange(2001, month)[1]):
            raise _error(text, f"{_MONTH_NAMES[month]} has no {_ordinal(day)}", today)
        return date(2000, month, day)
    if day > calendar.monthrange(year, month)[1]:
        raise _error(text, f"{_MONTH_NAMES[month]} {year} has no {_ordinal(day)}", today)
    return date(year, month, day)


def _resolve_keyword(text: str, words: str, today: date) -> date | None:
    if words in _FIXED_OFFSETS:
        return today + timedelta(days=_FIXED_OFFSETS[words])
    if words in _NEXT_WEEK:
        return today + timedelta(days=7 - today.weekday())
    if words in _NEXT_MONTH:
        return _add_months(today, 1).replace(day=1)
    if words in _END_OF_MONTH:
        return today.replace(day=calendar.monthrange(today.year, today.month)[1])
    if words in _END_OF_WEEK:
        return today + timedelta(days=(4 - today.weekday()) % 7)
    if match := _WEEKDAY_PHRASE.match(words):
        qualifier, name = match.groups()
        if name in _WEEKDAYS:
            ahead = (_WEEKDAYS[name] - today.weekday()) % 7
            if ahead == 0 and qualifier not in ("this", "tänä", "tämän"):
                ahead = 7
            return today + timedelta(days=ahead)
    for pattern in (_EN_RELATIVE, _EN_FROM_NOW, _FI_RELATIVE):
        if match := pattern.match(words):
            count_text, unit = match.groups()
            count = 1 if count_text is None else _number(count_text)
            if count > 10_000:
                raise OverflowError
            if unit.startswith(("day", "päivä")):
                return today + timedelta(days=count)
            if unit.startswith(("week", "viiko")):
                return today + timedelta(weeks=count)
            return _add_months(today, count)
    return None


def _number(token: str) -> int:
    return _NUMBER_WORDS[token] if token in _NUMBER_WORDS else int(token)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise OverflowError
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _resolve_with_dateparser(
    text: str, words: str, *, now: datetime, tz: ZoneInfo, today: date
) -> date:
    base = now.astimezone(tz).replace(tzinfo=None)
    try:
        parsed = dateparser.parse(
            words,
            languages=["en", "fi"],
            settings={
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": base,
                "DATE_ORDER": "DMY",
                "REQUIRE_PARTS": ["day", "month"],
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
    except Exception:  # dateparser raises assorted errors on odd input; treat as unreadable
        parsed = None
    if parsed is None:
        raise _error(text, "I don't recognise that", today)
    result = parsed.date()
    # dateparser ignores a weekday that contradicts the date ("1 December 2026 friday").
    for token in re.findall(r"[a-zäö]+", words):
        if len(token) >= 3 and token in _WEEKDAYS and _WEEKDAYS[token] != result.weekday():
            raise _error(
                text,
                f"{result.isoformat()} is a {_DAY_NAMES[result.weekday()]}, "
                f"not a {_DAY_NAMES[_WEEKDAYS[token]]}",
                today,
            )
    return result


def _error(text: str, reason: str, today: date, *, understood: bool = False) -> DateParseError:
    example = (today + timedelta(days=14)).isoformat()
    hint = f"Try an ISO date like {example}, a weekday like friday, tomorrow, or in 3 days."
    if understood:
        message = f"I can't use “{_echo(text)}” as a due date: {reason}. {hint}"
    else:
        message = f"I couldn't read “{_echo(text)}” as a date: {reason}. {hint}"
    return DateParseError(message, text=text, reason=reason)


def _echo(text: str) -> str:
    shown = " ".join(text.split())
    return shown if len(shown) <= _MAX_ECHO else shown[: _MAX_ECHO - 1] + "…"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _fmt_day_month(day: int, month: int) -> str:
    return f"{day} {_MONTH_NAMES[month]}"
