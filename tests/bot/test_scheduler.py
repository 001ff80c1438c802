"""The running bot's scheduler: ticks at once and on a timer, and closes without tearing work."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.scheduler import Scheduler, start_scheduler
from tests.conftest import Bot, eventually


async def test_first_tick_runs_at_start_and_close_stops_the_timer(bot: Bot) -> None:
    calls: list[object] = []
    real = bot.svc.run_due_work

    async def counting(now):  # type: ignore[no-untyped-def]
        calls.append(now)
        return await real(now)

    bot.svc.run_due_work = counting  # type: ignore[method-assign]
    scheduler = start_scheduler(bot.svc, interval_seconds=3600)
    await eventually(lambda: calls)
    assert calls == [bot.clock.now]
    await scheduler.close()
    assert not scheduler._aps.running


async def test_close_waits_for_work_in_flight_even_when_its_job_is_cancelled(bot: Bot) -> None:
    """APScheduler cancels job futures at shutdown; a tick mid-transaction must still finish."""
    scheduler = Scheduler(bot.svc, interval_seconds=3600)
    started = asyncio.Event()
    finished: list[int] = []

    async def work() -> None:
        started.set()
        await asyncio.sleep(0.2)
        async with bot.svc.engine.begin() as conn:
            finished.append((await conn.execute(text("select 1"))).scalar_one())

    job = asyncio.ensure_future(scheduler._run(work))
    await started.wait()
    job.cancel()
    await scheduler.close()
    assert finished == [1]
    assert job.done()


async def test_close_cancels_work_that_outlives_the_timeout(bot: Bot) -> None:
    scheduler = Scheduler(bot.svc, interval_seconds=3600)
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = asyncio.ensure_future(scheduler._run(stuck))
    await asyncio.sleep(0)
    await scheduler.close(grace=0.05)
    assert cancelled.is_set()
    await job


async def test_each_subscription_gets_a_cron_job_in_its_own_timezone(bot: Bot) -> None:
    from datetime import UTC, datetime

    from bot.digest_rules import DigestSchedule

    bot.stub.add_user("UADMIN", name="admin", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C9", name="account-health", members=["UBOT"])
    bot.stub.add_channel("C8", name="leads", members=["UBOT"])
    scheduler = start_scheduler(bot.svc, interval_seconds=3600)
    try:
        for channel, schedule in [
            ("C9", DigestSchedule(weekday=0, hour=9, minute=0, tz="Europe/Helsinki")),
            ("C8", DigestSchedule(weekday=4, hour=16, minute=30, tz="America/New_York")),
        ]:
            await bot.svc.digests.subscribe(
                team_id="T0001",
                user_id="UADMIN",
                channel_id=channel,
                schedule=schedule,
                now=bot.clock.now,
            )
        jobs = await eventually(
            lambda: len(scheduler.digest_jobs()) == 2 and scheduler.digest_jobs()
        )
        times = sorted(t.astimezone(UTC) for t in jobs.values() if t is not None)
        assert len(times) == 2
        # Monday 09:00 in Helsinki is 07:00 UTC (winter); Friday 16:30 in New York is 21:30 UTC
        assert all(t > datetime(2026, 1, 1, tzinfo=UTC) for t in times)
        assert {(t.weekday(), t.hour, t.minute) for t in times} == {(0, 7, 0), (4, 21, 30)}
        await bot.svc.digests.unsubscribe(
            team_id="T0001", user_id="UADMIN", channel_id="C8", now=bot.clock.now
        )
        await eventually(lambda: len(scheduler.digest_jobs()) == 1)
    finally:
        await scheduler.close()


async def test_cron_job_posts_the_due_digest(bot: Bot) -> None:
    from bot.digest_rules import DigestSchedule
    from bot.scheduler import post_digests

    bot.stub.add_user("UADMIN", name="admin", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C9", name="account-health", members=["UBOT"])
    await bot.svc.digests.subscribe(
        team_id="T0001",
        user_id="UADMIN",
        channel_id="C9",
        schedule=DigestSchedule(weekday=0, hour=9, minute=0, tz="Europe/Helsinki"),
        now=bot.clock.now,
    )
    await post_digests(bot.svc)
    await post_digests(bot.svc)
    posted = [m for m in bot.stub.messages("C9") if m.get("blocks")]
    assert len(posted) == 1 and "Nothing to report yet" in str(posted[0]["blocks"])
