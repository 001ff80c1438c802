"""Shared helpers for the security suite: database snapshots, what the bot sent, clicks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.localslack.requests import Reply, SlackRequests, sign
from bot.localslack.server import SlackStub
from storage import tables as t
from tests.conftest import SECRET, Bot, eventually

Snapshot = dict[str, list[tuple[Any, ...]]]
FORM = "application/x-www-form-urlencoded"


async def snapshot(engine: AsyncEngine, team_id: str | None = None) -> Snapshot:
    """Every row of every table (only one team's rows when `team_id` is given), in id order."""
    tables: Snapshot = {}
    async with engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            query = select(table)
            if team_id is not None and "team_id" in table.c:
                query = query.where(table.c.team_id == team_id)
            order = [c for c in table.primary_key.columns]
            rows = (await conn.execute(query.order_by(*order))).all()
            tables[table.name] = [tuple(r) for r in rows]
    return tables


def sent(stub: SlackStub) -> list[str]:
    """Everything the bot sent to Slack so far, one JSON string per call or response_url post."""
    return [json.dumps(c.args, ensure_ascii=False) for c in stub.calls] + [
        json.dumps(r.body, ensure_ascii=False) for r in stub.responses
    ]


def requests_for(bot: Bot, team_id: str) -> SlackRequests:
    """Signed requests that come from workspace `team_id`."""
    return SlackRequests(
        bot_url=bot.slack.bot_url, signing_secret=SECRET, stub=bot.stub, team_id=team_id
    )


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button in `blocks` (actions rows and section accessories) with its block_id."""
    found: list[dict[str, Any]] = []
    for block in blocks:
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found.extend(
            {**e, "block_id": block.get("block_id", "")} for e in elements if e["type"] == "button"
        )
    return found


def button(blocks: list[dict[str, Any]], starts: str) -> dict[str, Any]:
    """The first button whose text starts with `starts`."""
    for b in buttons(blocks):
        if b["text"]["text"].startswith(starts):
            return b
    raise AssertionError(f"no button starting {starts!r} in {blocks}")


def dm(bot: Bot, user: str) -> dict[str, Any]:
    """The latest DM the bot sent `user`, as a clickable message."""
    channel = bot.stub.dm_channel_for(user)
    messages = bot.stub.messages(channel)
    assert messages, f"no DM for {user}"
    return {**messages[-1], "channel": channel}


async def command(
    requests: SlackRequests, stub: SlackStub, name: str, text: str, user: str, channel: str = "C1"
) -> dict[str, Any]:
    """Run a slash command; its answer is the ack body or what followed on its response_url."""
    before = len(stub.responses)
    reply = await requests.command(name, text, user_id=user, channel_id=channel)
    assert reply.status == 200, reply.text
    body = reply.json()
    if body.get("text") or body.get("blocks"):
        return dict(body)
    await eventually(lambda: len(stub.responses) > before)
    return stub.responses[-1].body


async def until(check: Callable[[], Awaitable[Any]], limit: float = 5.0) -> Any:
    """Wait until the awaitable `check()` is truthy (work continues after the ack)."""
    deadline = asyncio.get_running_loop().time() + limit
    while not (value := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return value


async def post_payload(requests: SlackRequests, payload: dict[str, Any]) -> Reply:
    """POST any interactive payload (block_suggestion, hand-made block_actions…), signed."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {**sign(body, SECRET, int(time.time())), "Content-Type": FORM}
    return await requests.raw(body, headers)


def user_obj(team_id: str, user_id: str) -> dict[str, Any]:
    """The `user` object of interactive payloads."""
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}
