"""Pure parser for `/promise` text (as Slack sends it with should_escape on).

`/promise <account> <what> [by <when>] [@owner]` or `/promise list [mine|overdue|<account>]`.

* The account is a quoted name, else the longest run of leading words (up to 8) that is a
  known account name (case-insensitive), else the first word (`matched` tells which).
* The owner is a single mention at the very end (`… by friday @maria`). Two or more
  mentions at the end are refused (a promise has one owner); a mention anywhere else
  stays part of `what`, as readable `@name`.
* `when_text` is split off syntactically and not resolved here (the caller runs
  `bot.dates.parse_due_date` and reports its errors): the words after the last standalone
  `by` or Finnish `viimeistään`, or the date words before a trailing Finnish `mennessä`
  (`… perjantaihin mennessä`, `… kuun loppuun mennessä`). The marker word itself is not
  part of `when_text`. A `by` with nothing after it (`swing by`) stays part of `what`.
* `what` is the rest, readable (`<!channel>` becomes `@channel`) and whitespace-collapsed:
  1 to 3,000 characters.
* `list` as the first word lists promises; an account whose name starts with `list` is
  still found when typed with more words (`List Co send deck`). A one-word account named
  `List`, or an account named `mine`/`overdue`/`all` to list, must be quoted.

Empty text raises `CommandError` (the slash command handler opens a form instead of
calling the parser). Error messages echo the user's text unescaped, like the rest of
`bot.parsing`: escape them before posting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.parsing import CommandError, clean_name
from bot.text import MENTION, readable, truncate

__all__ = [
    "MAX_PROMISE_TEXT",
    "PROMISE_USAGE",
    "PromiseCommand",
    "PromiseList",
    "parse_promise",
]

MAX_PROMISE_TEXT = 3000
_MAX_ECHO = 60
_MAX_NAME_WORDS = 8

PROMISE_USAGE = (
    "`/promise <account> <what> [by <when>] [@owner]` — e.g. "
    "`/promise Acme send the pricing sheet by friday @maria` · "
    "`/promise list [mine|overdue|<account>]`"
)

_LIST_SCOPES = {
    "mine": "mine",
    "my": "mine",
    "omat": "mine",
    "overdue": "overdue",
    "late": "overdue",
    "myöhässä": "overdue",
    "all": "all",
    "kaikki": "all",
}
_BY_WORDS = {"by", "viimeistään"}
_UNTIL_WORD = "mennessä"
# Words that may open a Finnish "<when> mennessä" phrase before its last word.
_FI_WHEN_LEADS = {"ensi", "tämän", "tänä", "kuun", "kuukauden", "viikon", "seuraavaan"}
_FI_MONTH = re.compile(
    r"^(tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka|marras|joulu)kuu", re.IGNORECASE
)
# A Slack token <...> (whose label may hold spaces) counts as part of one word.
_WORD = re.compile(r"(?:<[^<>]*>|[^\s<]|<)+")
_QUOTES = {'"', "“", "”", "'"}


@dataclass(frozen=True)
class PromiseCommand:
    """`/promise <account> <what> [by <when>] [@owner]`, parsed (the date not yet resolved)."""

    account_name: str
    what: str
    when_text: str | None
    owner_id: str | None
    matched: bool


@dataclass(frozen=True)
class PromiseList:
    """`/promise list [mine|overdue|<account>]`; scope is mine, overdue, account or all."""

    scope: str
    account_name: str | None = None


def parse_promise(text: str, known_accounts: Iterable[str]) -> PromiseCommand | PromiseList:
    """Parse `/promise` text; `known_accounts` helps find multi-word account names."""
    tokens = _WORD.findall(text)
    if not tokens:
        raise CommandError("Which account, and what did you promise?\n" + PROMISE_USAGE)
    known = {_names_key(n) for n in known_accounts}
    if tokens[0].casefold() == "list" and _known_prefix(tokens, known) < 2:
        return _parse_list(tokens[1:])
    name, rest, matched = _split_account(tokens, known)
    owner, rest = _trailing_owner(rest)
    body, when_words = _split_when(rest)
    when_text = _plain(" ".join(when_words)) if when_words else None
    what = _plain(" ".join(body))
    if not what:
        understood = f"the account “{_echo(name)}”"
        if when_text:
            understood += f" and the date “{_echo(when_text)}”"
        raise CommandError(
            f"What did you promise? I understood {understood} but not what was promised.\n"
            + PROMISE_USAGE
        )
    if len(what) > MAX_PROMISE_TEXT:
        raise CommandError(
            f"A promise can be at most {MAX_PROMISE_TEXT:,} characters; this one has "
            f"{len(what):,}. Put the details in a thread and keep the promise short."
        )
    return PromiseCommand(
        account_name=name, what=what, when_text=when_text, owner_id=owner, matched=matched
    )


# --- internals -----------------------------------------------------------------------


def _parse_list(rest: list[str]) -> PromiseList:
    if not rest:
        return PromiseList(scope="all")
    if len(rest) == 1 and rest[0].casefold() in _LIST_SCOPES:
        return PromiseList(scope=_LIST_SCOPES[rest[0].casefold()])
    if any(MENTION.search(word) for word in rest):
        raise CommandError(
            "I can list `mine`, `overdue` or one account's promises, not a person's.\n"
            + PROMISE_USAGE
        )
    quoted, after = _strip_quotes(rest)
    if quoted is not None and after:
        raise CommandError(
            f"I understood the account “{_echo(quoted)}” but not "
            f"“{_echo(readable(' '.join(after)))}”.\n" + PROMISE_USAGE
        )
    return PromiseList(scope="account", account_name=clean_name(quoted or " ".join(rest)))


def _split_account(tokens: list[str], known: set[str]) -> tuple[str, list[str], bool]:
    """The account name (readable), the remaining words, and whether the name is known."""
    if MENTION.fullmatch(tokens[0]):
        raise CommandError("Start with the account name, then the promise.\n" + PROMISE_USAGE)
    quoted, rest = _strip_quotes(tokens)
    if quoted is not None:
        name = clean_name(quoted)
        return name, rest, _names_key(name) in known
    size = _known_prefix(tokens, known)
    if size:
        return clean_name(" ".join(tokens[:size])), tokens[size:], True
    return clean_name(tokens[0]), tokens[1:], False


def _known_prefix(tokens: list[str], known: set[str]) -> int:
    """How many leading words form the longest known account name (0: none)."""
    for size in range(min(len(tokens), _MAX_NAME_WORDS), 0, -1):
        if _names_key(readable(" ".join(tokens[:size]))) in known:
            return size
    return 0


def _trailing_owner(words: list[str]) -> tuple[str | None, list[str]]:
    """Take the mention(s) at the end: one owner, or an error for several people."""
    end = len(words)
    owners: list[str] = []
    while end > 0 and (match := MENTION.fullmatch(words[end - 1])):
        if match.group(1) not in owners:
            owners.insert(0, match.group(1))
        end -= 1
    if len(owners) > 1:
        names = ", ".join(readable(w) for w in words[end:])
        raise CommandError(
            f"A promise has one owner, but I see {names}. Mention just one person at the "
            "end (or nobody, to own it yourself).\n" + PROMISE_USAGE
        )
    return (owners[0] if owners else None), words[:end]


def _split_when(words: list[str]) -> tuple[list[str], list[str]]:
    """Split `<what> by <when>` / `<what> <when> mennessä` into (what words, when words)."""
    folded = [w.casefold() for w in words]
    if len(words) >= 2 and folded[-1] == _UNTIL_WORD:
        start = len(words) - 2
        while start > 0 and _extends_fi_when(folded[start - 1], folded[start]):
            start -= 1
        return words[:start], words[start:-1]
    marker = max((i for i, w in enumerate(folded) if w in _BY_WORDS), default=-1)
    if marker == -1 or marker == len(words) - 1:
        return words, []
    return words[:marker], words[marker + 1 :]


def _extends_fi_when(previous: str, first: str) -> bool:
    """Whether `previous` belongs to a Finnish date phrase that starts with `first`."""
    if previous in _FI_WHEN_LEADS or _FI_MONTH.match(previous):
        return True
    # "1. joulukuuta", "joulukuun 1. päivään"
    return previous[:1].isdigit() and (bool(_FI_MONTH.match(first)) or first.startswith("päivä"))


def _strip_quotes(tokens: list[str]) -> tuple[str | None, list[str]]:
    """If tokens start with a quoted phrase, return it and the rest (as in bot.parsing)."""
    if not tokens or tokens[0][:1] not in _QUOTES:
        return None, tokens
    joined = " ".join(tokens)
    quote = joined[0]
    end = joined.find(quote if quote not in {"“", "”"} else "”", 1)
    if end == -1:
        raise CommandError("The account name's closing quote is missing.\n" + PROMISE_USAGE)
    return joined[1:end].strip(), _WORD.findall(joined[end + 1 :])


def _names_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _plain(text: str) -> str:
    return " ".join(readable(text).split())


def _echo(text: str) -> str:
    return truncate(" ".join(text.split()), _MAX_ECHO)


def parse_promise_line(line: str) -> tuple[str, str | None]:
    """One line of the check-in's "promises made" box: (what, when text or None)."""
    tokens = _WORD.findall(line)
    body, when_words = _split_when(tokens)
    what = _plain(" ".join(body))
    if not what:
        raise CommandError("say what was promised, e.g. `send the pricing sheet by friday`.")
    if len(what) > MAX_PROMISE_TEXT:
        raise CommandError(f"a promise can be at most {MAX_PROMISE_TEXT:,} characters.")
    return what, _plain(" ".join(when_words)) if when_words else None
