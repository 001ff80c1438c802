"""Scenario tests: the /checkin form, its searchable account select, and its submission."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from sqlalchemy import select

from bot.localslack.requests import sign
from storage import tables as t
from tests.conftest import ALICE, BOB, ROBOT, SECRET, Bot, eventually


async def open_form(bot: Bot) -> dict:
    for name in ("Acme Corp", "Acme Labs", "Globex"):
        await bot.slack.command("/trust", f"account add {name}", user_id=ALICE)
    await eventually(lambda: len(bot.stub.responses) == 3)
    await bot.slack.command("/checkin", "", user_id=ALICE)
    opened = await eventually(lambda: bot.stub.calls_to("views.open"))
    return opened[-1].response["view"]


async def suggest(bot: Bot, view: dict, query: str, team: str = "T0001") -> list[dict]:
    payload = {
        "type": "block_suggestion",
        "user": {"id": ALICE, "team_id": team},
        "team": {"id": team, "domain": "example"},
        "api_app_id": "A0001",
        "token": "verification-token",
        "action_id": "account_select",
        "block_id": "account",
        "value": query,
        "container": {"type": "view", "view_id": view["id"]},
        "view": view,
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        **sign(body, SECRET, int(time.time())),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    reply = await bot.slack.raw(body, headers)
    assert reply.status == 200
    return reply.json()["options"]


async def test_account_select_searches(bot: Bot) -> None:
    view = await open_form(bot)
    names = [o["text"]["text"] for o in await suggest(bot, view, "acme")]
    assert names[:2] == ["Acme Corp", "Acme Labs"] and "Globex" not in names
    assert [o["text"]["text"] for o in await suggest(bot, view, "glbex")] == ["Globex"]
    assert len(await suggest(bot, view, "")) == 3
    assert await suggest(bot, view, "acme", team="T0002") == []  # another workspace sees nothing


async def test_form_submission_logs_and_turns_into_the_check_in(bot: Bot) -> None:
    view = await open_form(bot)
    options = await suggest(bot, view, "globex")
    values = {
        "account": {"account_select": {"type": "external_select", "selected_option": options[0]}},
        "kind": {"kind_input": {"type": "static_select", "selected_option": {"value": "qbr"}}},
        "participants": {
            "participants_input": {"type": "multi_users_select", "selected_users": [BOB, ROBOT]}
        },
        "note": {"note_input": {"type": "plain_text_input", "value": "QBR <b>went</b> fine"}},
    }
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    body = reply.json()
    assert body["response_action"] == "update"
    assert body["view"]["callback_id"] == "checkin_modal"
    await eventually(lambda: bot.stub.calls_to("chat.postMessage"))
    async with bot.svc.engine.connect() as conn:
        interaction = (await conn.execute(select(t.interactions))).one()
        users = set((await conn.execute(select(t.checkins.c.user_id))).scalars())
    assert (interaction.kind, interaction.note) == ("qbr", "QBR <b>went</b> fine")
    assert users == {ALICE, BOB}  # the bot got no check-in


async def test_form_with_a_tampered_account_is_refused(bot: Bot) -> None:
    view = await open_form(bot)
    values = {
        "account": {
            "account_select": {"type": "external_select", "selected_option": {"value": "999"}}
        },
        "kind": {"kind_input": {"type": "static_select", "selected_option": {"value": "hacking"}}},
    }
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    body = reply.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"account", "kind"}
    async with bot.svc.engine.connect() as conn:
        assert (await conn.execute(select(t.interactions))).first() is None
