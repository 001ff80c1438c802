"""Listener guard: a failure becomes a plain-words answer to the user, never a 500 or silence.

Bolt's asynchronous runner loses the ack when a listener raises within its 10 ms ack poll
(Slack then sees a 404), so failures are caught here, inside the listener, instead.

Work after the ack is deliberately not queued behind a fixed number of slots: most of it
waits on Slack (rate limits, retries), and an answer must reach the database at once rather
than wait for other requests' Slack calls (measured: 20,000 answers took 30 minutes to be
stored with 8 slots).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.failures import SORRY, apologise

log = logging.getLogger(__name__)

__all__ = ["SORRY", "guarded"]

Listener = Callable[..., Awaitable[None]]


def guarded(func: Listener) -> Listener:
    """Wrap a listener so any exception is logged and told to the user who caused it."""
    wanted = list(inspect.signature(func).parameters)

    async def listener(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
        payload: dict[str, Any],
    ) -> None:
        available = {"ack": ack, "body": body, "respond": respond, "context": context}
        available["payload"] = payload
        for name in ("command", "action", "view", "event"):
            if name in wanted:
                available[name] = payload
        try:
            await func(**{name: available[name] for name in wanted})
        except Exception as exc:
            log.error(
                "listener failed",
                exc_info=(type(exc), exc, exc.__traceback__),
                extra={"listener": func.__name__},
            )
            await apologise(ack, body, respond, context, exc)  # what failed, where they look

    listener.__name__ = func.__name__
    listener.__qualname__ = func.__qualname__
    listener.__doc__ = func.__doc__
    return listener
