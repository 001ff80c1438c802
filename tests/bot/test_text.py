"""Text helpers: escaping for Slack, reading Slack's escaped text, truncation, mentions."""

from __future__ import annotations

import pytest

from bot.text import escape, readable, truncate, unescape, user_mentions

NASTY = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<@U123|bob>",
    "<#C123|general>",
    "<https://evil.example|click>",
    "<!subteam^S1|@team>",
    "&amp;",
    "&lt;!channel&gt;",
    "a & b < c > d",
    "<<<>>>&&&",
    "emoji 🤝🔥 :fire: 👩‍👩‍👧",
    "مرحبا <!here> بالعالم",
    "שלום <@U1> עולם",
    "\u202eevil\u202c <!channel>",
    "<" * 5000,
    "x" * 4999 + ">",
    "&" * 5000,
    "",
]


@pytest.mark.parametrize("raw", NASTY)
def test_escape_leaves_no_angle_brackets(raw):
    out = escape(raw)
    assert "<" not in out
    assert ">" not in out


@pytest.mark.parametrize("raw", NASTY)
def test_escape_round_trips_through_unescape(raw):
    assert unescape(escape(raw)) == raw


@pytest.mark.parametrize("raw", NASTY)
def test_escape_leaves_no_bare_ampersand(raw):
    out = escape(raw)
    # every & starts one of the three entities
    stripped = out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert "&" not in stripped


def test_escape_exact_output():
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_escape_ampersand_first_so_entities_are_not_double_decoded():
    # a user who literally types "&lt;" must get it back literally, not "<"
    assert escape("&lt;") == "&amp;lt;"
    assert unescape("&amp;lt;") == "&lt;"


def test_escape_keeps_unicode_untouched():
    text = "Ääkköset 🤝 مرحبا שלום"
    assert escape(text) == text


def test_unescape_decodes_slack_entities():
    assert unescape("R&amp;D &lt;b&gt;") == "R&D <b>"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<@U123|maria> said hi", "@maria said hi"),
        ("<@U123> said hi", "@U123 said hi"),
        ("<#C1|sales>", "#sales"),
        ("<#C1>", "#C1"),
        ("<!channel>", "@channel"),
        ("<!here>", "@here"),
        ("<!everyone>", "@everyone"),
        ("<!here|here>", "@here"),
        ("<!subteam^S1|@team>", "@team"),
        ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
        ("R&amp;D &lt;x&gt;", "R&D <x>"),
        ("plain text", "plain text"),
    ],
)
def test_readable(raw, expected):
    assert readable(raw) == expected


def test_readable_leaves_links_alone():
    assert readable("<https://evil.example|click>") == "<https://evil.example|click>"


def test_readable_does_not_turn_escaped_text_into_a_token():
    # the user typed "<!channel>" literally: Slack sends it escaped; we show it as typed
    assert readable("&lt;!channel&gt;") == "<!channel>"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"),
        ("abc", 10, "abc"),
        ("", 5, ""),
        ("abcdef", 1, "…"),
    ],
)
def test_truncate(text, limit, expected):
    assert truncate(text, limit) == expected


@pytest.mark.parametrize("limit", [1, 2, 10, 75, 3000])
def test_truncate_never_exceeds_limit(limit):
    for text in ("x" * 5000, "🤝" * 5000, "ab"):
        out = truncate(text, limit)
        assert len(out) <= limit
        if len(text) > limit:
            assert out.endswith("…")


def test_user_mentions_in_order_without_repeats():
    text = "<@U2|bob> and <@U1> and <@U2> and <@W9|ext>"
    assert user_mentions(text) == ["U2", "U1", "W9"]


def test_user_mentions_ignore_channels_specials_and_escaped():
    text = "<!channel> <#C1|x> &lt;@U5&gt; <@u7> <@B1>"
    assert user_mentions(text) == []
