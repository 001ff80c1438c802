"""Clock faults: the machine clock jumps forward a week and back, or back an hour.

Time-based work runs exactly as the scheduler and `trustloop tick` run it
(`Services.run_due_work(now)`, which `trustloop tick --now` calls; test_kill9 runs the
command itself), with `now` following a faulty clock. What the rules say:
a clock that jumps forward acts as if that time had passed (that week's digest is posted
once, like a bot that was down; what expired, expired); a clock that jumps back never
repeats anything already done — each digest week, check-in reminder and promise reminder
is claimed in the database before it is sent, and a claim is never given back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import tables as t
from tests.conftest import ALICE, BOB, Bot
from tests.handlers.test_actions import checkin_row, log_checkin
from tests.handlers.test_health import add_accounts, subscribe
from tests.handlers.test_promises import logged, reminders, with_acme

MONDAY_0800_HELSINKI = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # the digest is due at 09:00


def digests_in(bot: Bot) -> list[dict]:
    return [m for m in bot.stub.messages("C9") if m.get("blocks")]


async def digest_weeks(bot: Bot) -> list[str]:
    async with bot.svc.engine.connect() as conn:
        rows = (await conn.execute(select(t.digest_posts).order_by(t.digest_posts.c.id))).all()
    return [str(r.week) for r in rows]


async def follow(bot: Bot, clock: list[datetime]) -> list[int]:
    """Run the due work at each reading of the clock; how many digests each run posted."""
    posted = []
    for now in clock:
        bot.clock.now = now
        posted.append((await bot.svc.run_due_work(now)).digests)
    return posted


def every(start: datetime, end: datetime, minutes: int = 15) -> list[datetime]:
    out, now = [], start
    while now <= end:
        out.append(now)
        now += timedelta(minutes=minutes)
    return out


async def setup_digest(bot: Bot) -> None:
    bot.clock.now = MONDAY_0800_HELSINKI
    await add_accounts(bot, "Acme")
    await subscribe(bot)  # Mondays 09:00 Helsinki, channel C9


async def test_a_week_forward_and_back_posts_one_digest(bot: Bot) -> None:
    await setup_digest(bot)
    week_later = MONDAY_0800_HELSINKI + timedelta(days=7, hours=2)  # next Monday 10:00
    clock = [
        MONDAY_0800_HELSINKI,
        week_later,  # the clock jumps a week ahead: that week's digest is due, once
        week_later + timedelta(minutes=15),
        MONDAY_0800_HELSINKI + timedelta(minutes=30),  # and back: nothing for that week
        *every(MONDAY_0800_HELSINKI + timedelta(hours=1), week_later + timedelta(hours=3), 180),
    ]
    posted = await follow(bot, clock)
    assert posted[:3] == [0, 1, 0] and sum(posted) == 1
    assert len(digests_in(bot)) == 1
    assert await digest_weeks(bot) == ["2026-11-30"]


async def test_an_hour_back_after_the_digest_does_not_post_it_again(bot: Bot) -> None:
    await setup_digest(bot)
    nine = MONDAY_0800_HELSINKI + timedelta(hours=1)
    clock = [
        *every(MONDAY_0800_HELSINKI, nine + timedelta(minutes=30)),  # posted at 09:00
        *every(nine - timedelta(minutes=30), nine + timedelta(hours=2)),  # an hour back
    ]
    posted = await follow(bot, clock)
    assert sum(posted) == 1 and posted[4] == 1  # at 09:00
    assert len(digests_in(bot)) == 1
    assert await digest_weeks(bot) == ["2026-11-23"]


async def test_checkin_reminders_are_sent_once_whatever_the_clock_does(bot: Bot) -> None:
    await log_checkin(bot)  # Monday 10:00 UTC; Alice (Helsinki) and Bob (New York) asked
    start = bot.clock.now
    reminded = []
    for hours in (5, 4, 6, 3.5, 7, 5):  # reminders due at 14:00 UTC; the clock goes back
        bot.clock.now = start + timedelta(hours=hours)
        reminded.append((await bot.svc.run_due_work(bot.clock.now)).reminded)
    assert reminded == [2, 0, 0, 0, 0, 0]
    assert len(bot.stub.messages(BOB)) == 2  # the check-in and one reminder
    # A week ahead: pending check-ins expire (as the rules say), nothing is reminded.
    report = await bot.svc.run_due_work(start + timedelta(days=7))
    assert (report.reminded, report.expired) == (0, 2)
    for hours in (5, 30, 71):  # and back again
        report = await bot.svc.run_due_work(start + timedelta(hours=hours))
        assert (report.reminded, report.expired) == (0, 0)
    assert (await checkin_row(bot, BOB)).status == "expired"
    assert len(bot.stub.messages(BOB)) == 2


async def test_promise_reminders_are_sent_once_whatever_the_clock_does(bot: Bot) -> None:
    await with_acme(bot)
    await logged(bot)  # Alice (Helsinki), due Friday 27 Nov: reminded Thursday 09:00
    thursday_0900 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    clock = [
        thursday_0900,  # "due on the next working day"
        thursday_0900 - timedelta(hours=1),  # an hour back
        thursday_0900,
        thursday_0900 + timedelta(days=7),  # a week ahead: the latest due one, once
        thursday_0900 + timedelta(days=7, hours=2),
        thursday_0900 + timedelta(hours=1),  # back a week
        thursday_0900 + timedelta(days=1),  # Friday 09:00 once more: already past it
        thursday_0900 + timedelta(days=7, hours=3),
    ]
    sent = []
    for now in clock:
        bot.clock.now = now
        sent.append((await bot.svc.run_due_work(now)).promise_reminders)
    assert sent == [1, 0, 0, 1, 0, 0, 0, 0]
    assert len(reminders(bot, ALICE)) == 2
