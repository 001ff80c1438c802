"""Property: no text a user typed can ping, mention or link anyone, whatever it contains.

Hypothesis generates text made of every mrkdwn control sequence (`<!channel>`, `<!here>`,
`<!everyone>`, `<!subteam^…>`, `<@U…>`, `<#C…>`, `<http://…|x>`, `<mailto:…>`, entities,
`*_~``, quotes, emoji, unicode, newlines) and plain noise, up to a few thousand characters.
It goes into every command and every text that ends up in a message (account names, notes,
promise texts, cancel reasons, concerns, "promises made", modal inputs), then through what
shows it: answers, DMs, reminders, modals, the App Home, account cards, the ranked list,
the digest preview and the posted digest.

The check is on everything the bot sends (Web API calls, response_url posts, the HTTP
answers to commands and forms): in every mrkdwn text, each `<` must start one of the two
tokens the bot writes itself — `<!date^…>` and a `<@U…>` of someone Slack handed it as a
user id (a workspace member, or a mention the user typed in a command, which Slack sends
as `<@U…|name>`). Anything else — a raw `<` from user text — is a leak. Every payload also
passes the stub's Block Kit limit checks, and so do the HTTP answers.

One bot and one stub serve all examples of a test (examples share the database); the
examples are derandomized, so CI sees the same ones every run.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from bot import ids
from bot.blocks import build_help
from bot.localslack.limits import check_message, check_view
from bot.promise_parsing import PROMISE_USAGE
from bot.text import MENTION
from storage import promises as pq
from storage import queries as q
from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, ROBOT, START, Bot, eventually
from tests.security.conftest import command, post_payload, user_obj

KNOWN_PEOPLE = {ALICE, BOB, CAROL, ROBOT, "UBOT"}
CONTROL = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<!channel|@channel>",
    "<!subteam^S0EVIL|@sales>",
    "<!date^1700000000^{date}|x>",
    "<@UEVIL1>",
    "<@UEVIL2|mallory>",
    "<@WEVIL3>",
    "<#CEVIL|secret>",
    "<#C1>",
    "<http://evil.example|click me>",
    "<https://evil.example/path?a=1&b=2>",
    "<mailto:x@evil.example|mail>",
    "<tel:+358|call>",
    "&lt;!channel&gt;",
    "&lt;@UEVIL1&gt;",
    "&amp;lt;!here&amp;gt;",
    "&amp;",
    "&lt;",
    "&gt;",
    "&",
    "<",
    ">",
    "<<!channel>>",
    "<!channel",
    "*bold*",
    "_it_",
    "~strike~",
    "`code`",
    "```block```",
    "> quote",
    "\n>>> ",
    "\n",
    " ",
    ":smile:",
    ":skin-tone-2:",
    "😀",
    "👩‍👩‍👧",
    "Äiti öljyä",
    "Ω≈ç√",
    "\u200b",
    "\u202e",
    "\t",
    '"quoted"',
    "by friday",
    "tier A",
    "value 1M",
]
NOISE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
PIECE = st.one_of(st.sampled_from(CONTROL), NOISE)
SHORT = st.lists(PIECE, min_size=1, max_size=8).map("".join)
LONG = st.tuples(st.lists(PIECE, min_size=1, max_size=3).map("".join), st.integers(50, 700)).map(
    lambda pair: (pair[0] * pair[1])[:3500]
)
USER_TEXT = st.one_of(SHORT, SHORT, SHORT, LONG)
PROPERTY = settings(
    max_examples=18,
    deadline=None,
    derandomize=True,
    database=None,
    # Examples share one database, so a shrunk example is not a clean repeat: report the
    # first failing text as it is (and fast) instead of shrinking it.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
DATE_TOKEN = re.compile(r"<!date\^\d+\^\{date_short_pretty\}\|\d{4}-\d{2}-\d{2}>")
# The bot's own usage lines name their placeholders raw (`/promise <account> <what>`); they
# are the bot's text, not the user's, so they are set aside (and listed in the report).
PLACEHOLDERS = sorted(
    set(re.findall(r"<[^<>@!#|&]+>", json.dumps(build_help()) + PROMISE_USAGE)),
    key=len,
    reverse=True,
)
USER_TOKEN = re.compile(r"<@([UW][A-Z0-9]+)>")
SKIPPED_KEYS = {"private_metadata", "value", "initial_value", "action_id", "block_id", "url"}


def mrkdwn_texts(node: Any) -> list[str]:
    """Every string Slack reads as mrkdwn in a payload (plain_text objects cannot ping)."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "plain_text":
            return found
        for key, value in node.items():
            if key in SKIPPED_KEYS:
                continue
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(mrkdwn_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(mrkdwn_texts(item))
    return found


def leaks(payloads: list[Any], people: set[str]) -> list[str]:
    """mrkdwn texts with a `<` that is not the bot's own date or user token."""
    bad: list[str] = []
    for payload in payloads:
        for text in mrkdwn_texts(payload):
            rest = DATE_TOKEN.sub("", text)
            for placeholder in PLACEHOLDERS:
                rest = rest.replace(placeholder, "")
            rest = USER_TOKEN.sub(lambda m: "" if m.group(1) in people else m.group(0), rest)
            if "<" in rest:
                at = rest.index("<")
                bad.append(rest[max(0, at - 60) : at + 60])
    return bad


class Outputs:
    """What the bot sent since a mark: Web API calls, response_url posts, HTTP answers."""

    def __init__(self, bot: Bot):
        self.bot = bot
        self.calls = len(bot.stub.calls)
        self.responses = len(bot.stub.responses)
        self.answers: list[Any] = []
        self.violations: list[str] = []

    def answer(self, reply_text: str) -> dict[str, Any]:
        """Record an HTTP answer (a command's ack or a form's response) and check its limits."""
        body = json.loads(reply_text) if reply_text.strip() else {}
        self.answers.append(body)
        if body.get("response_action") == "update":
            self.violations += check_view(body["view"])
        elif body.get("text") or body.get("blocks"):
            self.violations += check_message(body)
        return dict(body)

    def payloads(self) -> list[Any]:
        stub = self.bot.stub
        return (
            [c.args for c in stub.calls[self.calls :]]
            + [r.body for r in stub.responses[self.responses :]]
            + self.answers
        )


def typed_mentions(text: str) -> set[str]:
    """User ids the user mentioned in a command (Slack sends those as tokens)."""
    return {m.group(1) for m in MENTION.finditer(text)}


async def run(bot: Bot, out: Outputs, name: str, text: str, user: str = ALICE) -> None:
    """A slash command; wait for its answer (ack or response_url) and record it."""
    before = len(bot.stub.responses), len(bot.stub.calls_to("views.open", all=True))
    reply = await bot.slack.command(name, text, user_id=user)
    assert reply.status == 200, (name, text, reply.text)
    body = out.answer(reply.text)
    if not (body.get("text") or body.get("blocks")):  # no text: a form opens instead
        await eventually(
            lambda: (
                (len(bot.stub.responses), len(bot.stub.calls_to("views.open", all=True))) > before
            )
        )


async def settle(bot: Bot) -> None:
    """Let the work after the last ack finish (a harmless command goes through last)."""
    await command(bot.slack, bot.stub, "/trust", "help", CAROL)


def assert_safe(bot: Bot, out: Outputs, people: set[str], example: str) -> None:
    found = leaks(out.payloads(), people)
    assert found == [], (example, found[:3])
    assert out.violations == [], (example, out.violations[:3])
    assert bot.stub.violations == [], (example, bot.stub.violations[:3])


async def setup_workspace(bot: Bot) -> None:
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C1", name="general", members=[ALICE, BOB, CAROL, "UBOT"])
    await command(bot.slack, bot.stub, "/trust", f"account add Acme tier A <@{ALICE}|a>", ALICE)


WORST = [
    "<!channel> <!here> <!everyone> <!subteam^S0EVIL|@sales> <@UEVIL1> <#CEVIL|x>",
    "&lt;!channel&gt; <http://evil.example|click me> <mailto:x@evil.example|m> *_~`",
    ("> <!here> 😀 Äiti\n" * 200)[:3000],
]


@PROPERTY
@example(text=WORST[0])
@example(text=WORST[1])
@example(text=WORST[2])
@given(text=USER_TEXT)
async def test_commands_never_pass_user_text_on_unescaped(bot: Bot, text: str) -> None:
    if not bot.stub.calls:
        await setup_workspace(bot)
    out = Outputs(bot)
    people = KNOWN_PEOPLE | typed_mentions(text)
    for name, args, user in [
        ("/trust", f"account add {text}", ALICE),
        ("/trust", f"account {text}", ALICE),
        ("/trust", text, ALICE),
        ("/trust", f"digest here {text}", CAROL),
        ("/trust", f"away until {text}", BOB),
        ("/checkin", f"Acme call <@{BOB}|bob> {text}", ALICE),
        ("/checkin", text, ALICE),
        ("/promise", f"Acme {text} <@{BOB}|bob>", ALICE),
        ("/promise", f"Acme {text} by {text}", ALICE),
        ("/promise", text, ALICE),
        ("/promise", f"list {text}", ALICE),
    ]:
        await run(bot, out, name, args, user)
    await run(bot, out, "/promise", "list", ALICE)
    await run(bot, out, "/trust", "accounts", ALICE)
    await run(bot, out, "/trust", "digest preview", ALICE)
    await settle(bot)
    assert_safe(bot, out, people, text)


WEEKS = itertools.count(1)  # each example writes its own account and posts its own digest week


async def write_story(bot: Bot, text: str) -> tuple[int, int, int]:
    """An account named after the text, an interaction with a concern, overdue promises."""
    week = next(WEEKS)
    now = bot.clock.now
    name = " ".join(text.split())[:70] or "blank"
    async with bot.svc.engine.begin() as conn:
        account = await q.create_account(
            conn,
            team_id="T0001",
            name=f"{name} #{week}",
            tier="A",
            yearly_value=None,
            owner_id=ALICE,
            created_by=ALICE,
            now=now,
        )
        interaction, checkins = await q.create_interaction(
            conn,
            team_id="T0001",
            account_id=account.id,
            kind="complaint",
            occurred_at=now - timedelta(days=10),
            logged_by=ALICE,
            note=text,
            source="import",
            now=now - timedelta(days=10),
            checkins=[
                q.NewCheckIn(BOB, q.PENDING, None, now + timedelta(days=3)),
                q.NewCheckIn(ALICE, q.PENDING, None, now + timedelta(days=3)),
            ],
        )
        await q.answer_checkin(
            conn,
            team_id="T0001",
            checkin_id=checkins[0].id,
            user_id=BOB,
            rating=1,
            direction="worse",
            stage=None,
            concern=text,
            now=now - timedelta(days=9),
        )
        for days in (3, 9):
            await pq.create_promise(
                conn,
                team_id="T0001",
                account_id=account.id,
                text=text[:3000],
                owner_id=ALICE,
                created_by=BOB,
                due_date=now.date() - timedelta(days=days),
                interaction_id=interaction.id,
                now=now - timedelta(days=20),
            )
    return account.id, checkins[1].id, week


def form(callback_id: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "VFORM",
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps(metadata or {}),
        "blocks": [],
    }


def typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def picked(value: Any) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": str(value)}}


async def submit(bot: Bot, out: Outputs, view: dict[str, Any], values: dict[str, Any]) -> None:
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.status == 200, reply.text
    out.answer(reply.text)


@PROPERTY
@example(text=WORST[0])
@example(text=WORST[1])
@example(text=WORST[2])
@given(text=USER_TEXT)
async def test_forms_cards_home_and_digest_never_pass_user_text_on_unescaped(
    bot: Bot, text: str
) -> None:
    if not bot.stub.calls:
        await setup_workspace(bot)
        await command(bot.slack, bot.stub, "/trust", "digest here monday 09:00 UTC", CAROL)
    account_id, checkin_id, week = await write_story(bot, text)
    out = Outputs(bot)
    due = (bot.clock.now + timedelta(days=2)).date()
    # The check-in form: a concern and "promises made" lines.
    await submit(
        bot,
        out,
        form(ids.CHECKIN_MODAL, {"c": checkin_id}),
        {
            ids.RATING_BLOCK: {ids.RATING_INPUT: picked(2)},
            ids.CONCERN_BLOCK: {ids.CONCERN_INPUT: typed(text[:3000])},
            ids.PROMISES_MADE_BLOCK: {ids.PROMISES_MADE_INPUT: typed(f"{text[:200]}\nship it")},
        },
    )
    # The /checkin form: a note.
    await submit(
        bot,
        out,
        form(ids.NEW_INTERACTION_MODAL),
        {
            ids.ACCOUNT_BLOCK: {ids.ACCOUNT_SELECT: picked(account_id)},
            ids.KIND_BLOCK: {ids.KIND_INPUT: picked("call")},
            ids.PARTICIPANTS_BLOCK: {ids.PARTICIPANTS_INPUT: {"selected_users": [BOB]}},
            ids.NOTE_BLOCK: {ids.NOTE_INPUT: typed(text[:3000])},
        },
    )
    # The /promise form, then Edit and Cancel… on that promise.
    promise_form = {
        ids.PROMISE_ACCOUNT_BLOCK: {ids.ACCOUNT_SELECT: picked(account_id)},
        ids.WHAT_BLOCK: {ids.WHAT_INPUT: typed(text[:3000])},
        ids.OWNER_BLOCK: {ids.OWNER_INPUT: {"selected_user": BOB}},
        ids.DUE_BLOCK: {ids.DUE_INPUT: {"selected_date": due.isoformat()}},
    }
    await submit(bot, out, form(ids.PROMISE_MODAL), promise_form)
    async with bot.svc.engine.connect() as conn:
        bobs = await pq.list_promises(
            conn, team_id="T0001", scope="mine", today=date(2000, 1, 1), limit=1, user_id=BOB
        )
    for promise in bobs:
        metadata = {"p": promise.promise.id}
        await submit(
            bot,
            out,
            form(ids.PROMISE_EDIT_MODAL, metadata),
            {**promise_form, ids.WHAT_BLOCK: {ids.WHAT_INPUT: typed(text[::-1][:3000])}},
        )
        await submit(
            bot,
            out,
            form(ids.CANCEL_MODAL, metadata),
            {ids.REASON_BLOCK: {ids.REASON_INPUT: typed(text[:1000])}},
        )
    # Where the stored texts show: the account card (a button and the command), the
    # ranked list, the digest preview, the App Home, the account search, reminders and
    # the posted digest.
    message = {"ts": "1.0", "blocks": [], "text": ""}
    await bot.slack.click(
        user_id=ALICE,
        action_id=ids.OPEN_ACCOUNT,
        value=str(account_id),
        message=message,
        channel_id="C1",
    )
    await run(bot, out, "/trust", "accounts")
    await run(bot, out, "/trust", "digest preview")
    await run(bot, out, "/promise", "list")
    await bot.slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
    options = await post_payload(
        bot.slack,
        {
            "type": "block_suggestion",
            "user": user_obj("T0001", ALICE),
            "team": {"id": "T0001"},
            "action_id": ids.ACCOUNT_SELECT,
            "block_id": ids.ACCOUNT_BLOCK,
            "value": text[:40],
            "view": form(ids.NEW_INTERACTION_MODAL),
        },
    )
    out.answers.append(options.json())
    monday = date(2026, 11, 23) + timedelta(weeks=week)
    await bot.svc.run_due_work(
        START.replace(year=monday.year, month=monday.month, day=monday.day, hour=12)
    )
    await settle(bot)
    assert_safe(bot, out, KNOWN_PEOPLE, text)
    async with bot.svc.engine.begin() as conn:  # later examples remind of their own only
        await conn.execute(
            update(t.promises).where(t.promises.c.status == "open").values(status="kept")
        )


def test_the_leak_check_itself_catches_what_it_should() -> None:
    """The checker must flag raw user tokens and pass the bot's own ones."""
    own = {"text": "Owner <@UALICE> · due <!date^1796040000^{date_short_pretty}|2026-11-30>"}
    assert leaks([own], KNOWN_PEOPLE) == []
    for raw in ["<!channel>", "<!here>", "<@UEVIL1>", "<http://evil.example|x>", "<#C1>"]:
        assert leaks(
            [{"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": raw}}]}],
            KNOWN_PEOPLE,
        )
        assert leaks([{"text": f"a {raw} b"}], KNOWN_PEOPLE)
    assert leaks([{"text": "&lt;!channel&gt; &amp; co"}], KNOWN_PEOPLE) == []
    assert leaks([{"type": "plain_text", "text": "<!channel>"}], KNOWN_PEOPLE) == []


async def test_a_posted_digest_cannot_ping_the_channel_it_goes_to(bot: Bot) -> None:
    """The headline case, without Hypothesis: an at-risk account named `<!channel> & Co`."""
    await setup_workspace(bot)
    await command(bot.slack, bot.stub, "/trust", "digest here monday 09:00 UTC", CAROL)
    await write_story(bot, "<!channel> & Co")  # low trust, overdue promises: at risk
    out = Outputs(bot)
    assert (await bot.svc.run_due_work(START + timedelta(days=7))).digests == 1
    (posted,) = [c.args for c in bot.stub.calls_to("chat.postMessage") if c.args["channel"] == "C1"]
    assert "&lt;!channel&gt; &amp; Co" in posted["text"]  # named in the notification, escaped
    assert leaks(out.payloads(), KNOWN_PEOPLE) == []
