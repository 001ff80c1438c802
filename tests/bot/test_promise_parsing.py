"""`/promise` text as Slack sends it with should_escape on."""

from __future__ import annotations

import pytest

from bot.parsing import CommandError
from bot.promise_parsing import (
    MAX_PROMISE_TEXT,
    PROMISE_USAGE,
    PromiseCommand,
    PromiseList,
    parse_promise,
)

KNOWN = ["Acme", "Acme Oy", "Big Co Ltd", "R&D Labs", "Globex", "List Co", "Äijälä Oy"]


def _cmd(
    account: str,
    what: str,
    when: str | None = None,
    owner: str | None = None,
    matched: bool = True,
) -> PromiseCommand:
    return PromiseCommand(
        account_name=account, what=what, when_text=when, owner_id=owner, matched=matched
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the contract's example
        (
            "Acme send the pricing sheet by friday <@U1|maria>",
            _cmd("Acme", "send the pricing sheet", "friday", "U1"),
        ),
        ("Acme send the pricing sheet", _cmd("Acme", "send the pricing sheet")),
        ("Acme send the deck <@U1|maria>", _cmd("Acme", "send the deck", owner="U1")),
        ("Acme send the deck <@W9ABC>", _cmd("Acme", "send the deck", owner="W9ABC")),
        ("Acme send the deck <@U1|maria smith>", _cmd("Acme", "send the deck", owner="U1")),
        ("Acme send deck by 2026-12-01", _cmd("Acme", "send deck", "2026-12-01")),
        ("Acme send deck By Next Friday", _cmd("Acme", "send deck", "Next Friday")),
        ("Acme send deck by in 3 days", _cmd("Acme", "send deck", "in 3 days")),
        # multi-word and longest known names, case-insensitive
        ("Acme Oy send the contract by tomorrow", _cmd("Acme Oy", "send the contract", "tomorrow")),
        ("acme oy send the contract", _cmd("acme oy", "send the contract")),
        (
            "big co ltd fix the SSO bug by next week",
            _cmd("big co ltd", "fix the SSO bug", "next week"),
        ),
        ("R&amp;D Labs share the roadmap", _cmd("R&D Labs", "share the roadmap")),
        # quoted names
        ('"Acme Oy" send invoice by friday', _cmd("Acme Oy", "send invoice", "friday")),
        ("“Big Co Ltd” call back", _cmd("Big Co Ltd", "call back")),
        ('"New Client Ab" send NDA', _cmd("New Client Ab", "send NDA", matched=False)),
        # unknown account: the first word
        (
            "Initech send the deck by monday",
            _cmd("Initech", "send the deck", "monday", matched=False),
        ),
        # `by` inside the promise: only the last one splits
        ("Acme go by the office by friday", _cmd("Acme", "go by the office", "friday")),
        ("Acme swing by", _cmd("Acme", "swing by")),
        ("Acme stand by them by 1.12.", _cmd("Acme", "stand by them", "1.12.")),
        # mentions in the middle stay in what, as readable names; the trailing one owns it
        (
            "Acme intro <@U2|bob> to their CTO by friday <@U1|maria>",
            _cmd("Acme", "intro @bob to their CTO", "friday", "U1"),
        ),
        ("Acme intro <@U2|bob> to their CTO", _cmd("Acme", "intro @bob to their CTO")),
        ("Acme send deck <@U1|maria> <@U1|maria>", _cmd("Acme", "send deck", owner="U1")),
        # Slack tokens and escapes become plain, harmless words
        ("Acme tell <!channel> about it", _cmd("Acme", "tell @channel about it")),
        ("Acme post in <#C1|sales> &amp; <!here>", _cmd("Acme", "post in #sales & @here")),
        ("Acme fix &lt;script&gt; bug by friday", _cmd("Acme", "fix <script> bug", "friday")),
        (
            "Acme   send\n the   deck  by   next   friday ",
            _cmd("Acme", "send the deck", "next friday"),
        ),
        # emoji, RTL and accents
        ("Acme ship 🚀 the fix 👍🏽 by friday", _cmd("Acme", "ship 🚀 the fix 👍🏽", "friday")),
        ("Acme שלח את ההצעה by friday", _cmd("Acme", "שלח את ההצעה", "friday")),
        ("Acme إرسال العرض", _cmd("Acme", "إرسال العرض")),
        # Finnish
        (
            "Acme Oy lähetä hinnasto perjantaihin mennessä <@U1|maria>",
            _cmd("Acme Oy", "lähetä hinnasto", "perjantaihin", "U1"),
        ),
        (
            "Acme lähetä hinnasto ensi perjantaihin mennessä",
            _cmd("Acme", "lähetä hinnasto", "ensi perjantaihin"),
        ),
        ("Acme korjaa vika kuun loppuun mennessä", _cmd("Acme", "korjaa vika", "kuun loppuun")),
        (
            "Acme korjaa vika tämän viikon loppuun mennessä",
            _cmd("Acme", "korjaa vika", "tämän viikon loppuun"),
        ),
        ("Acme maksa 3 laskua 1.12. mennessä", _cmd("Acme", "maksa 3 laskua", "1.12.")),
        ("Acme maksa lasku 1. joulukuuta mennessä", _cmd("Acme", "maksa lasku", "1. joulukuuta")),
        ("Acme lähetä sopimus viimeistään huomenna", _cmd("Acme", "lähetä sopimus", "huomenna")),
        (
            "äijälä oy soita takaisin Viimeistään ensi viikolla",
            _cmd("äijälä oy", "soita takaisin", "ensi viikolla"),
        ),
        ("Acme mennessä", _cmd("Acme", "mennessä")),
        # an account called "List Co" is still an account, not a list
        ("List Co send deck", _cmd("List Co", "send deck")),
        # 3,000 characters is fine (measured after readable())
        ("Acme " + "x" * MAX_PROMISE_TEXT, _cmd("Acme", "x" * MAX_PROMISE_TEXT)),
        ("Acme " + "&amp;" * MAX_PROMISE_TEXT, _cmd("Acme", "&" * MAX_PROMISE_TEXT)),
    ],
)
def test_parse_promise(text, expected):
    assert parse_promise(text, KNOWN) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list", PromiseList(scope="all")),
        ("  LIST  ", PromiseList(scope="all")),
        ("list all", PromiseList(scope="all")),
        ("list mine", PromiseList(scope="mine")),
        ("list Mine", PromiseList(scope="mine")),
        ("list overdue", PromiseList(scope="overdue")),
        ("list omat", PromiseList(scope="mine")),
        ("list myöhässä", PromiseList(scope="overdue")),
        ("list Acme Oy", PromiseList(scope="account", account_name="Acme Oy")),
        ("list r&amp;d labs", PromiseList(scope="account", account_name="r&d labs")),
        ("list Initech", PromiseList(scope="account", account_name="Initech")),
        ('list "Mine"', PromiseList(scope="account", account_name="Mine")),
        ("list List Co", PromiseList(scope="account", account_name="List Co")),
    ],
)
def test_parse_promise_list(text, expected):
    assert parse_promise(text, KNOWN) == expected


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["Which account"]),
        ("   ", ["Which account"]),
        ("Acme", ["What did you promise?", "the account “Acme”", "not what was promised"]),
        (
            "Acme Oy by friday <@U1|maria>",
            ["What did you promise?", "“Acme Oy”", "the date “friday”"],
        ),
        ("Acme perjantaihin mennessä", ["What did you promise?", "the date “perjantaihin”"]),
        ("Acme <@U1|maria>", ["What did you promise?", "“Acme”"]),
        (
            "Acme send deck <@U1|maria> <@U2|bob>",
            ["A promise has one owner", "@maria, @bob", "Mention just one person"],
        ),
        ("Acme send deck by friday <@U1> <@U2> <@U3>", ["A promise has one owner"]),
        ("Acme " + "x" * (MAX_PROMISE_TEXT + 1), ["at most 3,000 characters", "has 3,001"]),
        ("Acme " + "&amp;" * (MAX_PROMISE_TEXT + 1), ["at most 3,000 characters"]),
        ("<@U1|maria> Acme send deck", ["Start with the account name"]),
        ("<#C1|sales> send deck", ["can't be a mention or a channel"]),
        ('"Acme send deck', ["closing quote is missing"]),
        ('"" send deck', ["account name is empty"]),
        ("list <@U1|maria>", ["not a person's"]),
        ('list "Acme" extra', ["“Acme”", "“extra”"]),
        ("list " + "y" * 81, ["at most 80 characters"]),
    ],
)
def test_parse_promise_errors(text, fragments):
    with pytest.raises(CommandError) as err:
        parse_promise(text, KNOWN)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "text",
    ["", "Acme", "Acme by friday", "Acme send deck <@U1> <@U2>", "<@U1|maria> Acme send deck"],
)
def test_errors_that_need_it_show_the_usage(text):
    with pytest.raises(CommandError) as err:
        parse_promise(text, KNOWN)
    assert PROMISE_USAGE in str(err.value)


def test_a_long_echo_is_shortened():
    with pytest.raises(CommandError) as err:
        parse_promise("Acme by " + "z" * 500, KNOWN)
    assert "z" * 500 not in str(err.value)
    assert "…" in str(err.value)


def test_known_accounts_can_be_any_iterable():
    assert parse_promise("acme oy call back", iter(KNOWN)).account_name == "acme oy"
    assert parse_promise("acme oy call back", ()).account_name == "acme"


def test_usage_text():
    assert PROMISE_USAGE == (
        "`/promise <account> <what> [by <when>] [@owner]` — e.g. "
        "`/promise Acme send the pricing sheet by friday @maria` · "
        "`/promise list [mine|overdue|<account>]`"
    )
