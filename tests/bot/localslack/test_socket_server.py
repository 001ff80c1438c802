"""SlackStub's Socket Mode, driven by slack_sdk's own aiohttp SocketModeClient."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack.server import SlackStub
from tests.conftest import TOKEN, eventually

APP_TOKEN = "xapp-test"


class Recorder:
    """Collects what the client sees: raw messages and Socket Mode requests."""

    def __init__(self, *, ack: bool = True, reply: dict[str, Any] | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[SocketModeRequest] = []
        self.ack = ack
        self.reply = reply

    async def on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        self.messages.append(message)

    async def on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        if self.ack:
            payload = self.reply if req.accepts_response_payload else None
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
            )


def web_client(stub: SlackStub, token: str = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(base_url=stub.api_url, token=token, timeout=5)


@pytest.fixture
async def socket_client(stub: SlackStub) -> AsyncIterator[tuple[SocketModeClient, Recorder]]:
    """A connected slack_sdk SocketModeClient whose Web API calls go to the stub."""
    recorder = Recorder(reply={"response_type": "ephemeral", "text": "pong"})
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web_client(stub), ping_interval=1)
    client.message_listeners.append(recorder.on_message)
    client.socket_mode_request_listeners.append(recorder.on_request)
    await client.connect()
    await asyncio.wait_for(stub.socket_connected.wait(), 5)
    yield client, recorder
    await client.close()


async def test_connections_open_needs_the_app_level_token(stub: SlackStub) -> None:
    ok = await web_client(stub).apps_connections_open(app_token=APP_TOKEN)
    assert ok["ok"] is True
    assert ok["url"].startswith(f"ws://127.0.0.1:{stub.base_url.rsplit(':', 1)[1]}/socket/")

    cases = [("", "not_authed"), ("xapp-wrong", "invalid_auth"), (TOKEN, "not_allowed_token_type")]
    for token, error in cases:
        with pytest.raises(SlackApiError) as exc:
            await AsyncWebClient(base_url=stub.api_url).apps_connections_open(app_token=token)
        assert exc.value.response["error"] == error, token
    # and the app-level token is no good for bot methods
    with pytest.raises(SlackApiError) as exc:
        await web_client(stub, APP_TOKEN).chat_postMessage(channel="C1", text="hi")
    assert exc.value.response["error"] == "not_allowed_token_type"
    assert [c.response["ok"] for c in stub.calls_to("apps.connections.open", all=True)] == [
        True,
        False,
        False,
        False,
    ]


async def test_custom_app_token() -> None:
    async with SlackStub(app_token="xapp-1-A1-other") as custom:
        client = AsyncWebClient(base_url=custom.api_url)
        assert (await client.apps_connections_open(app_token="xapp-1-A1-other"))["ok"]
        with pytest.raises(SlackApiError):
            await client.apps_connections_open(app_token="xapp-test")


async def test_client_connects_through_api_url_and_gets_hello(
    stub: SlackStub, socket_client: tuple[SocketModeClient, Recorder]
) -> None:
    client, recorder = socket_client
    assert len(stub.calls_to("apps.connections.open")) == 1
    assert stub.socket_connections == 1
    hello = await eventually(lambda: recorder.messages)
    assert hello[0]["type"] == "hello"
    assert hello[0]["connection_info"] == {"app_id": stub.app_id}
    assert hello[0]["num_connections"] == 1
    assert await client.is_connected()
    # the SDK's first ping is answered with a pong carrying the same data
    await eventually(lambda: client.last_ping_pong_time is not None)


async def test_slash_command_envelope_and_ack_with_payload(
    stub: SlackStub, socket_client: tuple[SocketModeClient, Recorder]
) -> None:
    _, recorder = socket_client
    payload = {"command": "/trust", "text": "help", "user_id": "UALICE", "team_id": "T0001"}
    ack = await stub.socket_send("slash_commands", payload)
    assert ack["payload"] == {"response_type": "ephemeral", "text": "pong"}
    req = recorder.requests[0]
    assert req.type == "slash_commands"
    assert req.payload == payload
    assert req.accepts_response_payload is True
    assert ack["envelope_id"] == req.envelope_id
    assert stub.socket_acks == [ack]


async def test_events_api_envelope_does_not_accept_a_payload(
    stub: SlackStub, socket_client: tuple[SocketModeClient, Recorder]
) -> None:
    _, recorder = socket_client
    ack = await stub.socket_send("events_api", {"type": "event_callback", "event": {}})
    assert "payload" not in ack
    req = recorder.requests[0]
    assert req.accepts_response_payload is False
    assert req.retry_attempt == 0
    assert req.retry_reason == ""
    # interactive envelopes accept one by default, and the default can be overridden
    ack = await stub.socket_send("interactive", {"type": "block_actions"})
    assert ack["payload"]["text"] == "pong"
    ack = await stub.socket_send(
        "interactive", {"type": "block_actions"}, accepts_response_payload=False
    )
    assert "payload" not in ack


async def test_no_ack_times_out(
    stub: SlackStub, socket_client: tuple[SocketModeClient, Recorder]
) -> None:
    _, recorder = socket_client
    recorder.ack = False
    with pytest.raises(TimeoutError, match="no Socket Mode ack"):
        await stub.socket_send("slash_commands", {"command": "/trust"}, ack_timeout=0.2)
    assert len(recorder.requests) == 1


async def test_send_needs_a_connection_and_a_known_type(stub: SlackStub) -> None:
    assert not stub.socket_connected.is_set()
    with pytest.raises(RuntimeError, match="no Socket Mode connection"):
        await stub.socket_send("slash_commands", {})
    with pytest.raises(ValueError, match="envelope type"):
        await stub.socket_send("hello", {})


async def test_disconnect_makes_the_client_reconnect_through_api_url(
    stub: SlackStub, socket_client: tuple[SocketModeClient, Recorder]
) -> None:
    _, recorder = socket_client
    await stub.socket_disconnect()
    await eventually(lambda: stub.socket_connection_count == 2)
    await eventually(lambda: stub.socket_connections == 1)
    assert len(stub.calls_to("apps.connections.open")) == 2
    ack = await stub.socket_send("slash_commands", {"command": "/trust"})
    assert ack["payload"]["text"] == "pong"
    # the SDK handles "disconnect" itself: message listeners never see it
    assert [m["type"] for m in recorder.messages] == ["hello", "hello", "slash_commands"]


async def test_client_close_clears_connected(
    stub: SlackStub, socket_client: tuple[SocketModeClient, Recorder]
) -> None:
    client, _ = socket_client
    await client.close()
    await eventually(lambda: not stub.socket_connected.is_set())
    assert stub.socket_connections == 0


async def test_raw_websocket_protocol(stub: SlackStub) -> None:
    """Unknown tickets are refused; hello comes first; a stray ack is a violation."""
    async with aiohttp.ClientSession() as session:
        bad = stub.base_url.replace("http://", "ws://") + "/socket/nope"
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await session.ws_connect(bad)
        assert exc.value.status == 401

        url = (await web_client(stub).apps_connections_open(app_token=APP_TOKEN))["url"]
        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello"
            await ws.ping(b"sdk-ping-pong:1")
            send = asyncio.create_task(stub.socket_send("slash_commands", {"command": "/x"}))
            envelope = await ws.receive_json(timeout=5)
            assert set(envelope) == {"envelope_id", "type", "payload", "accepts_response_payload"}
            await ws.send_str(json.dumps({"envelope_id": "not-sent"}))
            await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))
            assert await send == {"envelope_id": envelope["envelope_id"]}
    assert stub.violations == ["socket: ack for unknown envelope not-sent"]
    stub.violations.clear()


async def test_stop_closes_connections_and_fails_pending_sends() -> None:
    stub = SlackStub()
    await stub.start()
    async with aiohttp.ClientSession() as session:
        url = (
            await AsyncWebClient(base_url=stub.api_url).apps_connections_open(app_token=APP_TOKEN)
        )["url"]
        async with session.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            send = asyncio.create_task(stub.socket_send("interactive", {}))
            await ws.receive_json(timeout=5)
            await asyncio.wait_for(stub.stop(), 5)
            with pytest.raises(ConnectionError):
                await send
            closed = await ws.receive(timeout=5)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
