"""The HTTP surface: signatures, health check, and failures that never become a 500."""

from __future__ import annotations

import time

import aiohttp
from sqlalchemy import func, select

from bot.localslack.requests import sign, slash_command_form
from storage import tables as t
from tests.conftest import ALICE, SECRET, Bot, eventually


async def accounts(bot: Bot) -> int:
    async with bot.svc.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.accounts))).scalar_one())


def form(bot: Bot, text: str = "account add Acme") -> bytes:
    return slash_command_form(
        "/trust",
        text,
        team_id="T0001",
        user_id=ALICE,
        trigger_id=bot.stub.issue_trigger_id(),
        response_url=bot.stub.new_response_url(),
    )


async def test_missing_wrong_and_stale_signatures_get_401(bot: Bot) -> None:
    body = form(bot)
    now = int(time.time())
    cases = [
        {},
        sign(body, "wrong-secret", now),
        sign(body, SECRET, now - 6 * 60),
        {**sign(body, SECRET, now), "X-Slack-Request-Timestamp": str(now + 1)},  # replayed
    ]
    for headers in cases:
        reply = await bot.slack.raw(
            body, {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        )
        assert reply.status == 401, headers
    assert await accounts(bot) == 0
    assert not bot.stub.responses
    ok = await bot.slack.raw(
        body, {**sign(body, SECRET, now), "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert ok.status == 200
    await eventually(lambda: bot.stub.responses)
    assert await accounts(bot) == 1


async def test_healthz(bot: Bot) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["ok"] is True


async def test_a_failing_listener_answers_in_plain_words_not_500(bot: Bot, monkeypatch) -> None:
    """A failure before the ack: the ack itself carries the plain-words answer."""

    def broken(_text: str) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr("handlers.commands.parse_trust", broken)
    reply = await bot.slack.command("/trust", "help", user_id=ALICE)
    assert reply.status == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert "went wrong" in body["text"] and "exploded" not in body["text"]
    assert "Traceback" not in reply.text


async def test_a_database_failure_after_the_ack_is_told_in_plain_words(
    bot: Bot, monkeypatch
) -> None:
    async def broken(**_kw):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(bot.svc, "accounts", broken)
    reply = await bot.slack.command("/checkin", "Acme call", user_id=ALICE)
    assert reply.status == 200 and reply.text in ("", "{}")  # acked before the database
    await eventually(lambda: bot.stub.responses)
    body = bot.stub.responses[-1].body
    assert body["response_type"] == "ephemeral"
    assert "went wrong" in str(body) and "exploded" not in str(body)


async def test_failure_after_ack_is_told_to_the_user(bot: Bot, monkeypatch) -> None:
    async def broken(**_kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.svc, "add_account", broken)
    reply = await bot.slack.command("/trust", "account add Acme", user_id=ALICE)
    assert reply.status == 200
    await eventually(lambda: bot.stub.responses)
    assert "went wrong" in str(bot.stub.responses[-1].body)


async def test_event_retries_are_handled_once(bot: Bot) -> None:
    event = {"type": "app_home_opened", "user": ALICE, "tab": "home"}
    for retry in (None, 1, 2):
        reply = await bot.slack.event(event, retry_num=retry)
        assert reply.status == 200
    await eventually(lambda: bot.stub.calls_to("views.publish"))
    assert len(bot.stub.calls_to("views.publish")) >= 1
