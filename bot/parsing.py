"""Pure parsers for slash command text (as Slack sends it with should_escape on)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from bot.text import MENTION, readable, unescape
from bot.vocab import KINDS, TIERS

MAX_ACCOUNT_NAME = 80

CHECKIN_USAGE = (
    "`/checkin <account> [kind] [@teammates...] [note]` — for example "
    "`/checkin Acme call @maria renewal went well`. "
    f"Kinds: {', '.join(KINDS)}. With no text, a form opens."
)
ACCOUNT_ADD_USAGE = (
    "`/trust account add <name> [tier A|B|C] [value <number>] [@owner]` — for example "
    '`/trust account add "Acme Oy" tier A value 120000 @maria`'
)
ACCOUNT_VIEW_USAGE = (
    "`/trust account <name>` — one account's health · `/trust accounts` — all, ranked by risk"
)
DIGEST_USAGE = (
    "`/trust digest here [<weekday> <HH:MM>] [<IANA timezone>] [tier A,B]` — "
    "for example `/trust digest here monday 09:00 Europe/Helsinki tier A,B` · "
    "`/trust digest off` · `/trust digest preview`"
)
AWAY_USAGE = "`/trust away until <date>` (e.g. `until friday`, `until 2026-12-31`) · `/trust back`"


class CommandError(ValueError):
    """Input we could not understand; the message is shown to the user as is."""


def _names_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _tokens(text: str) -> list[str]:
    return text.split()


def _strip_quotes(tokens: list[str]) -> tuple[str | None, list[str]]:
    """If tokens start with a quoted phrase, return it and the rest."""
    if not tokens or tokens[0][:1] not in {'"', "“", "”", "'"}:
        return None, tokens
    joined = " ".join(tokens)
    quote = joined[0]
    closing = {"“": "”"}.get(quote, quote)
    end = joined.find(closing if closing != quote else quote, 1)
    if end == -1 and quote in {"“", "”"}:
        end = joined.find("”", 1)
    if end == -1:
        raise CommandError("The account name's closing quote is missing.")
    return joined[1:end].strip(), _tokens(joined[end + 1 :])


def clean_name(raw: str) -> str:
    """Validate and normalise an account name typed by a user."""
    name = " ".join(readable(raw).split())
    if not name:
        raise CommandError("The account name is empty.")
    if len(name) > MAX_ACCOUNT_NAME:
        raise CommandError(f"Account names can be at most {MAX_ACCOUNT_NAME} characters.")
    if MENTION.search(raw) or raw.startswith(("<!", "<#")):
        raise CommandError("An account name can't be a mention or a channel.")
    return name


# --- /trust ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountAdd:
    """`/trust account add`."""

    name: str
    tier: str = "B"
    value: Decimal | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class Away:
    """`/trust away until <date>`."""

    until_text: str


@dataclass(frozen=True)
class Back:
    """`/trust back`."""


@dataclass(frozen=True)
class Help:
    """`/trust help` (or no text)."""


@dataclass(frozen=True)
class AccountView:
    """`/trust account <name>`."""

    name: str


@dataclass(frozen=True)
class AccountsList:
    """`/trust accounts [page N]`."""

    page: int = 1


@dataclass(frozen=True)
class DigestHere:
    """`/trust digest here [...]`: the schedule text is parsed with the caller's timezone."""

    args: str


@dataclass(frozen=True)
class DigestOff:
    """`/trust digest off`."""


@dataclass(frozen=True)
class DigestPreview:
    """`/trust digest preview`."""


TrustCommand = (
    AccountAdd
    | AccountView
    | AccountsList
    | Away
    | Back
    | Help
    | DigestHere
    | DigestOff
    | DigestPreview
)

_VALUE = re.compile(r"^[€$£]?(\d[\d,_]*(?:\.\d+)?)([kKmM]?)[€$£]?$")


def parse_value(raw: str) -> Decimal:
    """Parse a yearly value like 120000, 120,000, 120k or 1.5M."""
    match = _VALUE.match(raw.strip())
    if not match:
        raise CommandError(f"“{raw}” is not a number; write a value like 120000 or 120k.")
    try:
        number = Decimal(match.group(1).replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise CommandError(f"“{raw}” is not a number.") from None
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    value = number * factor
    if value > Decimal("1e13"):
        raise CommandError("That value is too large.")
    return value


def parse_account_add(text: str) -> AccountAdd:
    """Parse the arguments of `/trust account add`."""
    mentions = MENTION.findall(text)
    if len(mentions) > 1:
        raise CommandError(
            "An account has one owner; mention just one person.\n" + ACCOUNT_ADD_USAGE
        )
    owner = mentions[0][0] if mentions else None
    tokens = _tokens(MENTION.sub(" ", text))
    quoted, rest = _strip_quotes(tokens)
    name_parts: list[str] = [] if quoted is None else [quoted]
    tier, value = "B", None
    i = 0
    in_name = quoted is None
    while i < len(rest):
        word = rest[i]
        low = word.casefold()
        if low == "tier" and i + 1 < len(rest):
            tier = rest[i + 1].upper()
            if tier not in TIERS:
                raise CommandError(f"Tier must be A, B or C, not “{unescape(rest[i + 1])}”.")
            in_name = False
            i += 2
            continue
        if low == "value" and i + 1 < len(rest):
            value = parse_value(unescape(rest[i + 1]))
            in_name = False
            i += 2
            continue
        if not in_name:
            raise CommandError(f"I don't understand “{unescape(word)}”.\n" + ACCOUNT_ADD_USAGE)
        name_parts.append(word)
        i += 1
    if not name_parts:
        raise CommandError("Which account? Give it a name.\n" + ACCOUNT_ADD_USAGE)
    return AccountAdd(name=clean_name(" ".join(name_parts)), tier=tier, value=value, owner_id=owner)


def parse_trust(text: str) -> TrustCommand:
    """Parse `/trust` text into a command."""
    words = text.strip().split(maxsplit=2)
    if not words or words[0].casefold() == "help":
        return Help()
    head = words[0].casefold()
    if head == "account" and len(words) > 1 and words[1].casefold() == "add":
        return parse_account_add(words[2] if len(words) > 2 else "")
    if head == "account":
        rest = text.strip()[len(words[0]) :].strip()
        if not rest:
            raise CommandError("Which account?\n" + ACCOUNT_VIEW_USAGE)
        quoted, tokens = _strip_quotes(_tokens(rest))
        return AccountView(name=clean_name(quoted if quoted is not None else " ".join(tokens)))
    if head == "accounts":
        rest_words = [w.casefold() for w in text.split()[1:]]
        if rest_words and rest_words[0] == "page":
            rest_words = rest_words[1:]
        if not rest_words:
            return AccountsList()
        if len(rest_words) == 1 and rest_words[0].isdigit() and int(rest_words[0]) >= 1:
            return AccountsList(page=min(int(rest_words[0]), 10_000))
        raise CommandError("`/trust accounts [page <number>]` — for example `/trust accounts 2`.")
    if head == "digest":
        sub = words[1].casefold() if len(words) > 1 else ""
        rest = words[2] if len(words) > 2 else ""
        if sub == "here":
            return DigestHere(args=rest)
        if sub == "off" and not rest:
            return DigestOff()
        if sub == "preview" and not rest:
            return DigestPreview()
        raise CommandError("What should I do with the digest?\n" + DIGEST_USAGE)
    if head == "away":
        rest = text.strip()[len(words[0]) :].strip()
        if rest.casefold() == "until" or rest.casefold().startswith("until "):
            rest = rest[5:].strip()
        if not rest:
            raise CommandError("Away until when?\n" + AWAY_USAGE)
        return Away(until_text=unescape(rest))
    if head == "back":
        return Back()
    raise CommandError(f"I don't know `/trust {unescape(words[0])}`. Try `/trust help`.")


# --- /checkin -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinCommand:
    """`/checkin <account> [kind] [@teammates...] [note]`, parsed."""

    account_name: str
    kind: str
    participants: tuple[str, ...] = ()
    note: str = ""
    matched: bool = field(default=False)


def _is_kind(word: str) -> bool:
    return word.casefold() in KINDS


def parse_checkin(text: str, known_accounts: Iterable[str]) -> CheckinCommand:
    """Parse `/checkin` text; `known_accounts` helps find multi-word account names."""
    tokens = _tokens(text)
    if not tokens:
        raise CommandError("Which account?\n" + CHECKIN_USAGE)
    known = {_names_key(n): n for n in known_accounts}
    quoted, rest = _strip_quotes(tokens)
    matched = False
    if quoted is not None:
        name = quoted
        matched = _names_key(readable(name)) in known
    else:
        name, rest = "", tokens
        for size in range(min(len(tokens), 8), 0, -1):
            candidate = " ".join(tokens[:size])
            if _names_key(readable(candidate)) in known:
                name, rest, matched = candidate, tokens[size:], True
                break
        if not matched:
            stop = next(
                (i for i, w in enumerate(tokens) if _is_kind(w) or MENTION.fullmatch(w)),
                len(tokens),
            )
            stop = 1 if stop in (0, len(tokens)) else stop
            name, rest = " ".join(tokens[:stop]), tokens[stop:]
    if MENTION.fullmatch(name):
        raise CommandError("Start with the account name.\n" + CHECKIN_USAGE)
    name = clean_name(name)
    kind = "meeting"
    if rest and _is_kind(rest[0]):
        kind, rest = rest[0].casefold(), rest[1:]
    elif rest and not MENTION.fullmatch(rest[0]):
        close = difflib.get_close_matches(rest[0].casefold(), KINDS, n=1, cutoff=0.75)
        if close:
            raise CommandError(
                f"“{unescape(rest[0])}” is not a kind of interaction — did you mean `{close[0]}`? "
                f"Kinds: {', '.join(KINDS)}."
            )
    participants: list[str] = []
    while rest and (m := MENTION.fullmatch(rest[0])):
        if m.group(1) not in participants:
            participants.append(m.group(1))
        rest = rest[1:]
    note = readable(" ".join(rest))
    return CheckinCommand(
        account_name=name,
        kind=kind,
        participants=tuple(participants),
        note=note,
        matched=matched,
    )


def suggest_names(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The existing account names closest to a name the user typed."""
    by_key = {_names_key(n): n for n in known}
    key = _names_key(name)
    keys = difflib.get_close_matches(key, list(by_key), n=limit, cutoff=0.5)
    prefix = [k for k in by_key if (k.startswith(key) or key.startswith(k)) and k not in keys]
    return [by_key[k] for k in (keys + prefix)[:limit]]
