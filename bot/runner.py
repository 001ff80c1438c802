"""Runners: HTTP mode (POST /slack/events, GET /healthz) and Socket Mode."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024


def build_web_app(app: AsyncApp, engine: AsyncEngine) -> web.Application:
    """The aiohttp application serving Slack requests and the health check."""

    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.error("health check failed", extra={"error": type(exc).__name__})
            return web.json_response({"ok": False, "database": "unavailable"}, status=503)
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_post(EVENTS_PATH, slack_events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


class HttpRunner:
    """Serves the Slack endpoints over HTTP on a host and port."""

    def __init__(self, app: AsyncApp, engine: AsyncEngine, *, host: str, port: int):
        self.runner = web.AppRunner(build_web_app(app, engine), access_log=None)
        self.host, self.port = host, port

    async def start(self) -> None:
        """Start listening."""
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        log.info("listening", extra={"host": self.host, "port": self.port, "path": EVENTS_PATH})

    async def close(self) -> None:
        """Stop listening and finish in-flight requests."""
        await self.runner.cleanup()


class StartupError(Exception):
    """The runner cannot start; the message names what to fix."""


class SocketModeRunner:
    """Receives Slack requests over a Socket Mode WebSocket."""

    def __init__(self, app: AsyncApp, app_token: str):
        self.app_token = app_token
        self.handler = AsyncSocketModeHandler(app, app_token)

    async def start(self) -> None:
        """Check the app token once (the SDK would retry a refused one forever), then connect."""
        client = self.handler.client
        try:
            # The SDK connects to a URL it already holds, so this one call is not wasted.
            client.wss_uri = await client.issue_new_wss_url()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "error"
            raise StartupError(f"SLACK_APP_TOKEN was refused by Slack ({error}).") from None
        await self.handler.connect_async()
        log.info("connected in Socket Mode")

    async def close(self) -> None:
        """Disconnect."""
        await self.handler.close_async()
