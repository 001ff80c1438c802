"""`kill -9` of the running bot in the middle of a burst of check-in answers.

The real `trustloop run` (HTTP mode, a SQLite file, the Slack stub on loopback) gets a
burst of answers at once — rating clicks in the check-in DMs and check-in modal
submissions — and is killed with SIGKILL while it works through them; then it is started
again on the same database.

What is guaranteed, and checked here, is what the user was shown as saved:
- a modal submission is answered (HTTP 200, the modal closes) only after its answer is
  committed, so every submission that got its 200 is in the database;
- a rating click is acknowledged first (HTTP 200 within Slack's 3 seconds, before any
  database work) and its answer is committed afterwards; the user sees it saved when the
  DM is updated in place, which happens only after the commit. Every click whose DM shows
  the answer is in the database. A click acknowledged but not yet stored when the process
  died is lost — its DM still shows the buttons, and clicking again after the restart
  stores it (checked too).
Nothing is half-written (SQLite's integrity check; no interaction without its check-ins,
no answer without its rating and times), and after the restart reminders and digests go on:
`trustloop tick --now …` sends each due reminder once and posts the digest once.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot import blocks, ids
from bot.localslack.requests import Reply, SlackRequests
from bot.localslack.server import SlackStub
from handlers.common import int_value
from tests.bot.test_cli import env_for, free_port, run
from tests.conftest import ALICE, SECRET, TOKEN, eventually
from tests.handlers.test_actions import button, has_actions
from tests.reliability.conftest import file_problems

TRUSTLOOP = str(Path(sys.executable).parent / "trustloop")
TEAMMATES = [f"UT{n:03d}" for n in range(48)]
CLICKERS = TEAMMATES[:20]  # answer with a rating button in the DM
SUBMITTERS = TEAMMATES[20:40]  # answer with the check-in modal
SILENT = TEAMMATES[40:]  # do not answer: their reminders are due later
LABELS = {1: "1 · eroding", 2: "2 · shaky", 3: "3 · steady", 4: "4 · good", 5: "5 · strong"}


def rating_of(user: str) -> int:
    return int(user[2:]) % 5 + 1


@dataclass
class Bot:
    """A `trustloop run` process and how to talk to it."""

    proc: asyncio.subprocess.Process
    slack: SlackRequests
    url: str
    log: Path


async def start_bot(stub: SlackStub, db: Path, tmp_path: Path, name: str) -> Bot:
    port = free_port()
    env = env_for(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=stub.api_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        PORT=str(port),
        HOST="127.0.0.1",
        TICK_INTERVAL_SECONDS="3600",
        LOG_LEVEL="WARNING",
    )
    log = tmp_path / f"{name}.log"
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            TRUSTLOOP, "run", env=env, cwd=tmp_path, stdout=err, stderr=err
        )
    url = f"http://127.0.0.1:{port}"

    async def healthy() -> bool:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.get(f"{url}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientConnectionError:
                return False

    for _ in range(600):
        if proc.returncode is not None:
            raise AssertionError(f"trustloop run exited: {log.read_text()[-2000:]}")
        if await healthy():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("trustloop run did not start")
    slack = SlackRequests(bot_url=f"{url}/slack/events", signing_secret=SECRET, stub=stub)
    return Bot(proc=proc, slack=slack, url=url, log=log)


async def answer_to(stub: SlackStub, response_url: str | None, containing: str = "") -> str:
    """The text the bot sent to a command's response_url (waiting for one `containing`)."""
    assert response_url is not None
    token = response_url.rsplit("/", 1)[-1]
    found = await eventually(
        lambda: [
            r.body for r in stub.responses if r.url_token == token and containing in str(r.body)
        ],
        20,
    )
    return str(found[-1])


def dm(stub: SlackStub, user: str) -> dict[str, Any]:
    channel = stub.dm_channel_for(user)
    return {**stub.messages(channel)[-1], "channel": channel}


def shows_answer(stub: SlackStub, user: str) -> bool:
    messages = stub.messages(stub.dm_channel_for(user))
    return bool(messages) and not has_actions(messages[0])


async def click(bot: Bot, stub: SlackStub, user: str) -> Reply:
    message = dm(stub, user)
    b = button(message, str(rating_of(user)))
    return await bot.slack.click(
        user_id=user, action_id=b["action_id"], value=b["value"], message=message
    )


async def submit(bot: Bot, stub: SlackStub, user: str) -> Reply:
    message = dm(stub, user)
    checkin_id = int_value(button(message, "1")["value"])
    assert checkin_id is not None
    view = {
        "id": f"V{user}",
        "type": "modal",
        "callback_id": ids.CHECKIN_MODAL,
        "private_metadata": blocks.checkin_metadata(checkin_id, message["channel"], message["ts"]),
        "blocks": [],
    }
    values = {
        ids.RATING_BLOCK: {
            ids.RATING_INPUT: {
                "type": "radio_buttons",
                "selected_option": {"value": str(rating_of(user))},
            }
        },
        ids.DIRECTION_BLOCK: {
            ids.DIRECTION_INPUT: {"type": "radio_buttons", "selected_option": {"value": "worse"}}
        },
    }
    return await bot.slack.submit(user_id=user, view=view, values=values)


@dataclass
class Burst:
    """What each request of the burst got back before the kill."""

    replies: dict[str, Reply | None] = field(default_factory=dict)

    async def send(self, user: str, request: Any) -> None:
        try:
            self.replies[user] = await request
        except (aiohttp.ClientError, TimeoutError):
            self.replies[user] = None  # the process died before it answered

    def saved_submissions(self) -> list[str]:
        return [
            u
            for u in SUBMITTERS
            if (r := self.replies.get(u)) is not None and r.status == 200 and r.json() == {}
        ]


def rows(db: Path) -> dict[str, tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        found = con.execute("SELECT user_id, status, rating, direction FROM checkins").fetchall()
    finally:
        con.close()
    return {r[0]: tuple(r[1:]) for r in found}


def reminder_instant(now: datetime) -> datetime:
    """Past the 4-hour reminder delay and in the day (users are in UTC), before expiry."""
    at = now + timedelta(hours=5)
    if 9 <= at.hour <= 19:
        return at
    day = at.date() + timedelta(days=1 if at.hour > 19 else 0)
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


async def test_kill_9_in_a_burst_of_answers(stub: SlackStub, tmp_path: Path) -> None:
    stub.add_user(ALICE, name="alice", tz="UTC", is_admin=True)
    for user in TEAMMATES:
        stub.add_user(user, name=user.lower(), tz="UTC")
    stub.add_channel("C9", name="account-health", members=[ALICE, "UBOT"])
    db = tmp_path / "trustloop.db"
    bot = await start_bot(stub, db, tmp_path, "first")
    try:
        await bot.slack.command("/trust", "account add Acme", user_id=ALICE)
        await eventually(lambda: stub.responses)
        started = datetime.now(UTC)
        mentions = " ".join(f"<@{u}|{u.lower()}>" for u in TEAMMATES)
        await bot.slack.command("/checkin", f"Acme call {mentions}", user_id=ALICE)
        # A fan-out this large says first that the DMs are coming, then that they are out.
        done = await answer_to(stub, bot.slack.last_response_url, "Check-ins sent")
        assert "Logged a *call*" in done
        assert len(stub.calls_to("chat.postMessage")) == len(TEAMMATES)
        # The digest: due when the reminders are, a time still ahead (so the running bot
        # does not post it).
        digest_at = reminder_instant(started)
        day = digest_at.strftime("%A").lower()
        await bot.slack.command(
            "/trust", f"digest here {day} {digest_at:%H:%M} UTC", user_id=ALICE, channel_id="C9"
        )
        assert "subscribed" in await answer_to(stub, bot.slack.last_response_url)

        # The burst: every answer at once; SIGKILL once a quarter of them show as saved.
        burst = Burst()
        tasks = [asyncio.ensure_future(burst.send(u, click(bot, stub, u))) for u in CLICKERS]
        tasks += [asyncio.ensure_future(burst.send(u, submit(bot, stub, u))) for u in SUBMITTERS]

        def confirmed() -> int:
            return sum(shows_answer(stub, u) for u in CLICKERS) + len(burst.saved_submissions())

        quarter = (len(CLICKERS) + len(SUBMITTERS)) // 4
        await eventually(lambda: confirmed() >= quarter or all(t.done() for t in tasks), 30)
        bot.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(bot.proc.wait(), 10)
        await asyncio.gather(*tasks)
        assert bot.proc.returncode == -signal.SIGKILL

        # What was shown as saved is stored; nothing is half-written.
        shown = [u for u in CLICKERS if shows_answer(stub, u)]
        submitted = burst.saved_submissions()
        stored = rows(db)
        assert file_problems(db) == []
        for user in shown:
            assert stored[user][:2] == ("answered", rating_of(user)), user
            assert LABELS[rating_of(user)] in str(dm(stub, user)["blocks"])
        for user in submitted:
            assert stored[user] == ("answered", rating_of(user), "worse"), user
        lost = [
            u for u in CLICKERS if burst.replies.get(u) is not None and stored[u][0] == "pending"
        ]
        print(
            f"\nkilled with {len(shown)} clicks and {len(submitted)} submissions shown as saved, "
            f"{sum(s[0] == 'answered' for s in stored.values())} answers stored, "
            f"{len(lost)} acknowledged clicks lost (their DMs still show the buttons)"
        )
        for user in lost:
            assert has_actions(dm(stub, user)), user

        # Restarted on the same database: whoever still sees buttons answers again.
        bot = await start_bot(stub, db, tmp_path, "restarted")
        for user in CLICKERS + SUBMITTERS:
            if not shows_answer(stub, user):
                assert (await click(bot, stub, user)).status == 200
        await eventually(lambda: all(shows_answer(stub, u) for u in CLICKERS + SUBMITTERS), 20)
        bot.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(bot.proc.wait(), 30)
        assert bot.proc.returncode == 0, bot.log.read_text()[-2000:]
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()

    stored = rows(db)
    for user in CLICKERS + SUBMITTERS:
        assert stored[user][:2] == ("answered", rating_of(user)), user
    assert file_problems(db) == []

    # Time-based work goes on: each due reminder once, the digest once.
    env = env_for(
        SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=stub.api_url, DATABASE_URL=f"sqlite+aiosqlite:///{db}"
    )
    pending = [u for u, row in stored.items() if row[0] == "pending"]
    assert sorted(pending) == sorted([*SILENT, ALICE])
    digests = len([m for m in stub.messages("C9") if m.get("blocks")])
    remind = digest_at.isoformat()
    code, out, err = await run("tick", "--now", remind, env=env, cwd=tmp_path)
    assert code == 0 and f"reminded {len(pending)}," in out and "digests 1" in out, (out, err)
    code, out, err = await run("tick", "--now", remind, env=env, cwd=tmp_path)  # once only
    assert code == 0 and "reminded 0," in out and "digests 0" in out, (out, err)
    for user in SILENT:
        assert len(stub.messages(stub.dm_channel_for(user))) == 2  # the check-in, one reminder
    for user in CLICKERS + SUBMITTERS:
        assert len(stub.messages(stub.dm_channel_for(user))) == 1  # answered: no reminder
    assert len([m for m in stub.messages("C9") if m.get("blocks")]) == digests + 1
