"""Telling the user who acted that it failed: in plain words, where they are looking.

The guard (`handlers.guard`) calls `apologise` for any listener failure. What is said
depends on the failure: a database that is busy, full, or that may not be written says so
(the user then knows whether to try again or to tell whoever runs the bot); anything else
gets the general apology. Every message says that nothing was saved, which the transactions
make true. Where it is said depends on the surface:

- a slash command that has not been answered yet: in its answer (ephemeral);
- a modal submission: as an error in the modal, which stays open with what was typed
  (closing it would look like "saved");
- anything with a response_url: an ephemeral message there;
- a click on the App Home (no response_url): a small modal, or a DM when the click's
  trigger has expired (a busy database is given up on after 5 s; triggers last 3).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackClientError
from sqlalchemy.exc import DBAPIError

from bot.blocks import build_notice

log = logging.getLogger(__name__)

SORRY = (
    "Sorry, something went wrong on our side and that didn't go through. "
    "Nothing was half-saved; please try again in a moment."
)
BUSY = (
    "The bot's database is busy right now, so that didn't go through and nothing was saved. "
    "Please try again in a minute."
)
FULL = (
    "The bot's database is out of space, so that didn't go through and nothing was saved. "
    "Please tell whoever runs trustloop; it works again as soon as there is room."
)
READ_ONLY = (
    "The bot can't write to its database right now, so that didn't go through and nothing "
    "was saved. Please tell whoever runs trustloop."
)
UNREACHABLE = (
    "The bot can't reach its database right now, so that didn't go through and nothing was "
    "saved. Please try again in a few minutes."
)
# SQLite's primary result codes (the low byte of an extended code).
_SQLITE = {5: BUSY, 6: BUSY, 13: FULL, 8: READ_ONLY, 10: READ_ONLY, 14: READ_ONLY, 23: READ_ONLY}


def sorry_for(exc: BaseException) -> str:
    """The plain-words reason a request failed, for the user who made it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if isinstance(code, int) and code & 0xFF in _SQLITE:
                return _SQLITE[code & 0xFF]
        if isinstance(current, DBAPIError):
            if current.orig is not None and current.orig is not current:
                current = current.orig
                continue
            if current.connection_invalidated:
                return UNREACHABLE
        current = current.__cause__ or current.__context__
    return SORRY


def modal_error(view: dict[str, Any], text: str) -> dict[str, Any]:
    """An ack that keeps a modal open and shows `text` (on its first input), or replaces it."""
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return {"response_action": "errors", "errors": {block["block_id"]: text}}
    return {"response_action": "update", "view": build_notice("Not saved", text)}


async def apologise(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    context: Any,
    exc: BaseException,
) -> None:
    """Tell the user who acted that it failed and why, where they are looking."""
    text = sorry_for(exc)
    try:
        if ack.response is None:
            if body.get("command"):
                await ack(response_type="ephemeral", text=text)
            elif body.get("type") == "view_submission":
                await ack(**modal_error(body.get("view") or {}, text))
            else:
                await ack()
                await _tell_elsewhere(body, respond, context, text)
            return
        await _tell_elsewhere(body, respond, context, text)
    except Exception:
        log.warning("could not tell the user about a failure", exc_info=True)


async def _tell_elsewhere(
    body: dict[str, Any], respond: AsyncRespond, context: Any, text: str
) -> None:
    if body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    client = context.get("client") if hasattr(context, "get") else None
    user = (body.get("user") or {}).get("id")
    if body.get("type") != "block_actions" or client is None or not user:
        return  # events and option lists: nobody is waiting for an answer
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=build_notice("Not saved", text))
    except (SlackClientError, KeyError):
        # A user id as channel: Slack posts in the app's DM with them (no conversations.open).
        await client.chat_postMessage(channel=user, text=text)
