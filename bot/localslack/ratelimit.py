"""Slack's Web API rate limits, for the local stand-in (off unless switched on).

Slack limits each Web API method per app per workspace by tier: Tier 1 allows 1+ calls a
minute, Tier 2 20+, Tier 3 50+ and Tier 4 100+, each with some tolerance for bursts;
chat.postMessage is special: about one message a second per channel (short bursts
allowed) under a workspace-wide ceiling of several hundred a minute. Past a limit Slack
answers HTTP 429 with ``{"ok": false, "error": "ratelimited"}`` and a ``Retry-After``
header in whole seconds.

`RateLimiter` models each limit as a token bucket (``per_minute`` refill, ``burst``
capacity, full at start). A call that finds a bucket empty is refused and takes nothing, so
a client that retries too early only collects more 429s. Slack does not publish its burst
sizes or the exact workspace ceiling for chat.postMessage; the defaults below are
deliberately modest, and every figure can be set.

    stub = SlackStub(rate_limits=RateLimiter())   # or stub.enable_rate_limits()
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    """A token bucket: `per_minute` calls a minute on average, up to `burst` at once."""

    per_minute: float
    burst: int


TIERS: dict[int, Limit] = {
    1: Limit(1, 2),
    2: Limit(20, 5),
    3: Limit(50, 10),
    4: Limit(100, 20),
}

# The tier of each method the bot uses, from Slack's method reference ("Rate limits").
METHOD_TIERS: dict[str, int] = {
    "apps.connections.open": 1,
    "auth.test": 4,  # "special" in the reference; generous in practice
    "users.info": 4,
    "users.list": 2,
    "conversations.open": 3,
    "conversations.info": 3,
    # Tier 3 for internal and Marketplace apps; since 2025 other distributed apps get
    # 1 a minute (and 15 messages a call).
    "conversations.history": 3,
    "chat.update": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}

POST_MESSAGE = "chat.postMessage"
# About one message a second to a channel, short bursts allowed.
POST_PER_CHANNEL = Limit(60, 3)
# "Several hundred messages a minute" across the workspace; Slack gives no exact figure.
POST_PER_WORKSPACE = Limit(300, 50)


class _Bucket:
    """One token bucket's state."""

    def __init__(self, limit: Limit, now: float):
        self.limit = limit
        self.tokens = float(limit.burst)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 when one is), after refilling to `now`."""
        rate = self.limit.per_minute / 60.0
        self.tokens = min(float(self.limit.burst), self.tokens + (now - self.updated) * rate)
        self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / rate

    def take(self) -> None:
        self.tokens -= 1.0


class RateLimiter:
    """Per-method tier limits and chat.postMessage's per-channel and workspace limits."""

    def __init__(
        self,
        *,
        tiers: Mapping[int, Limit] | None = None,
        methods: Mapping[str, int] | None = None,
        post_per_channel: Limit = POST_PER_CHANNEL,
        post_per_workspace: Limit | None = POST_PER_WORKSPACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tiers = dict(TIERS if tiers is None else tiers)
        self.methods = dict(METHOD_TIERS if methods is None else methods)
        self.post_per_channel = post_per_channel
        self.post_per_workspace = post_per_workspace
        self.clock = clock
        # A DM can be named by its user id or its D… id; the stub maps one to the other.
        self.channel_key: Callable[[str], str] = lambda channel: channel
        self.admitted: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def limits_for(
        self, method: str, args: Mapping[str, Any]
    ) -> list[tuple[tuple[str, str], Limit]]:
        """The buckets a call of `method` draws from (none: not limited)."""
        if method == POST_MESSAGE:
            found = [
                ((method, self.channel_key(str(args.get("channel") or ""))), self.post_per_channel)
            ]
            if self.post_per_workspace is not None:
                found.append(((method, "*"), self.post_per_workspace))
            return found
        tier = self.methods.get(method)
        if tier is None or tier not in self.tiers:
            return []
        return [((method, "*"), self.tiers[tier])]

    def check(self, method: str, args: Mapping[str, Any]) -> int | None:
        """Admit a call (taking its tokens) and return None, or refuse it: Retry-After seconds."""
        now = self.clock()
        buckets = []
        for key, limit in self.limits_for(method, args):
            bucket = self._buckets.get(key)
            if bucket is None or bucket.limit != limit:
                bucket = self._buckets[key] = _Bucket(limit, now)
            buckets.append(bucket)
        wait = max((b.wait(now) for b in buckets), default=0.0)
        if wait > 0:
            self.limited[method] += 1
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        self.admitted[method] += 1
        return None

    def bound_seconds(self, calls: Mapping[str, int]) -> float:
        """Least time these numbers of calls can take under the method limits (bursts spent).

        Each method's bucket alone: max over methods of (calls - burst) / rate. Per-channel
        limits of chat.postMessage are left out (they need the calls per channel).
        """
        bound = 0.0
        for method, n in calls.items():
            if method == POST_MESSAGE:
                limit = self.post_per_workspace
            else:
                tier = self.methods.get(method)
                limit = self.tiers.get(tier) if tier is not None else None
            if limit is not None and n > limit.burst:
                bound = max(bound, (n - limit.burst) * 60.0 / limit.per_minute)
        return bound
