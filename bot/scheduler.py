"""APScheduler wiring: the running bot does the same due work as `trustloop tick`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.services import Services

log = logging.getLogger(__name__)


async def tick(svc: Services) -> None:
    """One scheduled pass of due work at the current instant."""
    report = await svc.run_due_work(svc.now())
    if report.expired or report.reminded or report.redelivered or report.away:
        log.info("tick", extra={"report": str(report)})


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def post_digests(svc: Services) -> None:
    """A subscription's cron time: post whatever digests are due now (same path as tick)."""
    posted = await svc.digests.run_due(svc.now())
    if posted:
        log.info("digests posted", extra={"posted": posted})


class Scheduler:
    """Runs due work on a timer; closing waits for work in flight before the database closes.

    Digest subscriptions live in our own tables; each becomes a cron job in its own timezone
    (rebuilt whenever subscriptions change), so APScheduler never shares a job store between
    processes. The once-a-week claim in the database makes the cron job, the interval tick
    and other processes safe to overlap.
    """

    def __init__(self, svc: Services, *, interval_seconds: int):
        self.svc = svc
        self.interval_seconds = interval_seconds
        self._aps = AsyncIOScheduler(timezone="UTC")
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start ticking now and every interval (one at a time, catching up once)."""
        self._aps.add_job(
            self._run,
            IntervalTrigger(seconds=self.interval_seconds),
            args=[lambda: tick(self.svc)],
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.interval_seconds,
            next_run_time=self.svc.now(),
        )
        self._aps.start()
        self.svc.subscriptions_changed = self.request_sync
        self.request_sync()

    def request_sync(self) -> None:
        """Rebuild the digest cron jobs soon (called when subscriptions change)."""
        task = asyncio.ensure_future(self.sync_digests())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def sync_digests(self) -> None:
        """One cron job per active subscription, at its weekday and time in its timezone."""
        subs = await self.svc.digests.subscriptions()
        wanted = {f"digest-{s.id}": s for s in subs}
        for job in self._aps.get_jobs():
            if job.id.startswith("digest-") and job.id not in wanted:
                job.remove()
        for job_id, sub in wanted.items():
            trigger = CronTrigger(
                day_of_week=DAYS[sub.weekday],
                hour=sub.hour,
                minute=sub.minute,
                timezone=ZoneInfo(sub.tz),
            )
            self._aps.add_job(
                self._run,
                trigger,
                args=[lambda: post_digests(self.svc)],
                id=job_id,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )

    def digest_jobs(self) -> dict[str, datetime | None]:
        """The digest jobs and their next run times (for tests and logs)."""
        jobs = self._aps.get_jobs()
        return {job.id: job.next_run_time for job in jobs if job.id.startswith("digest-")}

    async def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        # APScheduler cancels its job futures at shutdown; shielding lets a tick that is
        # half-way through a transaction finish instead of being torn down mid-query.
        task = asyncio.ensure_future(work())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Only the scheduler's own wrapper is cancelled (at shutdown); `close` awaits
            # the work itself, so there is nothing to report here.
            return

    async def close(self, grace: float = 10.0) -> None:
        """Stop the timer, then wait (bounded) for work in flight to finish."""
        if self._aps.running:
            self._aps.shutdown(wait=False)
        pending = set(self._inflight)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def start_scheduler(svc: Services, *, interval_seconds: int) -> Scheduler:
    """Build and start the bot's scheduler."""
    scheduler = Scheduler(svc, interval_seconds=interval_seconds)
    scheduler.start()
    return scheduler
