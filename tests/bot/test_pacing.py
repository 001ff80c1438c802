"""Keeping to Slack's rate limits: the shared gate, and fan-outs against the limiting stub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.localslack.ratelimit import Limit, RateLimiter
from bot.localslack.server import SlackStub
from bot.pacing import Pacer
from bot.slack import build_client

TOKEN = "xoxb-test"


class FakeTime:
    """A clock and a sleep that only move the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


async def test_a_method_never_refused_never_waits() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    for _ in range(100):
        await pacer.wait("users.info")
    assert fake.slept == []


async def test_after_a_429_calls_wait_it_out_then_keep_to_the_tier() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    pacer.refused("conversations.open", 2)  # Tier 3: 50 a minute, 1.2 s apart
    for _ in range(3):
        await pacer.wait("conversations.open")
    assert fake.slept == [2.0, 1.2, 1.2]
    await pacer.wait("users.info")  # other methods are not held up
    assert fake.slept == [2.0, 1.2, 1.2]
    fake.now += 61  # a quiet minute later the method runs freely again
    await pacer.wait("conversations.open")
    await pacer.wait("conversations.open")
    assert fake.slept == [2.0, 1.2, 1.2]


async def test_post_message_is_paced_per_channel() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    pacer.refused(Pacer.key("chat.postMessage", {"channel": "C1"}), 1)
    await pacer.wait(Pacer.key("chat.postMessage", {"channel": "C2"}))
    assert fake.slept == []
    await pacer.wait(Pacer.key("chat.postMessage", {"channel": "C1"}))
    assert fake.slept == [1.0]


async def test_post_message_429s_on_two_channels_pace_every_post() -> None:
    """Two channels refused in a row: the workspace ceiling, not one busy channel."""
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep, post_per_workspace_per_minute=300)
    pacer.refused(Pacer.key("chat.postMessage", {"channel": "U1"}), 1)
    await pacer.wait(Pacer.key("chat.postMessage", {"channel": "U2"}))
    assert fake.slept == []  # one channel's 429 holds only that channel
    fake.now += 0.5
    pacer.refused(Pacer.key("chat.postMessage", {"channel": "U3"}), 1)
    for user in ("U4", "U5", "U6"):  # channels never refused wait their turn among all posts
        await pacer.wait(Pacer.key("chat.postMessage", {"channel": user}))
    assert fake.slept == [1.0, 0.2, 0.2]
    await pacer.wait("chat.update")  # other methods are not held up
    assert fake.slept == [1.0, 0.2, 0.2]


async def test_post_message_429s_far_apart_do_not_pace_every_post() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    pacer.refused(Pacer.key("chat.postMessage", {"channel": "C1"}), 1)
    fake.now += 30
    pacer.refused(Pacer.key("chat.postMessage", {"channel": "C2"}), 1)
    await pacer.wait(Pacer.key("chat.postMessage", {"channel": "C3"}))
    assert fake.slept == []


async def test_waiting_calls_go_first_come_first_served() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    pacer.refused("chat.update", 1)
    order: list[int] = []

    async def call(n: int) -> None:
        await pacer.wait("chat.update")
        order.append(n)

    await asyncio.gather(*(call(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    s = SlackStub(bot_token=TOKEN, team_id="T0001", bot_user_id="UBOT")
    for n in range(40):
        s.add_user(f"U{n:02d}", name=f"user{n}")
    await s.start()
    yield s
    await s.stop()


async def test_a_call_refused_more_than_three_times_still_goes_through(stub: SlackStub) -> None:
    """The SDK's own handler gives up after three 429s; a rate limit must not lose a DM."""
    client = build_client(TOKEN, stub.api_url)
    stub.rate_limit_next("chat.postMessage", retry_after=0, times=4)
    await client.chat_postMessage(channel="U01", text="hello")
    assert [c.status for c in stub.calls_to("chat.postMessage", all=True)] == [429] * 4 + [200]


async def test_concurrent_fan_outs_under_a_tier_lose_nothing_and_do_not_hammer(
    stub: SlackStub,
) -> None:
    """Eight DM fan-outs at once against a Tier 3 conversations.open (sped up 12 times)."""
    limiter = stub.enable_rate_limits(RateLimiter(tiers={3: Limit(600, 4), 4: Limit(1200, 8)}))
    client = build_client(TOKEN, stub.api_url)
    client.pacer.tier_per_minute = {3: 600.0, 4: 1200.0}  # the same speed-up on our side

    async def fan_out(users: list[str]) -> None:
        for user in users:
            opened = await client.conversations_open(users=user)
            await client.chat_postMessage(channel=opened["channel"]["id"], text="check-in")

    groups = [[f"U{n:02d}" for n in range(k, 40, 8)] for k in range(8)]
    await asyncio.wait_for(asyncio.gather(*(fan_out(g) for g in groups)), 60)
    assert all(len(stub.messages(stub.dm_channel_for(f"U{n:02d}"))) == 1 for n in range(40))
    # Only calls already in flight meet the limit; then all take turns at the tier's pace.
    # (Each retrying on its own, as the SDK's handler does, collects about 20 here.)
    assert limiter.limited["conversations.open"] <= len(groups)


async def test_a_dm_fan_out_keeps_to_the_workspace_ceiling_without_a_storm(
    stub: SlackStub,
) -> None:
    """Forty DMs by user id, one after another, against a post ceiling (sped up 10 times)."""
    limiter = stub.enable_rate_limits(RateLimiter(post_per_workspace=Limit(1200, 5)))
    client = build_client(TOKEN, stub.api_url)
    client.pacer.post_per_workspace_per_minute = 1200.0  # the same speed-up on our side
    for n in range(40):
        posted = await client.chat_postMessage(channel=f"U{n:02d}", text="check-in")
        assert posted["channel"] == stub.dm_channel_for(f"U{n:02d}")
    assert all(len(stub.messages(f"U{n:02d}")) == 1 for n in range(40))
    # Past the burst, the first 429s (two channels) set the pace; then at most the odd one.
    # (Without the workspace gate every few DMs meet the ceiling again: 7 here.)
    assert limiter.limited["chat.postMessage"] <= 3
