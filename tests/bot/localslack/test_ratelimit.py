"""The stub's Slack rate limits: tiers per method, chat.postMessage per channel, HTTP 429."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack.ratelimit import Limit, RateLimiter
from bot.localslack.server import SlackStub

TOKEN = "xoxb-test"


class FakeClock:
    """A manually advanced monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admitted(limiter: RateLimiter, method: str, n: int, **args: str) -> list[int | None]:
    return [limiter.check(method, args) for _ in range(n)]


def test_a_tier_allows_its_burst_then_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)  # conversations.open: Tier 3, 50 a minute, burst 10
    assert admitted(limiter, "conversations.open", 10) == [None] * 10
    assert limiter.check("conversations.open", {}) == 2  # 1.2 s to the next call, in whole s
    clock.now += 1.2
    assert limiter.check("conversations.open", {}) is None
    assert limiter.check("conversations.open", {}) == 2
    assert limiter.admitted["conversations.open"] == 11
    assert limiter.limited["conversations.open"] == 2


def test_refused_calls_take_nothing_and_methods_are_separate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    admitted(limiter, "users.info", 20)  # Tier 4: burst 20, 100 a minute
    assert all(r == 1 for r in admitted(limiter, "users.info", 50))  # hammering...
    clock.now += 0.6
    assert limiter.check("users.info", {}) is None  # ...does not push the next token back
    assert limiter.check("views.publish", {}) is None  # another Tier 4 method, own bucket
    assert limiter.check("not.a.limited.method", {}) is None


def test_post_message_is_limited_per_channel_and_per_workspace() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, post_per_workspace=Limit(60, 5))
    assert admitted(limiter, "chat.postMessage", 3, channel="C1") == [None] * 3
    assert limiter.check("chat.postMessage", {"channel": "C1"}) == 1  # ~1 a second a channel
    assert admitted(limiter, "chat.postMessage", 2, channel="C2") == [None, None]
    assert limiter.check("chat.postMessage", {"channel": "C3"}) == 1  # the workspace's burst
    clock.now += 1.0
    assert limiter.check("chat.postMessage", {"channel": "C1"}) is None


def test_bound_is_the_slowest_method_after_its_burst() -> None:
    limiter = RateLimiter()
    calls = {"conversations.open": 110, "users.info": 120, "chat.postMessage": 350}
    # conversations.open: 100 calls past its burst at 50 a minute -> 120 s.
    assert limiter.bound_seconds(calls) == pytest.approx(120.0)
    assert limiter.bound_seconds({"views.open": 5}) == 0.0


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    s = SlackStub(bot_token=TOKEN, team_id="T0001", bot_user_id="UBOT")
    for n in range(30):
        s.add_user(f"U{n}", name=f"user{n}")
    await s.start()
    yield s
    await s.stop()


def bare_client(stub: SlackStub) -> AsyncWebClient:
    client = AsyncWebClient(token=TOKEN, base_url=stub.api_url)
    client.retry_handlers = []  # see every 429
    return client


async def test_the_stub_is_unlimited_unless_switched_on(stub: SlackStub) -> None:
    client = bare_client(stub)
    for n in range(30):
        await client.conversations_open(users=f"U{n}")
    assert all(c.status == 200 for c in stub.calls)


async def test_past_a_limit_the_stub_answers_429_with_retry_after(stub: SlackStub) -> None:
    clock = FakeClock()
    limiter = stub.enable_rate_limits(RateLimiter(clock=clock))
    client = bare_client(stub)
    for n in range(10):
        await client.conversations_open(users=f"U{n}")
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_open(users="U10")
    assert refused.value.response.status_code == 429
    assert refused.value.response["error"] == "ratelimited"
    assert refused.value.response.headers["Retry-After"] == "2"
    assert stub.calls[-1].status == 429
    clock.now += 1.2
    await client.conversations_open(users="U10")
    assert limiter.limited["conversations.open"] == 1


async def test_a_user_id_and_its_dm_are_one_channel(stub: SlackStub) -> None:
    stub.enable_rate_limits(RateLimiter(clock=FakeClock()))
    client = bare_client(stub)
    dm = stub.dm_channel_for("U1")
    for channel in ("U1", dm, "U1"):
        await client.chat_postMessage(channel=channel, text="hello")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=dm, text="one too many")
    assert refused.value.response.status_code == 429
    assert [m["text"] for m in stub.messages(dm)] == ["hello"] * 3


async def test_a_first_post_by_user_id_counts_against_the_dm_it_opens(stub: SlackStub) -> None:
    """No DM exists yet: the post to the user id and later ones to the D… id share a bucket."""
    stub.enable_rate_limits(RateLimiter(clock=FakeClock()))
    client = bare_client(stub)
    first = await client.chat_postMessage(channel="U2", text="hello")
    dm = first["channel"]
    assert dm == stub.dm_channel_for("U2") and dm.startswith("D")
    for channel in (dm, "U2"):
        await client.chat_postMessage(channel=channel, text="hello")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=dm, text="one too many")
    assert refused.value.response.status_code == 429
    assert len(stub.messages(dm)) == 3


async def test_users_list_is_tier_2(stub: SlackStub) -> None:
    clock = FakeClock()
    limiter = stub.enable_rate_limits(RateLimiter(clock=clock))
    client = bare_client(stub)
    for _ in range(5):  # Tier 2: 20 a minute, burst 5
        await client.users_list(limit=2)
    with pytest.raises(SlackApiError) as refused:
        await client.users_list(limit=2)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "3"
    assert limiter.limited["users.list"] == 1
