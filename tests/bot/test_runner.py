"""The HTTP surface: signatures, health check, and failures that never become a 500."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.app import build_app
from bot.localslack.requests import sign, slash_command_form
from bot.localslack.server import SlackStub
from bot.runner import AckSignallingRunner, finish_listeners, use_ack_signal
from bot.services import Services
from bot.slack import build_client
from storage import db
from storage import tables as t
from tests.conftest import ALICE, SECRET, TEAM, TOKEN, Bot, eventually, make_settings


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


# --------------------------------------------------------------------------- the ack signal


def ack_app(stub: SlackStub, *, signal: bool = True) -> AsyncApp:
    """A bare AsyncApp against the stub (auth.test), with or without the ack signal."""
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=stub.api_url),
        request_verification_enabled=False,
        process_before_response=False,
    )
    if signal:
        use_ack_signal(app)
    return app


def command_request(text: str = "hi") -> AsyncBoltRequest:
    body = slash_command_form(
        "/x",
        text,
        team_id=TEAM,
        user_id=ALICE,
        trigger_id="1.2.abc",
        response_url="http://127.0.0.1:9/response/x",
    ).decode()
    return AsyncBoltRequest(
        body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}
    )


async def test_build_app_answers_at_the_ack(stub: SlackStub, db_url: str) -> None:
    engine = db.create_engine(db_url)
    try:
        svc = Services(
            engine=engine,
            client=build_client(TOKEN, stub.api_url),
            settings=make_settings(stub.api_url, db_url),
        )
        app = build_app(svc, signing_secret=SECRET)
        assert isinstance(app.listener_runner, AckSignallingRunner)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("signal", [True, False])
async def test_the_response_leaves_at_the_ack_not_at_a_poll(
    stub: SlackStub, monkeypatch, signal: bool
) -> None:
    """Bolt's runner sleeps 10 ms between looks at ack(); the signalling one never does."""
    polls: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: Any) -> Any:
        if delay > 0:
            polls.append(delay)
        return await real_sleep(delay, *args)

    monkeypatch.setattr("slack_bolt.listener.asyncio_runner.asyncio.sleep", sleep)
    app = ack_app(stub, signal=signal)
    go_on = asyncio.Event()
    finished = asyncio.Event()

    @app.command("/x")
    async def listener(ack: AsyncAck) -> None:
        await ack(text="got it", response_type="ephemeral")
        await go_on.wait()  # work after the ack never holds the response back
        finished.set()

    response = await app.async_dispatch(command_request())
    assert response.status == 200 and json.loads(response.body)["text"] == "got it"
    assert not finished.is_set()
    assert (polls == []) is signal
    go_on.set()
    await asyncio.wait_for(finished.wait(), 5)


async def test_events_are_acknowledged_before_the_listener_runs(stub: SlackStub) -> None:
    app = ack_app(stub)
    go_on = asyncio.Event()

    @app.event("app_home_opened")
    async def listener(event: dict[str, Any]) -> None:
        await go_on.wait()

    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM,
            "event": {"type": "app_home_opened", "user": ALICE, "tab": "home"},
        }
    )
    request = AsyncBoltRequest(body=body, headers={"content-type": ["application/json"]})
    response = await app.async_dispatch(request)
    assert response.status == 200
    runner = app.listener_runner
    assert isinstance(runner, AckSignallingRunner) and len(runner.tasks) == 1
    go_on.set()
    await finish_listeners(app)
    assert not runner.tasks


async def test_a_listener_failing_before_its_ack_gets_the_error_handlers_answer(
    stub: SlackStub,
) -> None:
    app = ack_app(stub)

    @app.command("/x")
    async def listener(ack: AsyncAck) -> None:
        raise RuntimeError("broken before the ack")

    @app.error
    async def on_error(error: Exception, response: BoltResponse | None) -> None:
        assert response is not None
        response.status, response.body = 200, "sorry"

    response = await app.async_dispatch(command_request())
    assert (response.status, response.body) == (200, "sorry")


async def test_a_listener_that_never_acks_is_not_answered(stub: SlackStub) -> None:
    """Like Bolt's runner: after the ack timeout nothing matched, so Bolt answers 404."""
    app = ack_app(stub)
    never = asyncio.Event()

    @app.command("/x")
    async def listener(ack: AsyncAck) -> None:
        await never.wait()

    for registered in app._async_listeners:
        registered.ack_timeout = 0.05  # Bolt's default is Slack's 3 s
    response = await app.async_dispatch(command_request())
    assert response.status == 404
    await finish_listeners(app, grace=0.01)  # cancels the stuck listener


async def test_closing_lets_work_after_the_ack_finish(stub: SlackStub) -> None:
    app = ack_app(stub)
    done: list[str] = []

    @app.command("/x")
    async def listener(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        await asyncio.sleep(0.05)
        done.append(command["text"])

    for text in ("one", "two", "three"):
        assert (await app.async_dispatch(command_request(text))).status == 200
    assert done == []
    await finish_listeners(app)
    assert sorted(done) == ["one", "three", "two"]
