"""Scenario tests: slash commands through the real Bolt app over HTTP against the stub."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, ROBOT, Bot, eventually


async def count(bot: Bot, table) -> int:
    async with bot.svc.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def add_account(bot: Bot, text: str, user: str = ALICE) -> None:
    before = len(bot.stub.responses)
    reply = await bot.slack.command("/trust", f"account add {text}", user_id=user)
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.responses) > before)


def last_response_text(bot: Bot) -> str:
    return bot.stub.responses[-1].body.get("text", "")


def responses_to(bot: Bot, response_url: str | None) -> list[dict]:
    """Bodies POSTed to one response_url (each command and click gets its own), in order."""
    assert response_url is not None
    token = response_url.rsplit("/", 1)[-1]
    return [r.body for r in bot.stub.responses if r.url_token == token]


async def answer(bot: Bot, reply: Any) -> dict:
    """What the user sees first: the ack's own message, or the first one on the response_url."""
    assert reply.status == 200
    body = reply.json()
    if body.get("text") or body.get("blocks"):
        return dict(body)
    url = bot.slack.last_response_url
    return (await eventually(lambda: responses_to(bot, url)))[0]


async def test_help_lists_every_command(bot: Bot) -> None:
    reply = await bot.slack.command("/trust", "help", user_id=ALICE)
    assert reply.status == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    text = str(body["blocks"])
    for usage in (
        "/checkin <account>",
        "/promise <account>",
        "/promise list",
        "/trust account add",
        "/trust away until",
        "/trust back",
    ):
        assert usage in text


async def test_account_add_is_unique_case_insensitively(bot: Bot) -> None:
    await add_account(bot, '"Acme Oy" tier A value 120k <@UBOB|bob>')
    assert "Created account *Acme Oy*" in last_response_text(bot)
    assert "tier A" in last_response_text(bot)
    assert "120,000" in last_response_text(bot)
    await add_account(bot, "ACME oy")
    assert "already an account called *Acme Oy*" in last_response_text(bot)
    assert await count(bot, t.accounts) == 1


async def test_account_add_refuses_a_bot_owner(bot: Bot) -> None:
    await add_account(bot, "Globex <@UROBOT|robot>")
    assert "must be a person" in last_response_text(bot)
    assert await count(bot, t.accounts) == 0


async def test_account_add_escapes_names(bot: Bot) -> None:
    await add_account(bot, "&lt;!channel&gt; &amp; Co")
    text = last_response_text(bot)
    assert "&lt;!channel&gt; &amp; Co" in text
    assert "<!channel>" not in text


async def test_unknown_trust_subcommand_explains(bot: Bot) -> None:
    reply = await bot.slack.command("/trust", "frobnicate", user_id=ALICE)
    assert reply.status == 200
    assert "/trust help" in reply.json()["text"]


async def test_checkin_logs_opens_modal_and_dms_teammates(bot: Bot) -> None:
    await add_account(bot, "Acme Corp tier A")
    reply = await bot.slack.command(
        "/checkin",
        f"acme corp call <@{BOB}|bob> <@{CAROL}|carol> renewal &lt;!channel&gt;",
        user_id=ALICE,
    )
    assert reply.status == 200
    assert reply.text in ("", "{}") or reply.json().get("text") is None
    opened = await eventually(lambda: bot.stub.calls_to("views.open"))
    view = opened[0].args["view"]
    assert view["callback_id"] == "checkin_modal"
    posts = await eventually(
        lambda: (
            len(bot.stub.calls_to("chat.postMessage")) == 2
            and bot.stub.calls_to("chat.postMessage")
        )
    )
    for call in posts:
        texts = [b["text"]["text"] for b in call.args["blocks"] if b["type"] == "section"]
        assert "Acme Corp" in texts[0] and "call" in texts[0]
        buttons = [
            e["text"]["text"]
            for b in call.args["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        ]
        assert [b[0] for b in buttons[:5]] == ["1", "2", "3", "4", "5"]
        assert buttons[5:] == ["Add details", "Skip"]
        context = str(call.args["blocks"])
        assert "<!channel>" not in context
    await eventually(lambda: len(bot.stub.responses) >= 2)
    summary = last_response_text(bot)
    assert "Logged a call with Acme Corp" in summary
    assert await count(bot, t.interactions) == 1
    assert await count(bot, t.checkins) == 3


async def test_checkin_skips_bots_and_unknown_users(bot: Bot) -> None:
    await add_account(bot, "Acme")
    await bot.slack.command("/checkin", f"Acme <@{ROBOT}|robot> <@UNOBODY|x>", user_id=ALICE)
    await eventually(lambda: len(bot.stub.responses) >= 2)
    blocks = str(bot.stub.responses[-1].body.get("blocks"))
    assert "is a bot" in blocks
    assert "not a member" in blocks
    assert await count(bot, t.checkins) == 1  # only Alice's own


async def test_unknown_account_suggests_and_does_not_create(bot: Bot) -> None:
    await add_account(bot, "Acme Corp")
    reply = await bot.slack.command("/checkin", "Acme Crop call", user_id=ALICE)
    assert reply.text in ("", "{}")  # acked at once; the suggestions follow
    body = await answer(bot, reply)
    assert body["response_type"] == "ephemeral"
    buttons = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert any(b["text"]["text"] == "Use Acme Corp" for b in buttons)
    assert any("Create" in b["text"]["text"] for b in buttons)
    assert await count(bot, t.accounts) == 1
    assert await count(bot, t.interactions) == 0
    # picking the suggestion continues the check-in with that account
    pick = next(b for b in buttons if b["text"]["text"] == "Use Acme Corp")
    message = {"ts": "1.0", "channel": "C1", "blocks": body["blocks"]}
    await bot.slack.click(
        user_id=ALICE, action_id=pick["action_id"], value=pick["value"], message=message
    )
    first = bot.slack.last_response_url
    await eventually(lambda: bot.stub.calls_to("views.open"))
    assert await count(bot, t.interactions) == 1
    # the first click is done once its summary arrives (after the ack, so wait for it)
    await eventually(
        lambda: any("Logged a call with Acme Corp" in str(r) for r in responses_to(bot, first))
    )
    # a second click on the same suggestion changes nothing
    await bot.slack.click(
        user_id=ALICE, action_id=pick["action_id"], value=pick["value"], message=message
    )
    second = bot.slack.last_response_url
    await eventually(lambda: any("already logged" in str(r) for r in responses_to(bot, second)))
    assert await count(bot, t.interactions) == 1


async def test_unknown_account_create_button(bot: Bot) -> None:
    reply = await bot.slack.command("/checkin", "Initech demo", user_id=ALICE)
    body = await answer(bot, reply)
    create = next(
        e
        for b in body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if "Create" in e["text"]["text"]
    )
    await bot.slack.click(
        user_id=ALICE,
        action_id=create["action_id"],
        value=create["value"],
        message={"ts": "1.0", "channel": "C1", "blocks": body["blocks"]},
    )
    await eventually(lambda: bot.stub.calls_to("views.open"))
    assert await count(bot, t.accounts) == 1
    assert await count(bot, t.interactions) == 1


async def test_checkin_errors_are_ephemeral_and_specific(bot: Bot) -> None:
    await add_account(bot, "Acme")
    reply = await bot.slack.command("/checkin", "Acme cal", user_id=ALICE)
    body = await answer(bot, reply)
    assert "did you mean `call`" in body["text"] and body["response_type"] == "ephemeral"
    reply = await bot.slack.command("/checkin", f"<@{BOB}|bob>", user_id=ALICE)
    assert "account" in (await answer(bot, reply))["text"].lower()
    assert await count(bot, t.interactions) == 0


async def test_checkin_without_text_opens_the_form(bot: Bot) -> None:
    reply = await bot.slack.command("/checkin", "", user_id=ALICE)
    assert reply.status == 200
    opened = await eventually(lambda: bot.stub.calls_to("views.open"))
    assert opened[0].args["view"]["callback_id"] == "interaction_modal"


async def test_long_note_and_emoji_are_stored_whole(bot: Bot) -> None:
    await add_account(bot, "Acme")
    note = ("שלום 🎉 مرحبا " * 400)[:5000]
    await bot.slack.command("/checkin", f"Acme email {note}", user_id=ALICE)
    await eventually(lambda: bot.stub.calls_to("views.open"))
    async with bot.svc.engine.connect() as conn:
        stored = (await conn.execute(select(t.interactions.c.note))).scalar_one()
    assert stored == " ".join(note.split())
