"""Services.users and DM channels against the stub and a real database: users.info for a
few, users.list pages for many (shared by concurrent callers), D… ids remembered."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import START, TEAM, Bot, eventually

MANY = [f"UM{n:03d}" for n in range(30)]


def add_users(bot: Bot, users: list[str]) -> None:
    for user in users:
        bot.stub.add_user(user, name=user.lower(), tz="Asia/Tokyo")


async def test_more_than_a_few_come_from_users_list(bot: Bot) -> None:
    add_users(bot, MANY)
    found = await bot.svc.users(team_id=TEAM, user_ids=MANY[:11], now=START)
    assert (
        {u: (found[u].name, found[u].tz) for u in MANY[:11]}
        == {  # type: ignore[union-attr]
            u: (u.lower(), "Asia/Tokyo") for u in MANY[:11]
        }
    )
    assert len(bot.stub.calls_to("users.list")) == 1
    assert bot.stub.calls_to("users.info") == []
    # Every member the page named is cached now: the rest need no call at all.
    again = await bot.svc.users(team_id=TEAM, user_ids=MANY, now=START)
    assert all(again[u] is not None for u in MANY)
    assert len(bot.stub.calls_to("users.list")) == 1
    assert bot.stub.calls_to("users.info") == []


async def test_ten_or_fewer_are_asked_one_by_one(bot: Bot) -> None:
    add_users(bot, MANY)
    await bot.svc.users(team_id=TEAM, user_ids=MANY[:10], now=START)
    assert sorted(c.args["user"] for c in bot.stub.calls_to("users.info")) == MANY[:10]
    assert bot.stub.calls_to("users.list") == []


async def test_a_listing_stops_when_it_has_cost_what_lookups_would(bot: Bot) -> None:
    """Twelve wanted users at the end of a big workspace: three pages (worth fifteen
    users.info calls) find none of them, so users.info asks for each."""
    add_users(bot, [f"UA{n:04d}" for n in range(700)])
    wanted = MANY[:12]
    add_users(bot, wanted)
    found = await bot.svc.users(team_id=TEAM, user_ids=wanted, now=START)
    assert all(found[u] is not None for u in wanted)
    assert len(bot.stub.calls_to("users.list")) == 3
    assert sorted(c.args["user"] for c in bot.stub.calls_to("users.info")) == wanted


async def test_concurrent_callers_share_one_listing(bot: Bot, monkeypatch: Any) -> None:
    add_users(bot, MANY)
    client = bot.svc.client
    original = client.users_list
    release = asyncio.Event()
    started: list[dict[str, Any]] = []

    async def held_users_list(**kwargs: Any) -> Any:
        started.append(kwargs)
        await release.wait()
        return await original(**kwargs)

    monkeypatch.setattr(client, "users_list", held_users_list)
    first = asyncio.create_task(bot.svc.users(team_id=TEAM, user_ids=MANY[:15], now=START))
    await eventually(lambda: started)
    second = asyncio.create_task(bot.svc.users(team_id=TEAM, user_ids=MANY[15:], now=START))
    await eventually(lambda: len(bot.svc._listings[TEAM].wanted) == len(MANY))
    release.set()
    found = {**await first, **await second}
    assert all(found[u] is not None for u in MANY)
    assert len(started) == 1 and len(bot.stub.calls_to("users.list")) == 1
    assert bot.stub.calls_to("users.info") == []


async def test_when_users_list_fails_each_is_asked_instead(bot: Bot) -> None:
    add_users(bot, MANY)
    bot.stub.fail_next("users.list", error="missing_scope")
    found = await bot.svc.users(team_id=TEAM, user_ids=MANY[:12], now=START)
    assert all(found[u] is not None for u in MANY[:12])
    assert len(bot.stub.calls_to("users.info")) == 12


async def test_a_dm_channel_is_opened_once_then_remembered(bot: Bot) -> None:
    add_users(bot, MANY[:1])
    user = MANY[0]
    await bot.svc.users(team_id=TEAM, user_ids=[user], now=START)  # cached, no DM known
    dm = bot.stub.dm_channel_for(user)
    assert await bot.svc.dm_channel(team_id=TEAM, user_id=user) == dm
    assert await bot.svc.dm_channel(team_id=TEAM, user_id=user) == dm
    assert len(bot.stub.calls_to("conversations.open")) == 1


async def test_a_dm_posted_to_a_user_id_remembers_its_channel(bot: Bot) -> None:
    add_users(bot, MANY[:1])
    user = MANY[0]
    await bot.svc.users(team_id=TEAM, user_ids=[user], now=START)
    posted = await bot.svc.post_dm(team_id=TEAM, user_id=user, text="hello")
    assert posted["channel"] == bot.stub.dm_channel_for(user)
    assert await bot.svc.dm_channel(team_id=TEAM, user_id=user) == posted["channel"]
    assert bot.stub.calls_to("conversations.open") == []
