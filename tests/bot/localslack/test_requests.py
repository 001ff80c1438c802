"""Tests of Slack request signing, payload builders and the SlackRequests client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.signature import Clock, SignatureVerifier

from bot.localslack.requests import (
    SlackRequests,
    block_actions_payload,
    event_callback_body,
    sign,
    slash_command_form,
    view_submission_payload,
)
from bot.localslack.server import SlackStub

DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TS = 1531420618
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SECRET = "s3cret"
NOW = 1_700_000_000.0


def test_sign_matches_slack_docs_vector() -> None:
    """sign reproduces the example from Slack's request-verification docs."""
    headers = sign(DOC_BODY.encode(), DOC_SECRET, DOC_TS)
    assert headers == {"X-Slack-Request-Timestamp": str(DOC_TS), "X-Slack-Signature": DOC_SIG}


def test_sign_accepted_by_sdk_verifier() -> None:
    """slack_sdk's SignatureVerifier accepts what sign produces."""
    body = slash_command_form(
        "/trust", "hello", team_id="T1", user_id="U1", trigger_id="1.2.3", response_url="http://r"
    )
    verifier = SignatureVerifier(SECRET, clock=_FixedClock())
    assert verifier.is_valid_request(body, sign(body, SECRET, int(NOW)))
    assert not verifier.is_valid_request(body, sign(body, "other", int(NOW)))


class _FixedClock(Clock):
    """slack_sdk Clock returning NOW."""

    def now(self) -> float:
        return NOW


def test_slash_command_form_fields() -> None:
    """The slash-command form carries every field Slack sends."""
    body = slash_command_form(
        "/trust", "a b", team_id="T1", user_id="U1", trigger_id="1.2.3", response_url="http://r"
    )
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    assert set(fields) == {
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    }
    assert fields["text"] == "a b"
    assert fields["is_enterprise_install"] == "false"


def test_block_actions_payload_from_message() -> None:
    """A message click carries container, channel, message and the action."""
    message = {
        "ts": "1700000000.000100",
        "text": "t",
        "blocks": [
            {
                "type": "actions",
                "block_id": "b",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "go",
                        "text": {"type": "plain_text", "text": "Go"},
                    }
                ],
            }
        ],
    }
    payload = block_actions_payload(
        team_id="T1",
        user_id="U1",
        action_id="go",
        block_id="b",
        value="42",
        trigger_id="1.2.3",
        response_url="http://r",
        container={"type": "message", "message_ts": message["ts"], "channel_id": "C1"},
        message=message,
        channel_id="C1",
    )
    assert payload["type"] == "block_actions"
    assert payload["channel"]["id"] == "C1"
    assert payload["message"]["blocks"] == message["blocks"]
    assert payload["actions"][0]["value"] == "42"
    assert payload["actions"][0]["text"]["text"] == "Go"
    assert payload["user"]["id"] == "U1"


def test_view_submission_and_event_shapes() -> None:
    """view_submission puts values into view.state; event_callback wraps the event."""
    view = {"id": "V1", "type": "modal", "callback_id": "cb", "state": {"values": {}}}
    values = {"b": {"a": {"type": "plain_text_input", "value": "x"}}}
    payload = view_submission_payload(
        team_id="T1", user_id="U1", view=view, values=values, trigger_id="1.2.3"
    )
    assert payload["view"]["state"]["values"] == values
    assert payload["view"]["id"] == "V1"
    body = event_callback_body(team_id="T1", event={"type": "app_home_opened"}, event_id="Ev1")
    assert body["type"] == "event_callback"
    assert body["event_id"] == "Ev1"
    assert body["authorizations"][0]["team_id"] == "T1"


@dataclass
class EchoBot:
    """A tiny bot endpoint that verifies signatures and records what it received."""

    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        """Verify and record one request."""
        body = await request.read()
        verifier = SignatureVerifier(SECRET, clock=_FixedClock())
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        self.received.append(
            {"body": body, "headers": dict(request.headers), "ctype": request.content_type}
        )
        return web.json_response({"response_action": "clear"})


@pytest.fixture
async def env() -> AsyncIterator[tuple[SlackRequests, EchoBot, SlackStub]]:
    """A running stub, an echo bot and a SlackRequests client wired to both."""
    stub = SlackStub()
    await stub.start()
    bot = EchoBot()
    app = web.Application()
    app.router.add_post("/slack/events", bot.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    requests = SlackRequests(
        bot_url=f"http://127.0.0.1:{port}/slack/events",
        signing_secret=SECRET,
        stub=stub,
        clock=lambda: NOW,
    )
    yield requests, bot, stub
    await runner.cleanup()
    await stub.stop()


async def test_command_is_signed_form(env: tuple[SlackRequests, EchoBot, SlackStub]) -> None:
    """command() sends a signed form with a stub-issued trigger id and response_url."""
    requests, bot, stub = env
    reply = await requests.command("/trust", "status", user_id="U1")
    assert reply.status == 200
    assert reply.json() == {"response_action": "clear"}
    got = bot.received[0]
    assert got["ctype"] == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(got["body"].decode()).items()}
    assert fields["trigger_id"] == requests.last_trigger_id
    assert fields["response_url"] == requests.last_response_url
    assert requests.last_response_url is not None
    assert requests.last_response_url.startswith(stub.base_url)


async def test_click_on_message(env: tuple[SlackRequests, EchoBot, SlackStub]) -> None:
    """click() on a message sends payload=<json> with a message container."""
    requests, bot, _ = env
    message = {"ts": "1700000000.000100", "text": "t", "blocks": []}
    await requests.click(user_id="U1", action_id="go", value="v", message=message, channel_id="C1")
    payload = json.loads(parse_qs(bot.received[0]["body"].decode())["payload"][0])
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["response_url"] == requests.last_response_url


async def test_click_in_view_and_submit(env: tuple[SlackRequests, EchoBot, SlackStub]) -> None:
    """click() in a view uses a view container; submit() sends view_submission."""
    requests, bot, _ = env
    view = {"id": "V9", "type": "home", "blocks": [], "state": {"values": {}}}
    await requests.click(
        user_id="U1",
        action_id="pick",
        view=view,
        action_type="static_select",
        selected={"selected_option": {"text": {"type": "plain_text", "text": "A"}, "value": "a"}},
    )
    await requests.submit(user_id="U1", view={**view, "type": "modal"}, values={"b": {}})
    click = json.loads(parse_qs(bot.received[0]["body"].decode())["payload"][0])
    assert click["container"] == {"type": "view", "view_id": "V9"}
    assert click["actions"][0]["selected_option"]["value"] == "a"
    assert "response_url" not in click
    submit = json.loads(parse_qs(bot.received[1]["body"].decode())["payload"][0])
    assert submit["type"] == "view_submission"
    assert submit["view"]["state"]["values"] == {"b": {}}


async def test_event_with_retry_headers(env: tuple[SlackRequests, EchoBot, SlackStub]) -> None:
    """event() sends JSON and adds retry headers when asked."""
    requests, bot, _ = env
    await requests.event({"type": "app_home_opened", "user": "U1"}, retry_num=1)
    got = bot.received[0]
    assert got["ctype"] == "application/json"
    assert json.loads(got["body"])["event"]["user"] == "U1"
    assert got["headers"]["X-Slack-Retry-Num"] == "1"
    assert got["headers"]["X-Slack-Retry-Reason"] == "http_timeout"


async def test_raw_with_bad_signature(env: tuple[SlackRequests, EchoBot, SlackStub]) -> None:
    """raw() sends exactly what it is given, so bad signatures reach the bot."""
    requests, bot, _ = env
    body = b"x=1"
    headers = {**sign(body, "wrong", int(NOW)), "Content-Type": "application/x-www-form-urlencoded"}
    reply = await requests.raw(body, headers)
    assert reply.status == 401
    assert reply.text == "invalid signature"
    assert bot.received == []
