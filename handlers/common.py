"""Small helpers shared by the listener modules (payload parsing, user feedback)."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks import build_error
from bot.services import Services


def services(context: AsyncBoltContext) -> Services:
    """The Services object the app's middleware put into the context."""
    svc = context["svc"]
    assert isinstance(svc, Services)
    return svc


def team_of(body: dict[str, Any]) -> str:
    """The Slack team id of any request body."""
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    if body.get("team_id"):
        return str(body["team_id"])
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    raise ValueError("request without a team id")


def int_value(raw: Any) -> int | None:
    """A positive id from a button value, or None if it was tampered with."""
    try:
        value = int(str(raw).split(":", 1)[0])
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A view's private_metadata as a dict ({} when missing or not ours)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def tell(respond: AsyncRespond | None, body: dict[str, Any], message: str) -> bool:
    """Say something to the user who clicked, privately; False if there is no way to."""
    if respond is None or not body.get("response_url"):
        return False
    await respond(
        text=message, blocks=build_error(message), response_type="ephemeral", replace_original=False
    )
    return True
