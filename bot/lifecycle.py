"""Opening and closing what the bot runs on: database, Slack client, scheduler, runner."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.app import build_app
from bot.config import Settings
from bot.runner import HttpRunner, SocketModeRunner
from bot.scheduler import start_scheduler
from bot.services import Services
from bot.slack import build_client, new_session
from storage import db

log = logging.getLogger(__name__)

# Young collections every 50,000 allocations instead of CPython's 700 (see `tune_gc`).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect garbage less often, and never rescan what startup created.

    The digest builds a few hundred thousand small acyclic objects (weekly ratings, signals,
    assessments); with CPython's defaults the collector ran every few hundred of them and kept
    rescanning the survivors, a third of the digest's CPU at 10,000 accounts. Called once by
    the command line before any command runs.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the database (migrated) and the Slack client; close them in reverse."""
    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        async with new_session() as session:  # carries the per-call time limit
            client = build_client(token, settings.slack_api_url, session=session)
            yield Services(engine=engine, client=client, settings=settings)
    finally:
        await engine.dispose()


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the bot until `stop` is set: database, scheduler, then the runner."""
    async with open_services(settings) as svc:
        secret = (
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None
        )
        app = build_app(svc, signing_secret=secret, socket_mode=settings.socket_mode)
        scheduler = start_scheduler(svc, interval_seconds=settings.tick_interval_seconds)
        runner: HttpRunner | SocketModeRunner
        if settings.socket_mode:
            assert settings.slack_app_token is not None
            runner = SocketModeRunner(app, settings.slack_app_token.get_secret_value())
        else:
            runner = HttpRunner(app, svc.engine, host=settings.host, port=settings.port)
        try:
            # Connecting can hang on retries; a stop request must still end it.
            starting = asyncio.create_task(runner.start())
            stopping = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting not in done:
                starting.cancel()
            else:
                try:
                    starting.result()
                except BaseException:
                    stopping.cancel()
                    raise
                await stopping
        finally:
            await runner.close()
            await scheduler.close()
            log.info("stopped")
