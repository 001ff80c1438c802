"""Slack re-deliveries: a request that reaches the bot again is handled once.

Slack sends an Events API event again when it got no 200 within 3 seconds (up to three
times, with `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`; in Socket Mode the envelope's
`retry_attempt`, which Bolt turns into the same header), and a proxy or a replay within the
signature's five minutes can deliver any request twice. Handling one twice would log a
second interaction, DM teammates twice, or answer a user's own click with "you already
answered". The data would mostly survive (answers are conditional updates), the user's
experience would not; so each verified request is identified — an event by its
`event_id`, a slash command or an interaction by its `trigger_id`, which Slack issues anew
for every invocation, click and submission — and:

- the first delivery is handled as usual; its id is kept in memory for ten minutes with
  the answer it got, and written to the `slack_deliveries` table (kept an hour) in a batch
  every few seconds and when the bot stops, never on the request's path;
- a repeat while the first is being handled waits (at most 2.5 s) for the first one's
  answer and gives Slack that same answer (an empty 200 if it has none yet); a repeat
  after it gets the same answer; either way nothing else happens;
- after a restart, or on another bot process, a retry (one with the header) whose id is in
  the table gets an empty 200 and nothing else (ids of the last few seconds before a crash
  are not there yet: a retry of those is handled again, and answers, promise changes and
  reminders stay single anyway, being conditional updates in the database);
- if the first delivery failed before it was acknowledged (Slack saw an error status),
  the repeat is handled as a new delivery.

Options requests (`block_suggestion`) carry no trigger and change nothing, so they are
answered every time.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import queries as q

log = logging.getLogger(__name__)

MEMORY_SECONDS = 600.0  # Slack retries at once, after a minute and after five
MEMORY_ENTRIES = 100_000  # a few hundred bytes each; beyond this the table answers
KEEP = timedelta(hours=1)
WAIT_SECONDS = 2.5  # for the first delivery's answer; Slack waits 3 s for ours
BATCH = 500
SAVE_EVERY_SECONDS = 5.0
CONTEXT_KEY = "trustloop_delivery"


def delivery_key(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(team, id) of a request Slack may deliver again, or None when it has no such id."""
    team = _team(body)
    if team is None:
        return None
    if body.get("type") == "event_callback" and body.get("event_id"):
        return team, f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return team, f"trigger:{body['trigger_id']}"
    return None


def _team(body: Mapping[str, Any]) -> str | None:
    team = body.get("team")
    if isinstance(team, Mapping) and team.get("id"):
        return str(team["id"])
    if body.get("team_id"):
        return str(body["team_id"])
    user = body.get("user")
    if isinstance(user, Mapping) and user.get("team_id"):
        return str(user["team_id"])
    return None


def _header(request: AsyncBoltRequest, name: str) -> str | None:
    values = request.headers.get(name) or request.headers.get(name.lower()) or []
    return str(values[0]) if values else None


def _copy(response: BoltResponse) -> BoltResponse:
    return BoltResponse(
        status=response.status,
        body=response.body,
        headers={k: list(v) for k, v in response.headers.items()},
    )


_OK = BoltResponse(status=200, body="")  # most first answers are an empty 200: shared


class _Seen:
    """A delivery handled, or being handled, and the answer Slack got for it."""

    __slots__ = ("answer", "at", "finished", "waiter")

    def __init__(self, at: float) -> None:
        self.at = at
        self.finished = False
        self.answer: BoltResponse | None = None  # None: no answer (it failed before its ack)
        self.waiter: asyncio.Future[None] | None = None  # made only when a repeat waits

    def finish(self, answer: BoltResponse | None) -> None:
        if self.finished:
            return
        self.finished = True
        if answer is not None:
            self.answer = _OK if answer.status == 200 and not answer.body else _copy(answer)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        self.waiter = None

    async def wait(self, seconds: float) -> bool:
        """Wait for the answer; False if it did not come in time."""
        if self.finished:
            return True
        if self.waiter is None:
            self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self.waiter), seconds)
        except TimeoutError:
            return False
        return True


class Redeliveries:
    """Recognises requests Slack delivers again; see the module docstring."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime]):
        self.engine = engine
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], _Seen] = OrderedDict()
        self._unsaved: list[tuple[str, str]] = []
        self._saving: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.repeats = 0  # how many re-deliveries were recognised (for logs and tests)

    def install(self, app: AsyncApp) -> None:
        """Add the middleware to `app` and note each first delivery's answer."""
        app.middleware(self.middleware)
        dispatch = app.async_dispatch

        async def async_dispatch(req: AsyncBoltRequest) -> BoltResponse:
            answer: BoltResponse | None = None
            try:
                answer = await dispatch(req)
                return answer
            finally:
                key = req.context.get(CONTEXT_KEY)
                seen = self._seen.get(key) if key else None
                if seen is not None:
                    seen.finish(answer)

        app.async_dispatch = async_dispatch  # type: ignore[method-assign]

    async def middleware(
        self, req: AsyncBoltRequest, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Bolt global middleware (it runs after the signature check)."""
        key = delivery_key(req.body)
        if key is None:
            await next()
            return None
        self._forget_old(time.monotonic())
        seen = self._seen.get(key)
        retry = _header(req, "X-Slack-Retry-Num")
        if seen is None and retry is not None and await self._saved(key):
            self._repeat(key, retry, req, "handled before a restart")
            return BoltResponse(status=200, body="")
        if seen is not None:
            self._repeat(key, retry, req, "handled already")
            if not await seen.wait(WAIT_SECONDS):
                return BoltResponse(status=200, body="")
            if seen.answer is not None and seen.answer.status < 400:
                return _copy(seen.answer)
            # The first delivery failed before its ack: Slack's retry is the one to handle.
        self._seen[key] = _Seen(time.monotonic())
        self._seen.move_to_end(key)
        req.context[CONTEXT_KEY] = key
        self._save(key)
        await next()
        return None

    def _repeat(
        self, key: tuple[str, str], retry: str | None, req: AsyncBoltRequest, why: str
    ) -> None:
        self.repeats += 1
        log.info(
            "Slack delivered a request again; not handled twice",
            extra={
                "delivery": key[1],
                "retry_num": retry,
                "retry_reason": _header(req, "X-Slack-Retry-Reason"),
                "why": why,
            },
        )

    def _forget_old(self, now: float) -> None:
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if now - seen.at < MEMORY_SECONDS and len(self._seen) < MEMORY_ENTRIES:
                return
            del self._seen[key]

    async def _saved(self, key: tuple[str, str]) -> bool:
        try:
            async with self.engine.connect() as conn:
                return await q.delivery_seen(conn, team_id=key[0], key=key[1])
        except Exception:  # the database is unwell: handle the request rather than drop it
            log.warning("could not check a re-delivery", exc_info=True)
            return False

    def _save(self, key: tuple[str, str]) -> None:
        # In a batch every few seconds, not per request: a write of its own per request
        # would contend for SQLite's write lock with the requests' own work (and reorder it).
        self._unsaved.append(key)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                SAVE_EVERY_SECONDS, self._start_saving
            )

    def _start_saving(self) -> None:
        self._timer = None
        if self._saving is not None and not self._saving.done():
            self._timer = asyncio.get_running_loop().call_later(
                SAVE_EVERY_SECONDS, self._start_saving
            )
            return
        self._saving = asyncio.ensure_future(self._save_all())

    async def _save_all(self) -> None:
        while self._unsaved:
            batch: Sequence[tuple[str, str]] = self._unsaved[:BATCH]
            del self._unsaved[:BATCH]
            now = self.clock()
            try:
                async with self.engine.begin() as conn:
                    await q.record_deliveries(conn, keys=batch, now=now, forget_before=now - KEEP)
            except Exception as exc:  # memory still has them; only a restart would forget
                log.warning("could not record Slack deliveries", extra={"error": repr(exc)})

    async def close(self) -> None:
        """Write the ids not yet written (called when the bot stops)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._saving is not None:
            await self._saving
        await self._save_all()


_installed: weakref.WeakKeyDictionary[AsyncApp, Redeliveries] = weakref.WeakKeyDictionary()


def install_redeliveries(
    app: AsyncApp, engine: AsyncEngine, clock: Callable[[], datetime]
) -> Redeliveries:
    """Make `app` handle each Slack request once, however often it is delivered."""
    redeliveries = Redeliveries(engine, clock)
    redeliveries.install(app)
    _installed[app] = redeliveries
    return redeliveries


def redeliveries_of(app: AsyncApp) -> Redeliveries | None:
    """The Redeliveries installed on `app`, if any."""
    return _installed.get(app)


async def close_redeliveries(app: AsyncApp) -> None:
    """Write what is not yet written (the runners call this when the bot stops)."""
    redeliveries = _installed.get(app)
    if redeliveries is not None:
        await redeliveries.close()
