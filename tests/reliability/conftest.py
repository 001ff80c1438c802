"""Shared helpers of the reliability suite: re-sent requests, short Slack timeouts, DB checks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.app import build_app
from bot.localslack.requests import Reply, SlackRequests, sign
from bot.localslack.server import SlackStub
from bot.runner import HttpRunner
from bot.services import Services
from bot.slack import build_client, new_session
from storage import db
from storage.db import sqlite_path
from tests.conftest import ALICE, SECRET, TOKEN, Bot, FakeClock, eventually, make_settings

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
CLIENT_TIMEOUT = 0.5  # seconds: how long the bot waits for the stub in the fault tests


def form_payload(payload: dict[str, Any]) -> bytes:
    """An interactive payload as Slack POSTs it (``payload=<json>``)."""
    return urlencode({"payload": json.dumps(payload)}).encode()


async def deliver(
    to: SlackRequests, body: bytes, content_type: str, *, retry_num: int | None = None
) -> Reply:
    """POST `body` signed as Slack signs it now; a retry carries Slack's retry headers."""
    headers = {"Content-Type": content_type, **sign(body, SECRET, int(time.time()))}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return await to.raw(body, headers)


async def deliver_with_retries(
    to: SlackRequests, body: bytes, content_type: str, *, together: bool
) -> list[Reply]:
    """The first delivery and Slack's three retries, one after another or all at once."""
    if together:
        return list(
            await asyncio.gather(
                *(deliver(to, body, content_type, retry_num=n) for n in (None, 1, 2, 3))
            )
        )
    return [await deliver(to, body, content_type, retry_num=n) for n in (None, 1, 2, 3)]


LISTENER_TASKS = ("_run_listener", "run_ack_function_asynchronously")


def listeners_at_work() -> list[asyncio.Task[Any]]:
    """Listener tasks still working after their ack (Bolt's runner or the ack-signal one)."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and any(name in getattr(task.get_coro(), "__qualname__", "") for name in LISTENER_TASKS)
    ]


async def settled(bot: Bot) -> None:
    """Wait until every request so far, and one more round trip, has finished its work."""
    before = len(bot.stub.responses)
    reply = await bot.slack.command("/trust", "accounts", user_id=ALICE)
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.responses) > before)
    await eventually(lambda: not listeners_at_work())


@pytest.fixture
async def impatient(bot: Bot) -> AsyncIterator[Bot]:
    """The bot with a Web API client that gives up after 0.5 s and retries after 50 ms."""
    session = new_session(CLIENT_TIMEOUT)
    original = bot.svc.client
    bot.svc.client = build_client(
        TOKEN,
        bot.stub.api_url,
        session=session,
        retry_interval=FixedValueRetryIntervalCalculator(0.05),
    )
    yield bot
    await asyncio.sleep(0.1)  # work after the last ack may still be using the session
    bot.svc.client = original
    await session.close()


def database_problems(db_url: str) -> list[str]:
    """Everything half-written or corrupt in the database file (empty when all is well)."""
    path = sqlite_path(db_url)
    assert path is not None
    return file_problems(path)


def file_problems(path: Path) -> list[str]:
    """`database_problems` for a SQLite file."""
    con = sqlite3.connect(path)
    try:
        problems = [r[0] for r in con.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in con.execute("PRAGMA foreign_key_check")]
        checks = {
            "interaction without check-ins": (
                "SELECT id FROM interactions WHERE id NOT IN (SELECT interaction_id FROM checkins)"
            ),
            "answer without its fields": (
                "SELECT id FROM checkins WHERE status = 'answered' AND (rating IS NULL"
                " OR rating NOT BETWEEN 1 AND 5 OR answered_at IS NULL OR closed_at IS NULL)"
            ),
            "pending check-in with an answer": (
                "SELECT id FROM checkins WHERE status = 'pending' AND (rating IS NOT NULL"
                " OR answered_at IS NOT NULL OR closed_at IS NOT NULL)"
            ),
            "closed check-in without its time": (
                "SELECT id FROM checkins WHERE status IN ('skipped', 'expired') AND closed_at IS NULL"
            ),
            "promise without its history": (
                "SELECT id FROM promises WHERE id NOT IN"
                " (SELECT promise_id FROM promise_events WHERE kind = 'created')"
            ),
        }
        for name, query in checks.items():
            problems += [f"{name}: {r[0]}" for r in con.execute(query)]
        return problems
    finally:
        con.close()


@asynccontextmanager
async def running_bot(stub: SlackStub, db_url: str) -> AsyncIterator[Bot]:
    """A bot "process" of its own on `db_url`, stopped as `trustloop run` stops."""
    engine = db.create_engine(db_url)
    await db.upgrade(engine)
    clock = FakeClock()
    async with new_session(5) as session:
        svc = Services(
            engine=engine,
            client=build_client(TOKEN, stub.api_url, session=session),
            settings=make_settings(stub.api_url, db_url),
            clock=clock,
        )
        runner = HttpRunner(build_app(svc, signing_secret=SECRET), engine, host="127.0.0.1", port=0)
        await runner.start()
        url = f"http://127.0.0.1:{runner.runner.addresses[0][1]}"
        requests = SlackRequests(bot_url=f"{url}/slack/events", signing_secret=SECRET, stub=stub)
        try:
            yield Bot(svc=svc, clock=clock, slack=requests, stub=stub, url=url, db_url=db_url)
        finally:
            await runner.close()  # work in flight finishes, delivery ids are written
            await engine.dispose()
