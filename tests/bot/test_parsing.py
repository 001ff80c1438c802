"""Parsers for slash command text, as Slack sends it with should_escape on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.parsing import (
    MAX_ACCOUNT_NAME,
    AccountAdd,
    AccountsList,
    AccountView,
    Away,
    Back,
    CommandError,
    DigestHere,
    DigestOff,
    DigestPreview,
    Help,
    clean_name,
    parse_checkin,
    parse_trust,
    parse_value,
    suggest_names,
)

KNOWN = ["Acme", "Acme Oy", "Big Co Ltd", "R&D Labs", "Globex"]


# --- /checkin ---------------------------------------------------------------------------


def test_checkin_multi_word_name_kind_mentions_note():
    cmd = parse_checkin("Acme Oy call <@U1|maria> <@U2|bob> renewal went well", KNOWN)
    assert cmd.account_name == "Acme Oy"
    assert cmd.kind == "call"
    assert cmd.participants == ("U1", "U2")
    assert cmd.note == "renewal went well"
    assert cmd.matched is True


def test_checkin_longest_known_prefix_wins():
    # "Acme" and "Acme Oy" are both known: the longer one is meant
    assert parse_checkin("Acme Oy qbr", KNOWN).account_name == "Acme Oy"
    assert parse_checkin("Acme qbr", KNOWN).account_name == "Acme"


def test_checkin_three_word_known_name():
    cmd = parse_checkin("big co ltd demo", KNOWN)
    assert cmd.account_name.casefold() == "big co ltd"
    assert cmd.kind == "demo"
    assert cmd.matched


def test_checkin_known_name_with_escaped_ampersand():
    cmd = parse_checkin("R&amp;D Labs demo", KNOWN)
    assert cmd.account_name == "R&D Labs"
    assert cmd.kind == "demo"
    assert cmd.matched


def test_checkin_name_only_defaults_to_meeting():
    cmd = parse_checkin("Globex", KNOWN)
    assert cmd == parse_checkin("Globex meeting", KNOWN)
    assert cmd.kind == "meeting"
    assert cmd.participants == ()
    assert cmd.note == ""


@pytest.mark.parametrize("quote", ['"{}"', "“{}”", "'{}'"])
def test_checkin_quoted_unknown_name(quote):
    cmd = parse_checkin(quote.format("New Corp") + " qbr kickoff", KNOWN)
    assert cmd.account_name == "New Corp"
    assert cmd.kind == "qbr"
    assert cmd.note == "kickoff"
    assert cmd.matched is False


def test_checkin_quoted_known_name_is_matched():
    assert parse_checkin('"acme oy" call', KNOWN).matched is True


def test_checkin_missing_closing_quote():
    with pytest.raises(CommandError, match="quote"):
        parse_checkin('"New Corp call', KNOWN)


def test_checkin_unknown_multi_word_name_stops_at_kind():
    cmd = parse_checkin("New Corp call <@U1|m>", KNOWN)
    assert cmd.account_name == "New Corp"
    assert cmd.kind == "call"
    assert cmd.participants == ("U1",)
    assert cmd.matched is False


def test_checkin_unknown_name_stops_at_mention():
    cmd = parse_checkin("New Corp <@U1|m> hello", KNOWN)
    assert cmd.account_name == "New Corp"
    assert cmd.kind == "meeting"
    assert cmd.participants == ("U1",)
    assert cmd.note == "hello"


@pytest.mark.parametrize(
    "kind", ["meeting", "call", "email", "qbr", "demo", "support", "complaint"]
)
def test_checkin_every_kind(kind):
    assert parse_checkin(f"Globex {kind.upper()}", KNOWN).kind == kind


def test_checkin_mentions_deduplicated_and_without_label():
    cmd = parse_checkin("Globex call <@U1|m> <@U2> <@U1|m>", KNOWN)
    assert cmd.participants == ("U1", "U2")


def test_checkin_mentions_right_after_name():
    cmd = parse_checkin("Acme Oy <@W1|ext> notes here", KNOWN)
    assert cmd.kind == "meeting"
    assert cmd.participants == ("W1",)
    assert cmd.note == "notes here"


def test_checkin_note_special_mentions_become_readable():
    cmd = parse_checkin("Globex call heads up <!channel> and <!here> for <#C1|sales>", KNOWN)
    assert cmd.note == "heads up @channel and @here for #sales"
    assert "<" not in cmd.note


def test_checkin_note_mention_after_text_is_readable_not_participant():
    cmd = parse_checkin("Globex call thanks <@U9|zed>", KNOWN)
    assert cmd.participants == ()
    assert cmd.note == "thanks @zed"


def test_checkin_note_is_unescaped():
    cmd = parse_checkin("Globex call price &lt; 10k &amp; growing &gt; 5%", KNOWN)
    assert cmd.note == "price < 10k & growing > 5%"


@pytest.mark.parametrize(
    ("typo", "kind"), [("cal", "call"), ("meetnig", "meeting"), ("dmeo", "demo")]
)
def test_checkin_close_typo_of_kind_is_an_error(typo, kind):
    with pytest.raises(CommandError) as err:
        parse_checkin(f"Globex {typo} <@U1|m>", KNOWN)
    assert f"`{kind}`" in str(err.value)
    assert typo in str(err.value)


def test_checkin_unrelated_word_is_a_note_not_a_typo():
    cmd = parse_checkin("Globex great talk", KNOWN)
    assert cmd.kind == "meeting"
    assert cmd.note == "great talk"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_checkin_empty_text_is_an_error(text):
    with pytest.raises(CommandError, match="Which account"):
        parse_checkin(text, KNOWN)


def test_checkin_starting_with_a_mention_is_an_error():
    with pytest.raises(CommandError, match="account name"):
        parse_checkin("<@U1|maria> call", KNOWN)


def test_checkin_starting_with_special_mention_is_an_error():
    with pytest.raises(CommandError):
        parse_checkin("<!channel> call", KNOWN)


def test_checkin_too_long_name_is_an_error():
    with pytest.raises(CommandError, match=str(MAX_ACCOUNT_NAME)):
        parse_checkin("x" * (MAX_ACCOUNT_NAME + 1) + " call", KNOWN)


def test_checkin_name_of_max_length_is_fine():
    name = "x" * MAX_ACCOUNT_NAME
    assert parse_checkin(name + " call", KNOWN).account_name == name


def test_checkin_quoted_name_with_escaped_text():
    cmd = parse_checkin('"R&amp;D &lt;North&gt;" call', KNOWN)
    assert cmd.account_name == "R&D <North>"


# --- /trust -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "help me please"])
def test_trust_help(text):
    assert parse_trust(text) == Help()


def test_trust_account_add_full():
    cmd = parse_trust('account add "Acme Oy" tier A value 120k <@U1|maria>')
    assert cmd == AccountAdd(name="Acme Oy", tier="A", value=Decimal(120000), owner_id="U1")


def test_trust_account_add_defaults():
    assert parse_trust("account add Globex") == AccountAdd(name="Globex")


def test_trust_account_add_unquoted_multi_word_lowercase_tier():
    cmd = parse_trust("Account ADD Big Co Ltd tier c")
    assert isinstance(cmd, AccountAdd)
    assert cmd.name == "Big Co Ltd"
    assert cmd.tier == "C"


def test_trust_account_add_curly_quotes_and_value_first():
    cmd = parse_trust("account add “Big Co” value 1.5M tier B")
    assert isinstance(cmd, AccountAdd)
    assert cmd.name == "Big Co"
    assert cmd.value == Decimal(1_500_000)
    assert cmd.tier == "B"


def test_trust_account_add_owner_anywhere():
    cmd = parse_trust("account add <@U7|o> Globex tier A")
    assert isinstance(cmd, AccountAdd)
    assert cmd.owner_id == "U7"
    assert cmd.name == "Globex"


def test_trust_account_add_escaped_name():
    cmd = parse_trust("account add R&amp;D value 120,000")
    assert cmd == AccountAdd(name="R&D", value=Decimal(120000))


def test_trust_account_add_two_owners_is_an_error():
    with pytest.raises(CommandError, match="one owner"):
        parse_trust("account add Globex <@U1|a> <@U2|b>")


@pytest.mark.parametrize("text", ["account add", "account add   ", "account add <@U1|x>"])
def test_trust_account_add_without_name(text):
    with pytest.raises(CommandError, match="Which account"):
        parse_trust(text)


def test_trust_account_add_bad_tier():
    with pytest.raises(CommandError, match="Tier must be A, B or C"):
        parse_trust("account add Globex tier D")


def test_trust_account_add_bad_value():
    with pytest.raises(CommandError, match="not a number"):
        parse_trust("account add Globex value lots")


def test_trust_account_add_trailing_junk():
    with pytest.raises(CommandError, match="don't understand"):
        parse_trust("account add Globex tier A extra")


@pytest.mark.parametrize("text", ["account add <!channel>", "account add <#C1|sales>"])
def test_trust_account_add_mention_as_name(text):
    with pytest.raises(CommandError, match="mention"):
        parse_trust(text)


@pytest.mark.parametrize(
    ("text", "until"),
    [
        ("away until friday", "friday"),
        ("AWAY Until 2026-12-31", "2026-12-31"),
        ("away next monday", "next monday"),
        ("away until in 3 days", "in 3 days"),
    ],
)
def test_trust_away(text, until):
    assert parse_trust(text) == Away(until_text=until)


def test_trust_away_without_date():
    with pytest.raises(CommandError, match="until when"):
        parse_trust("away")


@pytest.mark.parametrize("text", ["back", "Back", "  BACK  "])
def test_trust_back(text):
    assert parse_trust(text) == Back()


@pytest.mark.parametrize("text", ["foo", "accountz", "digestt here"])
def test_trust_unknown_subcommand(text):
    with pytest.raises(CommandError, match="Try `/trust help`"):
        parse_trust(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("account Acme", AccountView("Acme")),
        ("account  Acme   Oy ", AccountView("Acme Oy")),
        ('account "Acme Add"', AccountView("Acme Add")),
        ("Account &lt;b&gt;", AccountView("<b>")),
        ("accounts", AccountsList()),
        ("accounts 3", AccountsList(3)),
        ("accounts page 2", AccountsList(2)),
        ("digest here", DigestHere("")),
        ("digest here friday 16:00 tier A", DigestHere("friday 16:00 tier A")),
        ("DIGEST off", DigestOff()),
        ("digest preview", DigestPreview()),
    ],
)
def test_trust_health_commands(text, expected):
    assert parse_trust(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("account", "Which account?"),
        ("account <@U1|bob>", "can't be a mention"),
        ("accounts please", "/trust accounts [page <number>]"),
        ("accounts 0", "/trust accounts [page <number>]"),
        ("digest", "/trust digest here"),
        ("digest sometimes", "/trust digest here"),
        ("digest off now", "/trust digest here"),
    ],
)
def test_trust_health_command_errors(text, words):
    with pytest.raises(CommandError) as err:
        parse_trust(text)
    assert words in str(err.value)


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("120000", Decimal(120000)),
        ("120k", Decimal(120000)),
        ("120K", Decimal(120000)),
        ("1.5M", Decimal(1_500_000)),
        ("1.5m", Decimal(1_500_000)),
        ("120,000", Decimal(120000)),
        ("1_000", Decimal(1000)),
        ("€120k", Decimal(120000)),
        ("$5m", Decimal(5_000_000)),
        ("12.5", Decimal("12.5")),
        (" 7 ", Decimal(7)),
        ("0", Decimal(0)),
    ],
)
def test_parse_value(raw, expected):
    assert parse_value(raw) == expected


@pytest.mark.parametrize("raw", ["bad", "", "1e5", "-5", "1.2.3", "k", "12kk", "1,5 M"])
def test_parse_value_bad(raw):
    with pytest.raises(CommandError):
        parse_value(raw)


def test_parse_value_too_large():
    with pytest.raises(CommandError, match="too large"):
        parse_value("99999999999999")


# --- names --------------------------------------------------------------------------------


def test_suggest_names_close_and_prefix():
    known = ["Acme Oy", "Acme Corp", "Globex", "Initech"]
    assert set(suggest_names("acme", known)) == {"Acme Oy", "Acme Corp"}
    assert suggest_names("globx", known) == ["Globex"]
    assert suggest_names("zzzz", known) == []


def test_suggest_names_respects_limit_and_returns_original_spelling():
    known = ["Acme A", "Acme B", "Acme C", "Acme D"]
    out = suggest_names("ACME", known, limit=2)
    assert len(out) == 2
    assert set(out) <= set(known)


def test_clean_name_normalises_whitespace_and_unescapes():
    assert clean_name("  Acme   Oy  ") == "Acme Oy"
    assert clean_name("R&amp;D") == "R&D"


def test_clean_name_length_limit():
    assert clean_name("x" * MAX_ACCOUNT_NAME) == "x" * MAX_ACCOUNT_NAME
    with pytest.raises(CommandError, match="at most"):
        clean_name("x" * (MAX_ACCOUNT_NAME + 1))


@pytest.mark.parametrize("raw", ["", "   "])
def test_clean_name_empty(raw):
    with pytest.raises(CommandError, match="empty"):
        clean_name(raw)


@pytest.mark.parametrize(
    "raw", ["<@U1|x>", "<@U1>", "<!here>", "<!channel>", "<#C1|sales>", "Acme <@U1> Oy"]
)
def test_clean_name_rejects_mentions(raw):
    with pytest.raises(CommandError, match="mention"):
        clean_name(raw)
