"""Runners: HTTP mode (POST /slack/events, GET /healthz) and Socket Mode."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.listener.async_listener import AsyncListener
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.redelivery import close_redeliveries

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024
# Slack's signature headers as Slack sends them (an HMAC-SHA256 hex digest, Unix seconds).
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
REFUSED = {"error": "invalid request"}


def signed_shape(headers: Mapping[str, str]) -> bool:
    """True when both signature headers are present and well formed (not yet verified)."""
    signature = headers.get("X-Slack-Signature", "")
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    return bool(SIGNATURE.fullmatch(signature) and TIMESTAMP.fullmatch(timestamp))


def build_web_app(app: AsyncApp, engine: AsyncEngine) -> web.Application:
    """The aiohttp application serving Slack requests and the health check."""

    async def slack_events(request: web.Request) -> web.Response:
        # Bolt parses the body before it checks the signature, and raises on a header it
        # cannot read, answering 200 or 500 (and may even call the body's response_url).
        # Refuse what Slack never sends here; Bolt then verifies the signature and its age.
        if not signed_shape(request.headers):
            return web.json_response(REFUSED, status=401)
        try:
            bolt_request = await to_bolt_request(request)
        except Exception:  # not UTF-8, JSON that does not parse, or not a JSON object
            return web.json_response(REFUSED, status=400)
        bolt_response = await app.async_dispatch(bolt_request)
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
        self.app = app
        self.runner = web.AppRunner(build_web_app(app, engine), access_log=None)
        self.host, self.port = host, port

    async def start(self) -> None:
        """Start listening."""
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        log.info("listening", extra={"host": self.host, "port": self.port, "path": EVENTS_PATH})

    async def close(self) -> None:
        """Stop listening, finish in-flight requests and the work they started after the ack."""
        await self.runner.cleanup()
        await finish_listeners(self.app)
        await close_redeliveries(self.app)


class StartupError(Exception):
    """The runner cannot start; the message names what to fix."""


class SocketModeRunner:
    """Receives Slack requests over a Socket Mode WebSocket."""

    def __init__(self, app: AsyncApp, app_token: str):
        self.app = app
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
        """Disconnect, then finish the work requests started after their ack."""
        await self.handler.close_async()
        await finish_listeners(self.app)
        await close_redeliveries(self.app)


# --------------------------------------------------------------------------- the ack signal


class _SignallingAck(AsyncAck):
    """Bolt's ack() that also tells the runner, at once, what to answer Slack."""

    def __init__(self, acked: asyncio.Future[BoltResponse | None]):
        super().__init__()
        self._acked = acked

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = await super().__call__(*args, **kwargs)
        if not self._acked.done():
            self._acked.set_result(response)
            # Step aside once: the waiting runner sends the HTTP response before this
            # listener's next step runs.
            await asyncio.sleep(0)
        return response


class AckSignallingRunner(AsyncioListenerRunner):
    """Bolt's asyncio listener runner, answering Slack the moment a listener calls ack().

    Bolt's own runner (process_before_response=False) starts the listener as a task and
    polls for its ack every 10 ms, so no ack leaves before ~10 ms and every request in flight
    wakes the event loop 100 times a second. This one hands the listener an ack that signals
    and waits for that signal (or the listener's end, or Bolt's ack timeout) instead. The
    listener is started and runs exactly as under Bolt's runner, before and after the ack:
    nothing more happens before the response. Listener tasks are kept (asyncio holds tasks
    only weakly) so that closing the bot can let them finish.
    """

    def __init__(self, base: AsyncioListenerRunner):
        super().__init__(
            logger=base.logger,
            process_before_response=base.process_before_response,
            listener_error_handler=base.listener_error_handler,
            listener_start_handler=base.listener_start_handler,
            listener_completion_handler=base.listener_completion_handler,
            lazy_listener_runner=base.lazy_listener_runner,
        )
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(
        self,
        request: AsyncBoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: AsyncListener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        """Start the listener; return its ack's response as soon as it has one."""
        if (
            self.process_before_response
            or request.lazy_only
            or listener.lazy_functions
            or request.context.ack.response is not None
        ):
            return await super().run(request, response, listener_name, listener, starting_time)
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[BoltResponse | None] = loop.create_future()
        ack = _SignallingAck(acked)
        request.context["ack"] = ack  # the listener's `ack` argument is built from this

        def give_up(_: object = None) -> None:
            if not acked.done():
                acked.set_result(None)

        if listener.auto_acknowledgement:  # Events API: acknowledged before any work
            await ack()
        task = asyncio.ensure_future(self._run_listener(ack, request, response, listener))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(give_up)
        started = starting_time if starting_time is not None else time.time()
        timer = loop.call_later(max(0.0, listener.ack_timeout - (time.time() - started)), give_up)
        try:
            answer = await acked
        finally:
            timer.cancel()
        if response is not None:
            return response
        # No ack: the listener failed before acking (the error handler's response) or
        # never acked in time (None, as with Bolt's runner).
        answer = answer or ack.response
        if answer is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
        return answer

    async def _run_listener(
        self,
        ack: AsyncAck,
        request: AsyncBoltRequest,
        response: BoltResponse | None,
        listener: AsyncListener,
    ) -> None:
        """The listener and Bolt's start, error and completion handlers, as Bolt runs them."""
        try:
            await self.listener_start_handler.handle(request=request, response=response)
            await listener.run_ack_function(request=request, response=response)  # type: ignore[arg-type]
        except Exception as e:
            if response is None:
                response = BoltResponse(status=500)
            response.status = 500
            if ack.response is not None:  # already acknowledged: nothing more to answer
                response = None
            await self.listener_error_handler.handle(error=e, request=request, response=response)
            if ack.response is None:
                ack.response = response
        finally:
            await self.listener_completion_handler.handle(request=request, response=response)

    async def finish(self, grace: float) -> None:
        """Wait (bounded) for listeners still working after their ack; cancel the rest."""
        pending = set(self.tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning("listeners cancelled at shutdown", extra={"count": len(late)})
        await asyncio.gather(*pending, return_exceptions=True)


def use_ack_signal(app: AsyncApp) -> AckSignallingRunner:
    """Give `app` the AckSignallingRunner (call before `app.error`, which sets its handler)."""
    runner = AckSignallingRunner(app.listener_runner)
    # AsyncApp takes no runner argument; `listener_runner` is read from this attribute.
    app._async_listener_runner = runner
    return runner


async def finish_listeners(app: AsyncApp, grace: float = 10.0) -> None:
    """Let work that listeners do after their ack finish before the bot closes."""
    runner = app.listener_runner
    if isinstance(runner, AckSignallingRunner):
        await runner.finish(grace)
