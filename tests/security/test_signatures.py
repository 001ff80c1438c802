"""Only requests Slack signed, recently, reach the bot: everything else gets 401 and does nothing.

Every kind of request the HTTP endpoint serves (slash command, button click, modal
submission, event, url_verification) is sent with a missing, wrong, stale, future,
replayed or malformed signature. Each answer is 401, no table changes, and the bot calls
nothing at Slack (no Web API call, no response_url post). The same bodies, signed properly,
do take effect, so the refusals are not an accident of the bodies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import ids
from bot.app import build_app
from bot.localslack.requests import (
    event_callback_body,
    sign,
    slash_command_form,
    view_submission_payload,
)
from tests.conftest import ALICE, BOB, SECRET, TEAM, Bot, eventually
from tests.security.conftest import button, command, dm, sent, snapshot, until

FORM = "application/x-www-form-urlencoded"
FIVE_MINUTES = 5 * 60


@dataclass(frozen=True)
class Request:
    """One request body as Slack would POST it, and how to see that it took effect."""

    body: bytes
    content_type: str
    took_effect: Callable[[Bot, Any], Awaitable[bool]]


async def seeded(bot: Bot) -> tuple[dict[str, Any], dict[str, Any]]:
    """An account and an interaction with Bob: Bob's check-in DM and Alice's check-in modal."""
    await command(bot.slack, bot.stub, "/trust", "account add Acme", ALICE)
    await bot.slack.command("/checkin", f"Acme call <@{BOB}|bob>", user_id=ALICE)
    await eventually(
        lambda: (
            bot.stub.messages(BOB)
            and bot.stub.calls_to("views.open")
            and "Logged a call" in str(bot.stub.responses)
        )
    )
    modal = bot.stub.calls_to("views.open")[-1].response["view"]
    return dm(bot, BOB), modal


def payload_form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


async def build(kind: str, bot: Bot) -> Request:
    """A live request of `kind` against the seeded workspace."""
    message, modal = await seeded(bot)
    stub = bot.stub
    if kind == "slash_command":
        body = slash_command_form(
            "/trust",
            "account add Evil",
            team_id=TEAM,
            user_id=ALICE,
            trigger_id=stub.issue_trigger_id(),
            response_url=stub.new_response_url(),
        )

        async def created(bot: Bot, before: Any) -> bool:
            return "Evil" in str((await snapshot(bot.svc.engine))["accounts"])

        return Request(body, FORM, created)
    if kind == "block_actions":
        rate = button(message["blocks"], "5")
        payload = {
            "type": "block_actions",
            "user": {"id": BOB, "username": "bob", "name": "bob", "team_id": TEAM},
            "api_app_id": "A0001",
            "token": "verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": message["channel"],
                "is_ephemeral": False,
            },
            "trigger_id": stub.issue_trigger_id(),
            "team": {"id": TEAM, "domain": "example"},
            "channel": {"id": message["channel"], "name": "dm"},
            "message": message,
            "response_url": stub.new_response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": rate["action_id"],
                    "block_id": rate["block_id"],
                    "value": rate["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return Request(payload_form(payload), FORM, answered)
    if kind == "view_submission":
        values = {
            ids.RATING_BLOCK: {
                ids.RATING_INPUT: {"type": "static_select", "selected_option": {"value": "5"}}
            }
        }
        payload = view_submission_payload(
            team_id=TEAM,
            user_id=ALICE,
            view=modal,
            values=values,
            trigger_id=stub.issue_trigger_id(),
        )
        return Request(payload_form(payload), FORM, answered)
    if kind == "event":
        envelope = event_callback_body(
            team_id=TEAM, event={"type": "app_home_opened", "user": ALICE, "tab": "home"}
        )

        async def published(bot: Bot, before: Any) -> bool:
            return bool(bot.stub.calls_to("views.publish"))

        return Request(json.dumps(envelope).encode(), "application/json", published)
    assert kind == "url_verification"
    challenge = {"token": "verification-token", "challenge": "c-3f9a", "type": "url_verification"}

    async def echoed(bot: Bot, reply: Any) -> bool:
        return "c-3f9a" in reply.text

    return Request(json.dumps(challenge).encode(), "application/json", echoed)


async def answered(bot: Bot, before: Any) -> bool:
    return "answered" in str((await snapshot(bot.svc.engine))["checkins"])


def hostile_headers(body: bytes) -> dict[str, dict[str, str]]:
    """Signature headers an attacker (or a stale replay) could send with `body`."""
    now = int(time.time())
    genuine_old = sign(body, SECRET, now - 2 * FIVE_MINUTES)
    return {
        "missing": {},
        "timestamp only": {"X-Slack-Request-Timestamp": str(now)},
        "signature only": {"X-Slack-Signature": sign(body, SECRET, now)["X-Slack-Signature"]},
        "wrong secret": sign(body, "not-the-signing-secret", now),
        "stale (5 min 1 s)": sign(body, SECRET, now - FIVE_MINUTES - 1),
        "stale (an hour)": sign(body, SECRET, now - 3600),
        "from the future": sign(body, SECRET, now + FIVE_MINUTES + 60),
        # A captured request replayed later: the old signature with a fresh timestamp.
        "replayed": {**genuine_old, "X-Slack-Request-Timestamp": str(now)},
        "other body's signature": sign(body + b"&x=1", SECRET, now),
        "timestamp not a number": {**sign(body, SECRET, now), "X-Slack-Request-Timestamp": "abc"},
        "timestamp a fraction": {**sign(body, SECRET, now), "X-Slack-Request-Timestamp": "1.5"},
        "timestamp negative": {**sign(body, SECRET, now), "X-Slack-Request-Timestamp": "-1"},
        "timestamp huge": {**sign(body, SECRET, now), "X-Slack-Request-Timestamp": "9" * 40},
        "signature not hex": {**sign(body, SECRET, now), "X-Slack-Signature": "v0=zz"},
        "signature not ascii": {**sign(body, SECRET, now), "X-Slack-Signature": "v0=é" * 3},
        "signature v1": {
            **sign(body, SECRET, now),
            "X-Slack-Signature": "v1=" + sign(body, SECRET, now)["X-Slack-Signature"][3:],
        },
    }


KINDS = ["slash_command", "block_actions", "view_submission", "event", "url_verification"]


@pytest.mark.parametrize("kind", KINDS)
async def test_unsigned_stale_and_replayed_requests_get_401_and_do_nothing(
    bot: Bot, kind: str
) -> None:
    request = await build(kind, bot)
    rows = await snapshot(bot.svc.engine)
    posted = sent(bot.stub)
    for case, headers in hostile_headers(request.body).items():
        reply = await bot.slack.raw(request.body, {**headers, "Content-Type": request.content_type})
        assert reply.status == 401, (kind, case, reply.status, reply.text)
        assert "c-3f9a" not in reply.text and "went wrong" not in reply.text, (kind, case)
    # A valid request after them: once it has taken effect, anything the hostile ones had
    # set off would have had its turn too.
    control = await command(bot.slack, bot.stub, "/trust", "help", ALICE)
    assert "/checkin" in str(control)
    assert await snapshot(bot.svc.engine) == rows, kind
    assert sent(bot.stub) == posted, kind
    # The very same body, properly signed, does take effect.
    reply = await bot.slack.raw(
        request.body,
        {**sign(request.body, SECRET, int(time.time())), "Content-Type": request.content_type},
    )
    assert reply.status == 200, (kind, reply.text)
    await until(lambda: request.took_effect(bot, reply))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"payload=%7Bnot", FORM),
        (b"payload=null", FORM),
        (b"payload=%5B1%5D", FORM),
        (b"\xff\xfe\xfd", FORM),
    ],
)
async def test_bodies_bolt_cannot_read_are_refused_not_a_500(
    bot: Bot, body: bytes, content_type: str
) -> None:
    rows = await snapshot(bot.svc.engine)
    unsigned = await bot.slack.raw(body, {"Content-Type": content_type})
    assert unsigned.status == 401
    forged = {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    assert (await bot.slack.raw(body, {**forged, "Content-Type": content_type})).status in {
        400,
        401,
    }
    # Even Slack's own signature cannot make an unreadable body a request.
    signed = sign(body, SECRET, int(time.time()))
    reply = await bot.slack.raw(body, {**signed, "Content-Type": content_type})
    assert reply.status == 400 and "Traceback" not in reply.text
    assert await snapshot(bot.svc.engine) == rows
    assert sent(bot.stub) == []


async def test_a_failure_in_an_unverified_request_never_calls_its_response_url(bot: Bot) -> None:
    """Bolt raises on a header it cannot read; the error handler must not trust the body.

    Dispatched straight into the app (as another adapter would), past the HTTP gate.
    """
    url = bot.stub.new_response_url()
    payload = {
        "type": "block_actions",
        "user": {"id": ALICE, "team_id": TEAM},
        "team": {"id": TEAM},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": "C1"},
        "trigger_id": bot.stub.issue_trigger_id(),
        "response_url": url,
        "actions": [{"type": "button", "action_id": ids.OPEN_ACCOUNT, "value": "1"}],
    }
    app = build_app(bot.svc, signing_secret=SECRET)
    response = await app.async_dispatch(
        AsyncBoltRequest(
            body=urlencode({"payload": json.dumps(payload)}),
            headers={
                "content-type": [FORM],
                "x-slack-request-timestamp": ["not-a-number"],
                "x-slack-signature": ["v0=00"],
            },
        )
    )
    assert "went wrong" not in response.body
    await command(bot.slack, bot.stub, "/trust", "help", ALICE)  # let anything pending run
    assert [r for r in bot.stub.responses if r.url_token == url.rsplit("/", 1)[1]] == []
