"""The real Bolt app over HTTP on each database (SQLite and PostgreSQL): /checkin, a rating
click, /promise, a digest subscription, then two bot processes sharing the database run
their due work at the same instant and every reminder and the digest go out once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.services import Services
from bot.slack import build_client
from storage import db, export
from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, TOKEN, Bot, eventually
from tests.handlers.test_health import add_accounts, checkin_answered, promise, subscribe


@pytest.fixture
def db_url(database_url: str) -> str:
    """The `bot` fixture's database: a blank one of the backend under test."""
    return database_url


@asynccontextmanager
async def another_process(bot: Bot) -> AsyncIterator[Services]:
    """A second bot process: its own engine and Slack session, on the same database."""
    engine = db.create_engine(bot.db_url)
    session = aiohttp.ClientSession()
    try:
        yield Services(
            engine=engine,
            client=build_client(TOKEN, bot.stub.api_url, timeout=5, session=session),
            settings=bot.svc.settings,
            clock=bot.clock,
        )
    finally:
        await session.close()
        await engine.dispose()


def digests_in(bot: Bot, channel: str) -> list[dict]:
    return [m for m in bot.stub.messages(channel) if "Trust digest" in str(m.get("blocks"))]


def reminders_to(bot: Bot, user: str) -> list[dict]:
    return [
        m
        for m in bot.stub.messages(bot.stub.dm_channel_for(user))
        if "Reminder" in str(m.get("blocks"))
    ]


async def test_checkin_rating_promise_and_digest_with_two_processes(bot: Bot, tmp_path: Path):
    await subscribe(bot)  # Carol's channel C9, Mondays 09:00 Helsinki: due this week already
    await add_accounts(bot, "Acme tier A")
    await checkin_answered(bot, "Acme", 2, user=BOB)
    async with bot.svc.engine.connect() as conn:
        bob = (await conn.execute(select(t.checkins).where(t.checkins.c.user_id == BOB))).one()
    assert (bob.status, bob.rating, bob.answered_at) == ("answered", 2, bot.clock.now)
    # a check-in Carol leaves unanswered, for a reminder later
    sent = len(bot.stub.calls_to("chat.postMessage"))
    await bot.slack.command("/checkin", f"Acme call <@{CAROL}|carol>", user_id=ALICE)
    await eventually(lambda: len(bot.stub.calls_to("chat.postMessage")) > sent)
    await promise(bot, "Acme send the deck by 2026-11-24")  # due Tuesday

    # Tuesday 09:00 in Helsinki: Carol's check-in reminder, Alice's promise reminder (due
    # today) and this week's digest are due; two processes tick at the same instant.
    now = bot.clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    async with another_process(bot) as other:
        reports = await asyncio.gather(bot.svc.run_due_work(now), other.run_due_work(now))
    assert sum(r.digests for r in reports) == 1
    assert sum(r.promise_reminders for r in reports) == 1
    async with bot.svc.engine.connect() as conn:
        reminded = (
            await conn.execute(select(t.checkins.c.user_id).where(t.checkins.c.reminded_at == now))
        ).scalars()
        reminded_users = sorted(reminded)
        posts = (await conn.execute(select(t.digest_posts))).all()
        (promised,) = (await conn.execute(select(t.promises))).all()
    assert CAROL in reminded_users and BOB not in reminded_users
    assert sum(r.reminded for r in reports) == len(reminded_users)
    assert len(reminders_to(bot, CAROL)) == 1
    assert len(digests_in(bot, "C9")) == 1
    assert [(str(p.week), p.status) for p in posts] == [("2026-11-23", "posted")]
    assert promised.last_reminded_at == now
    assert len([m for m in bot.stub.messages(ALICE) if "did you keep it?" in str(m["blocks"])]) == 1

    # a later tick of either process sends nothing again
    async with another_process(bot) as other:
        again = [await other.run_due_work(now), await bot.svc.run_due_work(now)]
    assert all((r.reminded, r.promise_reminders, r.digests) == (0, 0, 0) for r in again)
    assert len(digests_in(bot, "C9")) == 1

    # and the workspace exports from one snapshot of the same database
    result = await export.export_team(bot.svc.engine, directory=tmp_path / "export")
    rows = {f.kind: f.rows for f in result.files}
    assert rows["accounts"] == 1 and rows["promises"] == 1 and rows["checkins"] >= 2
