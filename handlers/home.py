"""App Home buttons: going away and coming back."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot import blocks, ids
from handlers.common import services, team_of
from handlers.guard import guarded


async def handle_away_open(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    """Open the away form (pick the last day away)."""
    await ack()
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    now = svc.now()
    tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
    await svc.client.views_open(
        trigger_id=body["trigger_id"], view=blocks.build_away_modal(now.astimezone(tz).date())
    )


async def handle_away_back(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    """End an away period early from the App Home."""
    await ack()
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    now = svc.now()
    await svc.end_away(team_id=team_id, user_id=user_id, now=now)
    await svc.publish_home(team_id=team_id, user_id=user_id, now=now)


def register(app: AsyncApp) -> None:
    """Register the App Home buttons."""
    app.action(ids.AWAY_OPEN)(guarded(handle_away_open))
    app.action(ids.AWAY_BACK)(guarded(handle_away_back))
