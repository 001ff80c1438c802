"""Scenario: one /checkin naming many teammates, against the stub enforcing Slack's rate
limits (sped up ten times, on both sides): every DM arrives once, with one call each."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select

from bot.localslack.ratelimit import Limit, RateLimiter
from storage import tables as t
from tests.conftest import ALICE, Bot, eventually
from tests.handlers.test_health import add_accounts

SPEED_UP = 10
TEAMMATES = [f"UF{n:03d}" for n in range(100)]


@pytest.fixture
def limited(bot: Bot) -> RateLimiter:
    """Slack's limits at ten times their speed in the stub and in the bot's client."""
    limiter = bot.stub.enable_rate_limits(
        RateLimiter(
            tiers={2: Limit(20 * SPEED_UP, 5), 3: Limit(50 * SPEED_UP, 10), 4: Limit(1000, 20)},
            post_per_channel=Limit(60 * SPEED_UP, 3),
            post_per_workspace=Limit(300 * SPEED_UP, 20),
        )
    )
    pacer = bot.svc.client.pacer  # type: ignore[attr-defined]
    pacer.tier_per_minute = {n: per * SPEED_UP for n, per in pacer.tier_per_minute.items()}
    pacer.post_per_channel_per_minute *= SPEED_UP
    pacer.post_per_workspace_per_minute *= SPEED_UP
    return limiter


def add_teammates(bot: Bot, users: list[str]) -> None:
    for user in users:
        bot.stub.add_user(user, name=user.lower(), tz="Europe/Helsinki")


async def checkin(bot: Bot, users: list[str]) -> list[dict[str, Any]]:
    """Run /checkin naming `users`; every answer on its response_url, the last one final."""
    mentions = " ".join(f"<@{u}|{u.lower()}>" for u in users)
    reply = await bot.slack.command("/checkin", f"Acme call {mentions}", user_id=ALICE)
    assert reply.status == 200
    url = bot.slack.last_response_url
    assert url is not None
    token = url.rsplit("/", 1)[-1]

    def answers() -> list[dict[str, Any]]:
        return [r.body for r in bot.stub.responses if r.url_token == token]

    await eventually(lambda: any("Check-ins sent" in str(a) for a in answers()), limit=20)
    return answers()


def checkin_dms(bot: Bot, user: str) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.stub.messages(user)
        if (m.get("metadata") or {}).get("event_type") == "trustloop_checkin"
    ]


async def test_a_hundred_teammates_get_one_dm_each_with_one_call_each(
    bot: Bot, limited: RateLimiter
) -> None:
    await add_accounts(bot, "Acme")
    add_teammates(bot, TEAMMATES)
    bot.stub.clear()
    answers = await checkin(bot, TEAMMATES)

    assert all(len(checkin_dms(bot, u)) == 1 for u in TEAMMATES)
    # A DM is one chat.postMessage to the user id; the teammates come from users.list pages.
    assert bot.stub.calls_to("conversations.open", all=True) == []
    assert bot.stub.calls_to("users.info", all=True) == []
    assert len(bot.stub.calls_to("users.list")) <= math.ceil(len(TEAMMATES) / 200)
    posts = bot.stub.calls_to("chat.postMessage", all=True)
    assert {c.args["channel"] for c in posts} == set(TEAMMATES)
    # No retry storm: past the burst a couple of 429s set the pace, then posts keep to it.
    assert limited.limited["chat.postMessage"] <= 5
    assert sum(limited.limited.values()) <= 6

    # The caller hears at once that the DMs are coming, then that they are out (in short).
    first, final = str(answers[0]), str(answers[-1])
    assert "Sending check-ins to 100 teammates" in first
    assert "Check-ins sent to <@UF000>" in final and "and 75 more" in final
    assert "Couldn't DM" not in final

    async with bot.svc.engine.connect() as conn:
        rows = (await conn.execute(select(t.checkins).where(t.checkins.c.user_id != ALICE))).all()
        users = (await conn.execute(select(t.slack_users))).all()
    assert len(rows) == len(TEAMMATES)
    # Each DM's D… id, from chat.postMessage's answer: answers update the message there.
    assert all(r.dm_channel == bot.stub.dm_channel_for(r.user_id) for r in rows)
    assert {u.user_id: u.dm_channel for u in users if u.user_id in TEAMMATES} == {
        u: bot.stub.dm_channel_for(u) for u in TEAMMATES
    }


async def test_a_few_teammates_are_looked_up_one_by_one(bot: Bot, limited: RateLimiter) -> None:
    await add_accounts(bot, "Acme")
    add_teammates(bot, TEAMMATES[:3])
    bot.stub.clear()
    await checkin(bot, TEAMMATES[:3])
    assert all(len(checkin_dms(bot, u)) == 1 for u in TEAMMATES[:3])
    assert len(bot.stub.calls_to("users.info")) == 3
    assert bot.stub.calls_to("users.list", all=True) == []
    assert bot.stub.calls_to("conversations.open", all=True) == []


async def test_bots_deactivated_and_strangers_among_many_get_no_dm(
    bot: Bot, limited: RateLimiter
) -> None:
    await add_accounts(bot, "Acme")
    people = TEAMMATES[:20]
    add_teammates(bot, people)
    bot.stub.add_user("UFBOT", name="helper", is_bot=True)
    bot.stub.add_user("UFGONE", name="gone", deleted=True)
    bot.stub.clear()
    final = str((await checkin(bot, [*people, "UFBOT", "UFGONE", "UFNOBODY"]))[-1])
    assert "<@UFBOT> is a bot" in final
    assert "<@UFGONE> has been deactivated" in final
    assert "<@UFNOBODY> is not a member of this workspace" in final
    assert all(len(checkin_dms(bot, u)) == 1 for u in people)
    for other in ("UFBOT", "UFGONE"):
        assert bot.stub.messages(other) == []
    # The listing names every member; only the one it does not name is asked about.
    assert [c.args["user"] for c in bot.stub.calls_to("users.info", all=True)] == ["UFNOBODY"]
    assert len(bot.stub.calls_to("users.list")) == 1
