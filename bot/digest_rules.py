"""Weekly digest schedules: parse `/trust digest here …`, and decide when a digest is due.

Pure functions: no Slack, no database and no wall clock. `now` is always an argument and
must be timezone-aware; every instant returned is an aware UTC datetime.

`parse_digest_here` reads the arguments after ``/trust digest here`` (text as Slack sends
it with should_escape on; ``&amp;``, ``&lt;`` and ``&gt;`` are read back as ``&``, ``<``
and ``>``)::

    [<weekday> <HH:MM>] [<IANA timezone>] [tier A,B]

* The parts may come in any order and each at most once; a weekday without a time means
  09:00, a time without a weekday means Monday, no timezone means `default_tz` (the
  caller's zone), no tiers means all tiers.
* Weekdays in English (``monday``, ``mon``, ``mondays``) and Finnish (``maanantai``,
  ``maanantaina``, ``maanantaisin``), case-insensitive. Finnish two-letter abbreviations
  (``ma``, ``to``) are not weekdays here: ``to`` is too easily an English word.
* Times on a 24-hour clock: ``9:00``, ``09:00``, ``9.00``.
* Timezones are IANA names, matched case-insensitively against
  `zoneinfo.available_timezones()` (``europe/helsinki`` becomes ``Europe/Helsinki``;
  ``UTC`` works). Fixed offsets (``UTC+2``) and abbreviations (``EET``, ``PST``) that are
  not zone names are refused with an example, as is a bare city (``Helsinki``), with the
  zone it probably means.
* ``tier A,B``, ``tiers a, c``, ``tier A and B``, ``tier all``. Naming all three tiers is the
  same as naming none: `DigestSchedule.tiers` is then empty, meaning all tiers.
* ``every``, ``at``, ``on``, ``klo``, ``kello`` and ``joka`` are allowed as filler
  (``every friday at 16:30``, ``joka perjantai klo 16.30``).

Anything else raises `DigestScheduleError`. Unlike `bot.parsing.CommandError`, its message
is ready to post as Slack mrkdwn: the user's words it echoes are escaped with
`bot.text.escape` (so ``<!channel>`` cannot ping), and so is the usage line that ends it.
Do not escape it again; `DigestScheduleError.plain` is the same message for a terminal.

The week of a subscription is the local Monday-to-Sunday week in the schedule's timezone,
keyed by its Monday (`week_start`). One digest is due per subscription per week, at the
scheduled local time of that week (`due_instant`):

* `digest_due` names the current local week once `now` has reached its due instant and
  that week is not yet recorded as posted. A bot that was down at the time posts once when
  it comes back within the same week; a week that ended without a digest is never posted
  afterwards (once the next local week starts, only that week can be due, at its own time).
* Daylight saving: a scheduled local time that does not exist that day (it falls in the
  spring-forward gap) moves forward to the first valid instant after the gap, the moment
  the clocks jump: Sunday 03:30 in Europe/Helsinki on 29 March 2026 is due at 04:00 EEST
  (01:00 UTC). A local time that happens twice (the fall-back hour) means its first
  occurrence, still on summer time (fold=0): Sunday 03:30 on 25 October 2026 is due at
  03:30 EEST (00:30 UTC), not an hour later. Either way the digest lands on the scheduled
  local day, once.
* `next_due` is the next due instant strictly after `now`; `describe_instant` shows an
  instant as local words ("Monday 30 Nov 09:00").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from bot.text import escape, unescape
from bot.vocab import TIERS

__all__ = [
    "DEFAULT_HOUR",
    "DEFAULT_MINUTE",
    "DEFAULT_WEEKDAY",
    "DIGEST_HERE_EXAMPLE",
    "DIGEST_HERE_USAGE",
    "DigestSchedule",
    "DigestScheduleError",
    "describe_instant",
    "digest_due",
    "due_instant",
    "find_timezone",
    "next_due",
    "parse_digest_here",
    "week_start",
]

DIGEST_HERE_USAGE = "/trust digest here [<weekday> <HH:MM>] [<IANA timezone>] [tier A,B]"
DIGEST_HERE_EXAMPLE = "/trust digest here monday 09:00 Europe/Helsinki tier A,B"

DEFAULT_WEEKDAY = 0  # Monday
DEFAULT_HOUR = 9
DEFAULT_MINUTE = 0

_MAX_ECHO = 60
_TZ_EXAMPLE = "Europe/Helsinki"
_TZ_HINT = f"Use an IANA timezone name like {_TZ_EXAMPLE} or America/New_York (UTC works too)."

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The English full name and 3-letter abbreviation come first in each row: with the Finnish
# full names they are what a typo is compared against. Finnish two-letter abbreviations
# (ma, ti, ke, to, …) are left out on purpose: "to" and "su" read as ordinary words.
_WEEKDAY_ROWS: tuple[tuple[str, ...], ...] = (
    ("monday", "mon", "mondays", "maanantai", "maanantaina", "maanantaisin"),
    ("tuesday", "tue", "tuesdays", "tues", "tiistai", "tiistaina", "tiistaisin"),
    (
        "wednesday",
        "wed",
        "wednesdays",
        "keskiviikko",
        "keskiviikkona",
        "keskiviikkoisin",
    ),
    ("thursday", "thu", "thursdays", "thur", "thurs", "torstai", "torstaina", "torstaisin"),
    ("friday", "fri", "fridays", "perjantai", "perjantaina", "perjantaisin"),
    ("saturday", "sat", "saturdays", "lauantai", "lauantaina", "lauantaisin"),
    ("sunday", "sun", "sundays", "sunnuntai", "sunnuntaina", "sunnuntaisin"),
)
_WEEKDAYS: dict[str, int] = {name: index for index, row in enumerate(_WEEKDAY_ROWS) for name in row}
_FINNISH_FULL = (
    "maanantai",
    "tiistai",
    "keskiviikko",
    "torstai",
    "perjantai",
    "lauantai",
    "sunnuntai",
)
_TYPO_CANDIDATES: dict[str, str] = {
    **{row[0]: _DAY_NAMES[i] for i, row in enumerate(_WEEKDAY_ROWS)},
    **{row[1]: _DAY_NAMES[i] for i, row in enumerate(_WEEKDAY_ROWS)},
    **{name: name for name in _FINNISH_FULL},
}
_TYPO_CUTOFF = 0.7

_FILLER = {"every", "at", "on", "klo", "kello", "joka"}
_TIER_WORDS = {"tier", "tiers"}
_TIER_JOINERS = {"and", "ja", "&"}
_ALL_TIERS_WORDS = {"all", "kaikki"}

_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_OFFSET = re.compile(r"^(?:utc|gmt)?[+\-−]\d{1,2}(?::?\d{2})?$", re.IGNORECASE)
_ZONE_LIKE = re.compile(r"^[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)+$")
_ABBREVIATION = re.compile(r"^[A-Z]{2,5}$")
_TIER_LIST = re.compile(r"^,*[A-Za-z](?:,+[A-Za-z]?)*,*$")


class DigestScheduleError(ValueError):
    """A digest schedule that could not be read; `str(err)` is escaped mrkdwn for the user."""

    @property
    def plain(self) -> str:
        """The same message with the user's words unescaped, for a terminal."""
        return unescape(str(self))


@dataclass(frozen=True)
class DigestSchedule:
    """When a channel's weekly digest goes out: a local weekday and time in a timezone."""

    weekday: int  # 0 = Monday … 6 = Sunday
    hour: int
    minute: int
    tz: str  # an IANA name known to zoneinfo
    tiers: frozenset[str] = field(default_factory=frozenset)  # empty = all tiers

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if not 0 <= self.hour <= 23:
            raise ValueError(f"hour must be 0 to 23, not {self.hour}")
        if not 0 <= self.minute <= 59:
            raise ValueError(f"minute must be 0 to 59, not {self.minute}")
        _zone(self.tz)  # raises ValueError for an unknown timezone
        tiers = frozenset(self.tiers)
        unknown = tiers - set(TIERS)
        if unknown:
            raise ValueError(f"unknown tiers {sorted(unknown)}; tiers are {', '.join(TIERS)}")
        # All tiers named is the same schedule as none named: keep one spelling of it.
        object.__setattr__(self, "tiers", frozenset() if tiers == set(TIERS) else tiers)

    @property
    def clock(self) -> str:
        """The local time as HH:MM."""
        return f"{self.hour:02d}:{self.minute:02d}"

    @property
    def day_name(self) -> str:
        """The weekday's English name."""
        return _DAY_NAMES[self.weekday]

    def includes_tier(self, tier: str) -> bool:
        """True when accounts of `tier` belong in this digest."""
        return not self.tiers or tier in self.tiers

    def describe(self) -> str:
        """Plain words, e.g. "every Monday at 09:00 (Europe/Helsinki), tiers A and B"."""
        return f"every {self.day_name} at {self.clock} ({self.tz}), {_describe_tiers(self.tiers)}"


def parse_digest_here(text: str, *, default_tz: str) -> DigestSchedule:
    """Parse the arguments of `/trust digest here`, or raise `DigestScheduleError`."""
    parser = _Parser(unescape(unicodedata.normalize("NFC", text)).split())
    parser.run()
    tz = parser.tz
    if tz is None:
        tz = find_timezone(default_tz)
        if tz is None:
            raise _error(
                f"I don't know your timezone ({_echo(default_tz or 'none set')}), so please "
                f"name one, like {_TZ_EXAMPLE}."
            )
    return DigestSchedule(
        weekday=DEFAULT_WEEKDAY if parser.weekday is None else parser.weekday,
        hour=DEFAULT_HOUR if parser.clock is None else parser.clock[0],
        minute=DEFAULT_MINUTE if parser.clock is None else parser.clock[1],
        tz=tz,
        tiers=frozenset() if parser.tiers is None else parser.tiers,
    )


def find_timezone(name: str) -> str | None:
    """The canonical spelling of IANA timezone `name` (any case), or None if unknown."""
    return _canonical_zones().get(name.strip().casefold())


def week_start(now: datetime, tz: str) -> date:
    """The Monday of the local week (in `tz`) that contains the instant `now`."""
    local_day = _aware(now).astimezone(_zone(tz)).date()
    return local_day - timedelta(days=local_day.weekday())


def due_instant(schedule: DigestSchedule, week: date) -> datetime:
    """The UTC instant of the local weekday and time in week `week` (a Monday); DST-safe."""
    # See the module docstring: a time in the spring-forward gap moves to the end of the
    # gap; a time in the fall-back hour means its first occurrence (fold=0).
    if week.weekday() != 0:
        raise ValueError(f"week must be a Monday, not a {_DAY_NAMES[week.weekday()]} ({week})")
    zone = _zone(schedule.tz)
    day = week + timedelta(days=schedule.weekday)
    wall = datetime.combine(day, time(schedule.hour, schedule.minute), tzinfo=zone)  # fold=0
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    return _gap_end(wall, zone)


def digest_due(
    schedule: DigestSchedule, *, now: datetime, last_posted_week: date | None
) -> date | None:
    """The local week whose digest is due at `now` and not yet posted, or None."""
    week = week_start(now, schedule.tz)
    if last_posted_week is not None and last_posted_week >= week:
        return None
    if _aware(now) >= due_instant(schedule, week):
        return week
    return None


def next_due(schedule: DigestSchedule, *, now: datetime) -> datetime:
    """The next scheduled instant strictly after `now` (UTC), for display."""
    week = week_start(now, schedule.tz)
    instant = due_instant(schedule, week)
    if instant > _aware(now):
        return instant
    return due_instant(schedule, week + timedelta(days=7))


def describe_instant(instant: datetime, tz: str) -> str:
    """A local instant in plain words, e.g. "Monday 30 Nov 09:00"."""
    local = _aware(instant).astimezone(_zone(tz))
    return (
        f"{_DAY_NAMES[local.weekday()]} {local.day} {_MONTH_ABBR[local.month - 1]} "
        f"{local.hour:02d}:{local.minute:02d}"
    )


# --- parsing internals ---------------------------------------------------------------


class _Parser:
    """Walks the words once, filling in what it recognises and raising on the rest."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.weekday: int | None = None
        self.clock: tuple[int, int] | None = None
        self.tz: str | None = None
        self.tiers: frozenset[str] | None = None
        self.unknown: list[str] = []

    def run(self) -> None:
        i = 0
        while i < len(self.tokens):
            token = self.tokens[i]
            if token.casefold() in _TIER_WORDS:
                i = self._tiers(i + 1)
                continue
            self._word(token)
            i += 1
        if self.unknown:
            words = " ".join(self.unknown)
            understood = self._understood()
            start = f"I understood {understood} but not" if understood else "I don't understand"
            raise _error(f"{start} “{_echo(words)}”.")

    def _word(self, token: str) -> None:
        word = token.rstrip(",;")
        low = word.casefold()
        bare = low.rstrip(".")
        if not word or low in _FILLER:
            return
        if bare in _WEEKDAYS:
            self._set_weekday(_WEEKDAYS[bare])
        elif word[:1].isdigit():
            self._set_clock(word)
        elif (zone := _timezone_or_none(word)) is not None:
            self._set_tz(zone)
        elif suggestion := _weekday_suggestion(bare):
            raise _error(f"I don't know the weekday “{_echo(word)}”. Did you mean {suggestion}?")
        elif _ABBREVIATION.match(word):
            raise _error(
                f"I don't know the timezone “{_echo(word)}”: abbreviations are ambiguous. "
                f"{_TZ_HINT}"
            )
        else:
            self.unknown.append(word)

    def _set_weekday(self, weekday: int) -> None:
        if self.weekday is not None and self.weekday != weekday:
            raise _error(
                "A digest goes out once a week: pick one day, not both "
                f"{_DAY_NAMES[self.weekday]} and {_DAY_NAMES[weekday]}."
            )
        self.weekday = weekday

    def _set_clock(self, word: str) -> None:
        clock = _parse_clock(word)
        if self.clock is not None and self.clock != clock:
            raise _error(
                f"Pick one time, not both {self.clock[0]:02d}:{self.clock[1]:02d} "
                f"and {clock[0]:02d}:{clock[1]:02d}."
            )
        self.clock = clock

    def _set_tz(self, zone: str) -> None:
        if self.tz is not None and self.tz != zone:
            raise _error(f"Pick one timezone, not both {self.tz} and {zone}.")
        self.tz = zone

    def _tiers(self, i: int) -> int:
        """Read the tier list that starts at token `i`; return the index after it."""
        if i >= len(self.tokens):
            raise _error("Which tiers? Write them like tier A,B.")
        if self.tokens[i].rstrip(",;").casefold() in _ALL_TIERS_WORDS:
            self._set_tiers(frozenset())
            return i + 1
        pieces: list[str] = []
        j, expecting = i, True
        while j < len(self.tokens):
            token = self.tokens[j]
            if j > i and token.casefold() in _TIER_JOINERS:
                expecting = True
                j += 1
                continue
            if not (expecting or token.startswith(",") or _TIER_LIST.match(token)):
                break
            pieces.extend(piece for piece in token.split(",") if piece)
            expecting = token.endswith(",")
            j += 1
        chosen: set[str] = set()
        for piece in pieces:
            tier = piece.upper()
            if tier not in TIERS:
                raise _error(f"Tiers are {_or_list(TIERS)}; “{_echo(piece)}” isn't one.")
            chosen.add(tier)
        if not chosen:
            raise _error("Which tiers? Write them like tier A,B.")
        self._set_tiers(frozenset() if chosen == set(TIERS) else frozenset(chosen))
        return j

    def _set_tiers(self, tiers: frozenset[str]) -> None:
        if self.tiers is not None and self.tiers != tiers:
            raise _error(
                f"Name the tiers once, not both {_describe_tiers(self.tiers)} "
                f"and {_describe_tiers(tiers)}."
            )
        self.tiers = tiers

    def _understood(self) -> str:
        words: list[str] = []
        if self.weekday is not None:
            words.append(_DAY_NAMES[self.weekday])
        if self.clock is not None:
            words.append(f"at {self.clock[0]:02d}:{self.clock[1]:02d}")
        if self.tz is not None:
            words.append(f"in {self.tz}")
        parts = [" ".join(words)] if words else []
        if self.tiers is not None:
            parts.append(_describe_tiers(self.tiers))
        return ", ".join(parts)


def _parse_clock(word: str) -> tuple[int, int]:
    hint = "Use HH:MM on a 24-hour clock, like 09:00 or 17:30."
    match = _CLOCK.match(word.rstrip("."))
    if not match:
        raise _error(f"I couldn't read “{_echo(word)}” as a time. {hint}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23:
        reason = "hours go from 00 to 23"
    elif minute > 59:
        reason = "minutes go from 00 to 59"
    else:
        return hour, minute
    raise _error(f"I couldn't read “{_echo(word)}” as a time: {reason}. {hint}")


def _timezone_or_none(word: str) -> str | None:
    """The zone `word` names; None if it doesn't look like a timezone; raises if a bad one."""
    found = find_timezone(word)
    if found is not None:
        return found
    example = _TZ_HINT
    if _OFFSET.match(word):
        raise _error(
            f"“{_echo(word)}” is a fixed offset, and it would go wrong when daylight saving "
            f"time changes. {example}"
        )
    city = _zone_for_city(word)
    if city is not None:
        raise _error(f"I don't know the timezone “{_echo(word)}”. Did you mean {city}? {example}")
    if _ZONE_LIKE.match(word):
        close = difflib.get_close_matches(word.casefold(), list(_canonical_zones()), n=1)
        hint = f" Did you mean {_canonical_zones()[close[0]]}?" if close else ""
        raise _error(f"I don't know the timezone “{_echo(word)}”.{hint} {example}")
    return None


def _zone_for_city(word: str) -> str | None:
    """The one zone whose last part is `word` (``helsinki`` → Europe/Helsinki), if any."""
    key = word.casefold().replace(" ", "_")
    matches = sorted(
        name for name in _canonical_zones().values() if name.rsplit("/", 1)[-1].casefold() == key
    )
    canonical = [name for name in matches if "/" in name and not name.startswith("Etc/")]
    return canonical[0] if len(canonical) == 1 else None


def _weekday_suggestion(word: str) -> str | None:
    if len(word) < 3 or not word.isalpha():
        return None
    close = difflib.get_close_matches(word, list(_TYPO_CANDIDATES), n=1, cutoff=_TYPO_CUTOFF)
    return _TYPO_CANDIDATES[close[0]] if close else None


@lru_cache(maxsize=1)
def _canonical_zones() -> dict[str, str]:
    zones = {name.casefold(): name for name in sorted(zoneinfo.available_timezones())}
    zones.setdefault("utc", "UTC")
    return zones


def _zone(tz: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {tz!r}") from None


def _error(message: str) -> DigestScheduleError:
    """`message` is built from escaped echoes; the usage line is escaped here."""
    return DigestScheduleError(
        f"{message}\nUsage: `{escape(DIGEST_HERE_USAGE)}` — for example `{DIGEST_HERE_EXAMPLE}`"
    )


def _echo(text: str) -> str:
    """User text, shortened and escaped for Slack."""
    shown = " ".join(text.split())
    if len(shown) > _MAX_ECHO:
        shown = shown[: _MAX_ECHO - 1] + "…"
    return escape(shown)


def _or_list(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else items[0]


def _describe_tiers(tiers: frozenset[str]) -> str:
    if not tiers or tiers == frozenset(TIERS):
        return "all tiers"
    ordered = sorted(tiers)
    if len(ordered) == 1:
        return f"tier {ordered[0]}"
    return "tiers " + ", ".join(ordered[:-1]) + " and " + ordered[-1]


# --- time internals ------------------------------------------------------------------


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return now


def _gap_end(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The first instant after the daylight-saving gap that swallows local time `wall`."""
    # fold=0 reads the wall time with the offset from before the gap (a UTC instant after
    # the transition); fold=1 with the offset from after it (an instant before it). The
    # transition lies between; find it to the second.
    after = wall.replace(fold=0).astimezone(UTC)
    before = wall.replace(fold=1).astimezone(UTC)
    lo, hi = min(before, after), max(before, after)
    offset_before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
        if mid.astimezone(zone).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return hi
