"""Builders of Slack-signed requests (slash commands, interactivity, events) and a client.

The payload builders reproduce what Slack POSTs to an app's Request URL; `SlackRequests`
signs them with the app's signing secret and delivers them over real HTTP, taking trigger
ids and response_urls from a running `SlackStub` so the bot's follow-up calls line up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.localslack.server import SlackStub

DEFAULT_VERIFICATION_TOKEN = "verification-token"


@dataclass(frozen=True)
class Reply:
    """The bot's HTTP answer to a delivered request."""

    status: int
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        """Parse the body as JSON; an empty body gives ``{}``."""
        return json.loads(self.text) if self.text.strip() else {}


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """Return Slack's X-Slack-Request-Timestamp and X-Slack-Signature headers for ``body``."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def slash_command_form(
    command: str,
    text: str,
    *,
    team_id: str,
    user_id: str,
    user_name: str = "user",
    channel_id: str = "C1",
    channel_name: str = "general",
    trigger_id: str,
    response_url: str,
    api_app_id: str = "A0001",
    team_domain: str = "example",
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> bytes:
    """Encode a slash-command invocation as Slack's form body."""
    fields = [
        ("token", token),
        ("team_id", team_id),
        ("team_domain", team_domain),
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
    ]
    return urlencode(fields).encode()


def _user_obj(team_id: str, user_id: str, user_name: str) -> dict[str, Any]:
    """The ``user`` object of interactive payloads."""
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _find_element(blocks: Any, block_id: str, action_id: str) -> dict[str, Any] | None:
    """Find the interactive element ``action_id`` in ``blocks`` (preferring ``block_id``)."""
    if not isinstance(blocks, list):
        return None
    fallback: dict[str, Any] | None = None
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                if block.get("block_id") == block_id:
                    return element
                fallback = fallback or element
    return fallback


def block_actions_payload(
    *,
    team_id: str,
    user_id: str,
    action_id: str,
    block_id: str,
    value: str | None,
    trigger_id: str,
    response_url: str | None,
    container: dict[str, Any],
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    channel_id: str | None = None,
    action_type: str = "button",
    selected: dict[str, Any] | None = None,
    user_name: str = "user",
    api_app_id: str = "A0001",
    team_domain: str = "example",
    token: str = DEFAULT_VERIFICATION_TOKEN,
    action_ts: str | None = None,
) -> dict[str, Any]:
    """Build Slack's ``block_actions`` payload for one action."""
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": action_ts or f"{time.time():.6f}",
    }
    source_blocks = (message or {}).get("blocks") or (view or {}).get("blocks")
    element = _find_element(source_blocks, block_id, action_id)
    if element is not None and isinstance(element.get("text"), dict):
        action["text"] = element["text"]
    if selected:
        action.update(selected)
    else:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user_obj(team_id, user_id, user_name),
        "api_app_id": api_app_id,
        "token": token,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": channel_id}
    if message is not None:
        payload["message"] = {"type": "message", **message}
        payload["state"] = {"values": {}}
    if view is not None:
        payload["view"] = view
        payload["state"] = view.get("state") or {"values": {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def view_submission_payload(
    *,
    team_id: str,
    user_id: str,
    view: dict[str, Any],
    values: dict[str, Any],
    trigger_id: str,
    user_name: str = "user",
    api_app_id: str = "A0001",
    team_domain: str = "example",
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """Build Slack's ``view_submission`` payload for ``view`` with ``state.values``."""
    submitted = {**view, "state": {"values": values}}
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user_obj(team_id, user_id, user_name),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_suggestion_payload(
    *,
    team_id: str,
    user_id: str,
    action_id: str,
    block_id: str,
    value: str,
    view: dict[str, Any],
    user_name: str = "user",
    api_app_id: str = "A0001",
    team_domain: str = "example",
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """Build Slack's ``block_suggestion`` payload: options wanted for an external select."""
    return {
        "type": "block_suggestion",
        "user": _user_obj(team_id, user_id, user_name),
        "container": {"type": "view", "view_id": view.get("id")},
        "api_app_id": api_app_id,
        "token": token,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
    }


def event_callback_body(
    *,
    team_id: str,
    event: dict[str, Any],
    api_app_id: str = "A0001",
    event_id: str | None = None,
    bot_user_id: str = "UBOT",
    event_time: int | None = None,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """Build Slack's Events API ``event_callback`` envelope around ``event``."""
    return {
        "token": token,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(8)}",
    }


class SlackRequests:
    """Posts Slack-signed requests to the bot under test over real HTTP."""

    def __init__(
        self,
        *,
        bot_url: str,
        signing_secret: str,
        stub: SlackStub,
        team_id: str = "T0001",
        clock: Callable[[], float] = time.time,
        api_app_id: str = "A0001",
        team_domain: str = "example",
    ) -> None:
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.stub = stub
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.team_domain = team_domain
        self._clock = clock
        self.last_trigger_id: str | None = None
        self.last_response_url: str | None = None

    async def raw(self, body: bytes, headers: dict[str, str]) -> Reply:
        """POST ``body`` with exactly ``headers`` (no signing) and return the reply."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.bot_url, data=body, headers=headers) as resp,
        ):
            text = await resp.text()
            return Reply(status=resp.status, text=text, headers=dict(resp.headers))

    async def _signed(
        self, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> Reply:
        """Sign ``body`` with the current time and POST it."""
        headers = {"Content-Type": content_type, **sign(body, self.signing_secret, self._now())}
        headers.update(extra or {})
        return await self.raw(body, headers)

    def _now(self) -> int:
        """Current Unix time from the injected clock."""
        return int(self._clock())

    async def _payload(self, payload: dict[str, Any]) -> Reply:
        """Send an interactive payload as ``payload=<json>`` form body."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._signed(body, "application/x-www-form-urlencoded")

    async def command(
        self, command: str, text: str, *, user_id: str, channel_id: str = "C1", **kw: Any
    ) -> Reply:
        """Invoke a slash command as ``user_id`` in ``channel_id``."""
        self.last_trigger_id = self.stub.issue_trigger_id()
        self.last_response_url = self.stub.new_response_url()
        kw.setdefault("api_app_id", self.api_app_id)
        kw.setdefault("team_domain", self.team_domain)
        body = slash_command_form(
            command,
            text,
            team_id=self.team_id,
            user_id=user_id,
            channel_id=channel_id,
            trigger_id=self.last_trigger_id,
            response_url=self.last_response_url,
            **kw,
        )
        return await self._signed(body, "application/x-www-form-urlencoded")

    async def click(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str = "b",
        message: dict[str, Any] | None = None,
        channel_id: str | None = None,
        view: dict[str, Any] | None = None,
        selected: dict[str, Any] | None = None,
        action_type: str = "button",
        ephemeral: bool = False,
    ) -> Reply:
        """Click/select an element in a message (needs channel_id) or a modal/home view.

        ``ephemeral`` marks the message as one only the clicker sees (Slack says so in the
        payload's container).
        """
        self.last_trigger_id = self.stub.issue_trigger_id()
        response_url: str | None = None
        container: dict[str, Any]
        if message is not None:
            channel_id = channel_id or message.get("channel")
            if not channel_id:
                raise ValueError("click on a message needs channel_id")
            container = {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            }
            response_url = self.last_response_url = self.stub.new_response_url()
        elif view is not None:
            container = {"type": "view", "view_id": view["id"]}
        else:
            raise ValueError("click needs a message or a view")
        payload = block_actions_payload(
            team_id=self.team_id,
            user_id=user_id,
            action_id=action_id,
            block_id=block_id,
            value=value,
            trigger_id=self.last_trigger_id,
            response_url=response_url,
            container=container,
            message=message,
            view=view,
            channel_id=channel_id,
            action_type=action_type,
            selected=selected,
            api_app_id=self.api_app_id,
            team_domain=self.team_domain,
            action_ts=f"{self._clock():.6f}",
        )
        return await self._payload(payload)

    async def submit(self, *, user_id: str, view: dict[str, Any], values: dict[str, Any]) -> Reply:
        """Submit ``view`` (as returned by views.open) with ``state.values``."""
        self.last_trigger_id = self.stub.issue_trigger_id()
        payload = view_submission_payload(
            team_id=self.team_id,
            user_id=user_id,
            view=view,
            values=values,
            trigger_id=self.last_trigger_id,
            api_app_id=self.api_app_id,
            team_domain=self.team_domain,
        )
        return await self._payload(payload)

    async def options(
        self, *, user_id: str, view: dict[str, Any], block_id: str, action_id: str, value: str = ""
    ) -> Reply:
        """Ask for the options of an external select in ``view`` (what the user typed: value)."""
        payload = block_suggestion_payload(
            team_id=self.team_id,
            user_id=user_id,
            action_id=action_id,
            block_id=block_id,
            value=value,
            view=view,
            api_app_id=self.api_app_id,
            team_domain=self.team_domain,
        )
        return await self._payload(payload)

    async def event(self, event: dict[str, Any], *, retry_num: int | None = None) -> Reply:
        """Deliver an Events API ``event_callback``; ``retry_num`` adds Slack's retry headers."""
        envelope = event_callback_body(
            team_id=self.team_id,
            event=event,
            api_app_id=self.api_app_id,
            bot_user_id=self.stub.bot_user_id,
            event_time=self._now(),
        )
        extra: dict[str, str] = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self._signed(json.dumps(envelope).encode(), "application/json", extra)
