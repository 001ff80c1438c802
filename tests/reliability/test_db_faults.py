"""Database faults: locked, full, read-only.

Each fault is switched on while users act — a rating click (stored after the ack), a check-in
modal with a long concern (stored before the modal closes), a /checkin with a long note
(logged after the ack). Every action either is stored and shown as saved, or is not stored
and its user is told so in plain words (ephemeral on the response_url, or an error in the
modal, which stays open); nothing is half-written; and once the fault goes away the same
actions work.

How the faults are made:
- locked: another connection holds SQLite's write lock for longer than the bot waits for
  it (the bot's busy timeout is lowered to 0.2 s so the test need not wait 5 s);
- full: `PRAGMA max_page_count` pins the file at its current size on every connection the
  bot checks out (portable); where tmpfs can be mounted, also a real full filesystem;
- read-only: the bot's connections open the file with SQLite's read-only flag (`mode=ro`),
  as SQLite does when it may not write the file (chmod would not stop root).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.localslack.server import SlackStub
from storage import db
from storage import tables as t
from tests.conftest import ALICE, BOB, Bot, eventually
from tests.handlers.test_actions import button, checkin_row, dm_of, has_actions, log_checkin
from tests.reliability.conftest import database_problems, running_bot, settled

LONG = "🙂" * 1500  # 6 kB of UTF-8: always needs new database pages


class Faults:
    """Database faults applied to each connection the bot's engine checks out."""

    def __init__(self, bot: Bot):
        self.bot = bot
        self.max_pages: int | None = None
        event.listen(bot.svc.engine.sync_engine, "checkout", self._apply)

    def _apply(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=200")
        cursor.execute(f"PRAGMA max_page_count={self.max_pages or 1_073_741_823}")
        cursor.close()

    @property
    def path(self) -> Path:
        path = db.sqlite_path(self.bot.db_url)
        assert path is not None
        return path

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        # In a thread: waiting for the lock must not stop the bot's own work on this loop.
        holder = sqlite3.connect(
            self.path, isolation_level=None, timeout=10, check_same_thread=False
        )
        await asyncio.to_thread(holder.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    @asynccontextmanager
    async def full(self) -> AsyncIterator[None]:
        def vacuum() -> int:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                con.execute("VACUUM")  # no free pages left inside the file either
                return int(con.execute("PRAGMA page_count").fetchone()[0])
            finally:
                con.close()

        self.max_pages = await asyncio.to_thread(vacuum)
        try:
            yield
        finally:
            self.max_pages = None

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[None]:
        engine = self.bot.svc.engine
        read_only = db.create_engine(f"sqlite+aiosqlite:///file:{self.path}?mode=ro&uri=true")
        self.bot.svc.engine = read_only
        try:
            yield
        finally:
            self.bot.svc.engine = engine
            await read_only.dispose()


@pytest.fixture
async def faults(bot: Bot) -> AsyncIterator[Faults]:
    await log_checkin(bot)
    yield Faults(bot)
    assert database_problems(bot.db_url) == []


async def count(bot: Bot, table: Any) -> int:
    async with bot.svc.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def texts(stub: SlackStub, token: str) -> list[str]:
    return [str(r.body.get("text", "")) for r in stub.responses if r.url_token == token]


async def rate(bot: Bot, label: str) -> tuple[str, dict[str, Any]]:
    """Click a rating in Bob's DM; return the click's response_url token and the message."""
    message = dm_of(bot, BOB)
    b = button(message, label)
    reply = await bot.slack.click(
        user_id=BOB, action_id=b["action_id"], value=b["value"], message=message
    )
    assert reply.status == 200
    assert bot.slack.last_response_url is not None
    return bot.slack.last_response_url.rsplit("/", 1)[-1], message


async def submit_details(bot: Bot, view: dict[str, Any]) -> dict[str, Any]:
    """Submit Alice's own check-in modal with a long concern; return the HTTP answer."""
    values = {
        "rating": {"rating_input": {"type": "radio_buttons", "selected_option": {"value": "2"}}},
        "concern": {"concern_input": {"type": "plain_text_input", "value": LONG}},
    }
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.status == 200
    return reply.json()


async def checkin_with_long_note(bot: Bot) -> str:
    await bot.slack.command("/checkin", f"Acme call {LONG}", user_id=ALICE)
    assert bot.slack.last_response_url is not None
    return bot.slack.last_response_url.rsplit("/", 1)[-1]


async def act_during_fault(bot: Bot, words: str) -> None:
    """The three actions while the fault is on: each stored and shown, or refused and told."""
    view = bot.stub.calls_to("views.open")[0].response["view"]  # Alice's own check-in
    interactions = await count(bot, t.interactions)

    token, _ = await rate(bot, "4")
    told = await eventually(lambda: texts(bot.stub, token) or not has_actions(dm_of(bot, BOB)))
    row = await checkin_row(bot, BOB)
    if row.status == "answered":  # it fitted (an update in place needs no new space)
        assert row.rating == 4 and not has_actions(dm_of(bot, BOB))
    else:
        assert row.status == "pending" and has_actions(dm_of(bot, BOB))
        assert words in told[-1] and "nothing was saved" in told[-1].casefold(), told

    answer = await submit_details(bot, view)
    assert answer.get("response_action") == "errors", answer  # the modal stays open
    assert words in str(answer["errors"]) and "Traceback" not in str(answer)
    assert (await checkin_row(bot, ALICE)).status == "pending"

    token = await checkin_with_long_note(bot)
    told = await eventually(lambda: texts(bot.stub, token))
    assert words in told[-1] and "nothing was saved" in told[-1].casefold(), told
    assert await count(bot, t.interactions) == interactions
    await settled(bot)


async def act_after_fault(bot: Bot) -> None:
    """The same actions once the fault is gone: all stored."""
    view = bot.stub.calls_to("views.open")[0].response["view"]
    if (await checkin_row(bot, BOB)).status == "pending":
        await rate(bot, "4")
        await eventually(lambda: not has_actions(dm_of(bot, BOB)))
    assert (await checkin_row(bot, BOB)).rating == 4
    assert await submit_details(bot, view) == {}  # stored, the modal closes
    row = await checkin_row(bot, ALICE)
    assert (row.status, row.rating, row.concern) == ("answered", 2, LONG)
    before = await count(bot, t.interactions)
    token = await checkin_with_long_note(bot)
    await eventually(lambda: any("Logged" in text for text in texts(bot.stub, token)))
    assert await count(bot, t.interactions) == before + 1


async def test_locked_database(faults: Faults) -> None:
    async with faults.locked():
        await act_during_fault(faults.bot, "busy")
    await act_after_fault(faults.bot)


async def test_full_database(faults: Faults) -> None:
    async with faults.full():
        await act_during_fault(faults.bot, "out of space")
    await act_after_fault(faults.bot)


async def test_read_only_database(faults: Faults) -> None:
    async with faults.read_only():
        await act_during_fault(faults.bot, "can't write")
    await act_after_fault(faults.bot)


# --------------------------------------------------------------------------- a real full disk


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "trustloop-test", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0 or not os.path.ismount(where):
        pytest.skip("cannot mount a tmpfs here (needs root); max_page_count covers disk full")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
async def test_full_filesystem(stub: SlackStub, tmp_path: Path) -> None:
    """A real full filesystem (ENOSPC): the same answers as with max_page_count."""
    with small_tmpfs(tmp_path / "disk", "16m") as disk:
        url = f"sqlite+aiosqlite:///{disk / 'trustloop.db'}"
        async with running_bot(stub, url) as bot:
            await log_checkin(bot)
            Faults(bot)  # the short busy timeout; the disk itself will be full
            await settled(bot)
            # Empty the write-ahead log, so that every write needs new space on the disk.
            con = sqlite3.connect(disk / "trustloop.db", timeout=10)
            assert con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
            con.close()
            filler = disk / "filler"
            with filler.open("wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass  # ENOSPC: the filesystem is full
            await act_during_fault(bot, "out of space")
            filler.unlink()
            await act_after_fault(bot)
        assert database_problems(url) == []


async def test_a_click_on_the_app_home_is_answered_in_a_modal(faults: Faults) -> None:
    """The App Home has no response_url: the reason opens in a small modal instead."""
    bot = faults.bot
    await bot.slack.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
    home = await eventually(lambda: bot.stub.home_views.get(BOB))
    three = button(home, "3")
    async with faults.locked():
        await bot.slack.click(
            user_id=BOB, action_id=three["action_id"], value=three["value"], view=home
        )
        notice = await eventually(
            lambda: [c for c in bot.stub.calls_to("views.open") if "busy" in str(c.args)]
        )
    assert "nothing was saved" in str(notice[0].args["view"]).casefold()
    assert (await checkin_row(bot, BOB)).status == "pending"
