"""`trustloop run` in Socket Mode, end to end, against the local Slack stand-in.

The real `bot.lifecycle.serve` runs as a task: it migrates the database, opens the Web API
client on SLACK_API_URL (the stub), asks `apps.connections.open` for a WebSocket URL with
the app-level token and connects. The stub then drives it exactly as Slack would, with
Socket Mode envelopes, and checks the acks and the Web API calls that follow.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from bot.lifecycle import serve
from bot.localslack.requests import event_callback_body, slash_command_form
from bot.localslack.server import SlackStub
from bot.runner import StartupError
from storage import db
from storage import tables as t
from tests.conftest import ALICE, BOB, TEAM, TOKEN, eventually

APP_TOKEN = "xapp-test"


def socket_settings(api_url: str, db_url: str) -> Settings:
    """Socket Mode settings built explicitly: no environment, no .env, no signing secret."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=None,
        slack_app_token=APP_TOKEN,  # type: ignore[arg-type]
        slack_api_url=api_url,
        database_url=db_url,
    )


def slash_payload(stub: SlackStub, text: str, *, user_id: str = ALICE) -> dict[str, Any]:
    """Slack's slash-command payload as carried in a Socket Mode envelope (string fields)."""
    form = slash_command_form(
        "/trust",
        text,
        team_id=TEAM,
        user_id=user_id,
        user_name=user_id.lower(),
        channel_id="C1",
        channel_name="general",
        trigger_id=stub.issue_trigger_id(),
        response_url=stub.new_response_url(),
        api_app_id=stub.app_id,
    )
    return dict(parse_qsl(form.decode(), keep_blank_values=True))


async def account_names(db_url: str) -> list[str]:
    engine = db.create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(t.accounts.c.name))
            return [str(r[0]) for r in rows]
    finally:
        await engine.dispose()


async def test_run_in_socket_mode_end_to_end(stub: SlackStub, db_url: str) -> None:
    settings = socket_settings(stub.api_url, db_url)
    settings.require_run()
    assert settings.socket_mode
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        await asyncio.wait_for(stub.socket_connected.wait(), 10)
        opened = stub.calls_to("apps.connections.open")
        assert len(opened) == 1, "the WebSocket URL must come from SLACK_API_URL"
        assert stub.socket_connections == 1

        # /trust help: the help is the ack's payload, shown only to the caller
        ack = await stub.socket_send("slash_commands", slash_payload(stub, "help"))
        help_msg = ack["payload"]
        assert help_msg["response_type"] == "ephemeral"
        assert help_msg["blocks"]
        assert "/checkin" in str(help_msg["blocks"])

        # /trust account add Acme: empty ack, then the answer on the response_url
        payload = slash_payload(stub, "account add Acme")
        token = payload["response_url"].rsplit("/", 1)[1]
        ack = await stub.socket_send("slash_commands", payload)
        assert not ack.get("payload")
        answer = await eventually(lambda: [r for r in stub.responses if r.url_token == token])
        assert "Created account *Acme*" in answer[0].body["text"]
        assert answer[0].body.get("response_type") == "ephemeral"
        assert await account_names(db_url) == ["Acme"]

        # app_home_opened over the Events API: the Home tab is published
        body = event_callback_body(
            team_id=TEAM,
            event={"type": "app_home_opened", "user": BOB, "channel": "DBOB", "tab": "home"},
            api_app_id=stub.app_id,
            bot_user_id=stub.bot_user_id,
        )
        ack = await stub.socket_send("events_api", body)
        assert "payload" not in ack
        await eventually(lambda: stub.calls_to("views.publish"))
        assert stub.calls_to("views.publish")[0].args["user_id"] == BOB
        assert stub.home_views[BOB]["type"] == "home"

        # every Web API call went to the stub with the right token type
        assert all(c.response["ok"] for c in stub.calls), [
            (c.method, c.response) for c in stub.calls if not c.response["ok"]
        ]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert task.exception() is None
    await eventually(lambda: stub.socket_connections == 0)
    assert not stub.socket_connected.is_set()
    assert len(stub.calls_to("apps.connections.open")) == 1  # closing does not reconnect


async def test_a_refused_app_token_stops_run_at_once(stub: SlackStub, db_url: str) -> None:
    """A wrong app token is named in one error, instead of the SDK retrying forever."""
    settings = socket_settings(stub.api_url, db_url).model_copy(
        update={"slack_app_token": SecretStr("xapp-wrong")}
    )
    with pytest.raises(StartupError, match="SLACK_APP_TOKEN"):
        await asyncio.wait_for(serve(settings, asyncio.Event()), 10)


async def test_stop_while_connecting_ends_run(stub: SlackStub, db_url: str) -> None:
    """SIGTERM during a slow connection attempt still ends `run`."""
    stub.server_error_next("apps.connections.open", status=503, times=50)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(socket_settings(stub.api_url, db_url), stop))
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, 10)
