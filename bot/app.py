"""The app factory: builds the Bolt AsyncApp and registers every listener."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

import handlers
from bot.redelivery import install_redeliveries
from bot.runner import use_ack_signal
from bot.services import Services
from handlers.guard import SORRY

log = logging.getLogger(__name__)


def build_app(svc: Services, *, signing_secret: str | None, socket_mode: bool = False) -> AsyncApp:
    """Build the AsyncApp over `svc` with all listeners registered."""
    app = AsyncApp(
        client=svc.client,
        signing_secret=signing_secret or "",
        request_verification_enabled=not socket_mode,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("trustloop.bolt"),
    )
    # Answer Slack the moment a listener acks, not at Bolt's next 10 ms poll.
    use_ack_signal(app)

    async def inject_services(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        context["svc"] = svc
        await next()

    app.middleware(inject_services)
    # A request Slack delivers again (X-Slack-Retry-Num) is answered, not handled twice.
    install_redeliveries(app, svc.engine, svc.now)
    app.error(handle_error)
    handlers.register_all(app)
    return app


async def handle_error(
    error: Exception,
    body: dict[str, Any],
    response: BoltResponse | None,
    respond: Any,
    context: AsyncBoltContext,
) -> None:
    """Log a listener failure and tell the user in plain words; never a stack trace or 500."""
    log.error(
        "listener failed",
        exc_info=(type(error), error, error.__traceback__),
        extra={"type": body.get("type") or ("command" if body.get("command") else "unknown")},
    )
    if response is not None and response.status >= 500:
        response.status = 200
        if body.get("command"):
            response.body = json.dumps({"response_type": "ephemeral", "text": SORRY})
            response.headers["content-type"] = ["application/json;charset=utf-8"]
            return
        response.body = ""
    # Only a request that got past the signature check (our middleware ran) has a
    # response_url from Slack; an unverified body's URL could point anywhere.
    if body.get("response_url") and context.get("svc") is not None:
        try:
            await respond(text=SORRY, response_type="ephemeral", replace_original=False)
        except Exception:  # the user may be unreachable; the log has it
            log.warning("could not tell the user about a failure")
