"""Events API listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from handlers.common import services, team_of
from handlers.guard import guarded


async def handle_app_home_opened(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Publish the user's App Home when they open its Home tab."""
    if event.get("tab", "home") != "home":
        return
    svc = services(context)
    await svc.publish_home(team_id=team_of(body), user_id=event["user"], now=svc.now())


def register(app: AsyncApp) -> None:
    """Register event listeners."""
    app.event("app_home_opened")(guarded(handle_app_home_opened))
