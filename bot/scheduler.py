"""APScheduler wiring: the running bot does the same due work as `trustloop tick`."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.services import Services

log = logging.getLogger(__name__)


async def tick(svc: Services) -> None:
    """One scheduled pass of due work at the current instant."""
    report = await svc.run_due_work(svc.now())
    if report.expired or report.reminded or report.redelivered or report.away:
        log.info("tick", extra={"report": str(report)})


def start_scheduler(svc: Services, *, interval_seconds: int) -> AsyncIOScheduler:
    """Start a scheduler that runs `tick` every interval (one at a time, catching up once)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        IntervalTrigger(seconds=interval_seconds),
        args=[svc],
        id="tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=interval_seconds,
        next_run_time=svc.now(),
    )
    scheduler.start()
    return scheduler
