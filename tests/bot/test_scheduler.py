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
