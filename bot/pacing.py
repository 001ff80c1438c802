"""Keeping to Slack's rate limits across every call of one Web API client.

Slack limits each method per workspace (Tier 2: 20+ calls a minute, Tier 3: 50+, Tier 4:
100+; chat.postMessage about one a second per channel) and answers HTTP 429 with
Retry-After past that. The SDK's own handler retries each refused call by itself, three
times: when many calls of one method are in flight (ten `/checkin`s fanning out DMs at
once) they all wait out the same Retry-After, hit Slack together again, are mostly refused
again, and after the third refusal the DM or user lookup is given up.

A `Pacer` is shared by all calls of one client, per method (chat.postMessage: per channel):

- a 429 closes the method's gate for its Retry-After; every call of the method, new or
  retried, then waits its turn at the gate, first come, first served;
- for a minute after the last 429 the gate lets calls through one at a time, spaced at the
  method's documented rate, so a long fan-out keeps to the limit instead of finding it again
  with a 429 per call;
- a refused call is retried (up to `MAX_RATE_LIMIT_RETRIES` times) until it goes through: a
  rate limit delays a message, it does not lose it;
- chat.postMessage also has a workspace-wide ceiling ("several hundred messages a minute"),
  and a 429 does not say which limit it was: 429s on two different channels within
  `WORKSPACE_SIGNAL_SECONDS` mean the ceiling, so all posts then take turns at one more
  gate, paced at `POST_PER_WORKSPACE_PER_MINUTE` (a fan-out of DMs to many users would
  otherwise meet the ceiling again with every channel it has not posted to yet).

A method Slack has not refused lately costs nothing: no waiting, no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# Calls a minute each tier allows at least (Slack's "Rate limits" guide).
TIER_PER_MINUTE = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
# The tier of each method the bot calls (Slack's method reference); others count as Tier 3.
METHOD_TIERS = {
    "apps.connections.open": 1,
    "users.list": 2,
    "conversations.open": 3,
    "conversations.info": 3,
    "conversations.history": 3,
    "chat.update": 3,
    "auth.test": 4,
    "users.info": 4,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
POST_MESSAGE = "chat.postMessage"
POST_PER_CHANNEL_PER_MINUTE = 60.0
# Slack publishes no figure for the workspace ceiling, only "several hundred a minute".
POST_PER_WORKSPACE_PER_MINUTE = 300.0
WORKSPACE_SIGNAL_SECONDS = 5.0
PACE_SECONDS = 60.0  # how long after a 429 calls of the method stay spaced out
MAX_RATE_LIMIT_RETRIES = 10

# The gate key of the Web API call in progress (set by the client around each call), so
# the retry handler, which sees only the HTTP request, retries at the same gate.
current_key: ContextVar[str | None] = ContextVar("slack_pacing_key", default=None)


class _Gate:
    """One method's (or channel's) turn-taking after Slack refused a call of it."""

    def __init__(self, interval: float):
        self.interval = interval
        self.next_at = 0.0  # no call passes before this instant
        self.pace_until = 0.0  # until then, calls pass `interval` apart
        self.lock = asyncio.Lock()  # FIFO: waiting calls pass in the order they came

    def open(self, now: float) -> bool:
        return now >= self.pace_until and now >= self.next_at and not self.lock.locked()

    async def turn(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        async with self.lock:
            delay = self.next_at - clock()
            if delay > 0:
                await sleep(delay)
            now = clock()
            if now < self.pace_until:
                self.next_at = now + self.interval

    def refused(self, now: float, retry_after: float) -> None:
        self.next_at = max(self.next_at, now + retry_after)
        self.pace_until = max(self.pace_until, now + retry_after + PACE_SECONDS)


class Pacer:
    """Shared by one client's calls: waits at a method's gate once Slack has refused it."""

    def __init__(
        self,
        *,
        tier_per_minute: Mapping[int, float] | None = None,
        post_per_channel_per_minute: float = POST_PER_CHANNEL_PER_MINUTE,
        post_per_workspace_per_minute: float = POST_PER_WORKSPACE_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.tier_per_minute = dict(tier_per_minute or TIER_PER_MINUTE)
        self.post_per_channel_per_minute = post_per_channel_per_minute
        self.post_per_workspace_per_minute = post_per_workspace_per_minute
        self.clock = clock
        self.sleep = sleep
        self.refusals = 0
        self._gates: dict[str, _Gate] = {}
        self._last_post_refusal: tuple[str, float] | None = None  # (channel key, when)

    @staticmethod
    def key(method: str, args: Mapping[str, Any] | None = None) -> str:
        """The gate of a call: the method, and for chat.postMessage its channel too."""
        if method == POST_MESSAGE and args and args.get("channel"):
            return f"{method} {args['channel']}"
        return method

    def interval(self, key: str) -> float:
        """Seconds between calls at the documented rate of the gate's method."""
        method = key.split(" ", 1)[0]
        if key == POST_MESSAGE:  # the workspace-wide gate of all posts
            return 60.0 / self.post_per_workspace_per_minute
        if method == POST_MESSAGE:
            return 60.0 / self.post_per_channel_per_minute
        tier = METHOD_TIERS.get(method, 3)
        return 60.0 / self.tier_per_minute.get(tier, TIER_PER_MINUTE[3])

    async def wait(self, key: str) -> None:
        """Return when a call at `key` may go (at once unless Slack refused one lately)."""
        await self._wait_at(key)
        if key.startswith(POST_MESSAGE + " "):
            await self._wait_at(POST_MESSAGE)  # and its turn among all posts

    async def _wait_at(self, key: str) -> None:
        gate = self._gates.get(key)
        if gate is None or gate.open(self.clock()):
            return
        await gate.turn(self.clock, self.sleep)

    def refused(self, key: str, retry_after: float) -> None:
        """Slack answered 429: close the gate for `retry_after` s, then pace its calls."""
        self.refusals += 1
        now = self.clock()
        self._refuse(key, now, retry_after)
        if key.startswith(POST_MESSAGE + " "):
            last = self._last_post_refusal
            if last is not None and last[0] != key and now - last[1] <= WORKSPACE_SIGNAL_SECONDS:
                self._refuse(POST_MESSAGE, now, retry_after)
            self._last_post_refusal = (key, now)

    def _refuse(self, key: str, now: float, retry_after: float) -> None:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(self.interval(key))
        gate.refused(now, retry_after)


def retry_after_seconds(response: HttpResponse) -> float:
    """Slack's Retry-After (whole seconds); 1 when missing or unreadable."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(0.0, float(values[0]))
            except ValueError:
                break
    return 1.0


class PacedRateLimitRetryHandler(AsyncRetryHandler):
    """Retry a 429 after its Retry-After, taking turns with the method's other calls."""

    def __init__(self, pacer: Pacer, max_retry_count: int = MAX_RATE_LIMIT_RETRIES):
        super().__init__(max_retry_count=max_retry_count)
        self.pacer = pacer

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Close the gate for Retry-After and wait for this call's turn at it."""
        assert response is not None  # only 429 answers are retried here
        state.next_attempt_requested = True
        key = current_key.get() or request.url.rstrip("/").rsplit("/", 1)[-1]
        self.pacer.refused(key, retry_after_seconds(response))
        await self.pacer.wait(key)
        state.increment_current_attempt()
