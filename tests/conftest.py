"""Shared fixtures: the Slack Web API stub, a real database, the real bot over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_app
from bot.config import Settings
from bot.localslack.requests import SlackRequests
from bot.localslack.server import SlackStub
from bot.runner import build_web_app
from bot.services import Services
from bot.slack import build_client
from storage import db

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
TEAM = "T0001"
ALICE, BOB, CAROL, ROBOT = "UALICE", "UBOB", "UCAROL", "UROBOT"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, daytime in Helsinki


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_settings(api_url: str, db_url: str, **extra: Any) -> Settings:
    """Settings built explicitly: tests never read the environment or real tokens."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_app_token=None,
        slack_api_url=api_url,
        database_url=db_url,
        **extra,
    )


async def eventually(check: Callable[[], Any], limit: float = 5.0) -> Any:
    """Wait until `check()` is truthy (work continues after Slack gets its ack)."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    """The local Slack Web API; fails the test on any Block Kit limit violation."""
    slack = SlackStub(bot_token=TOKEN, team_id=TEAM, bot_user_id="UBOT")
    slack.add_user(ALICE, name="alice", tz="Europe/Helsinki")
    slack.add_user(BOB, name="bob", tz="America/New_York")
    slack.add_user(CAROL, name="carol", tz="Europe/Helsinki")
    slack.add_user(ROBOT, name="robot", is_bot=True)
    slack.add_channel("C1", name="general", members=[ALICE, BOB, CAROL])
    await slack.start()
    yield slack
    await slack.stop()
    assert slack.violations == [], slack.violations


@dataclass
class Bot:
    """The real bot, served over HTTP, with handles the tests need."""

    svc: Services
    clock: FakeClock
    slack: SlackRequests
    stub: SlackStub
    url: str
    db_url: str


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'trustloop.db'}"


@pytest.fixture
async def bot(stub: SlackStub, db_url: str) -> AsyncIterator[Bot]:
    """The real Bolt app over real HTTP on loopback, against the stub and a real database."""
    settings = make_settings(stub.api_url, db_url)
    engine = db.create_engine(db_url)
    await db.upgrade(engine)
    clock = FakeClock()
    session = aiohttp.ClientSession()  # one pooled session, as `trustloop run` has
    svc = Services(
        engine=engine,
        client=build_client(TOKEN, stub.api_url, timeout=5, session=session),
        settings=settings,
        clock=clock,
    )
    app = build_app(svc, signing_secret=SECRET)
    runner = web.AppRunner(build_web_app(app, engine))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    requests = SlackRequests(bot_url=f"{url}/slack/events", signing_secret=SECRET, stub=stub)
    yield Bot(svc=svc, clock=clock, slack=requests, stub=stub, url=url, db_url=db_url)
    await asyncio.sleep(0.05)  # let work after the last ack finish before closing
    await runner.cleanup()
    await session.close()
    await engine.dispose()
