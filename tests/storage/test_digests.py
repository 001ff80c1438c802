"""Digest subscriptions, the once-per-week post claim and risk snapshots, on SQLite and
PostgreSQL: several bot processes sharing one database post each digest once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from storage import digests as dq
from storage.models import Snapshot
from tests.storage.conftest import race

T1 = "T1"
T2 = "T2"
CAROL = "UCAROL"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 09:00 in Helsinki
WEEK = date(2026, 11, 23)


async def subscribe(conn, channel: str = "C9", *, tiers: tuple[str, ...] = ("A",), at=NOW):
    return await dq.save_subscription(
        conn,
        team_id=T1,
        channel_id=channel,
        weekday=0,
        hour=9,
        minute=0,
        tz="Europe/Helsinki",
        tiers=tiers,
        user_id=CAROL,
        now=at,
    )


async def subscription(engine):
    async with engine.begin() as conn:
        sub, created = await subscribe(conn)
    assert created
    return sub


async def test_subscription_saved_updated_ended_and_renewed(conn):
    sub, created = await subscribe(conn, tiers=("B", "A"))
    assert created and sub.tiers == ("A", "B") and sub.active
    again, created = await subscribe(conn, tiers=())
    assert not created and again.id == sub.id and again.tiers == ()
    assert await dq.end_subscription(conn, team_id=T1, channel_id="C9", now=NOW)
    assert not await dq.end_subscription(conn, team_id=T1, channel_id="C9", now=NOW)
    assert await dq.get_subscription(conn, team_id=T1, channel_id="C9") is None
    assert await dq.active_subscriptions(conn) == []
    renewed, created = await subscribe(conn)
    assert created and renewed.id == sub.id
    assert await dq.active_subscriptions(conn, team_id=T1) == [renewed]


async def test_a_week_is_claimed_once(conn):
    sub, _ = await subscribe(conn)
    assert await dq.last_claimed_week(conn, subscription_id=sub.id) is None
    post_id = await dq.claim_post(conn, subscription=sub, week=WEEK, now=NOW)
    assert post_id is not None
    assert await dq.claim_post(conn, subscription=sub, week=WEEK, now=NOW) is None
    # the failed claim rolled back only its savepoint: the transaction goes on
    later = WEEK + timedelta(days=7)
    assert await dq.claim_post(conn, subscription=sub, week=later, now=NOW) is not None
    assert await dq.last_claimed_week(conn, subscription_id=sub.id) == later
    assert [(p.week, p.status) for p in await dq.posts(conn, team_id=T1)] == [
        (WEEK, "claimed"),
        (later, "claimed"),
    ]


async def test_two_processes_claiming_one_week_only_one_posts(engine):
    sub = await subscription(engine)

    async def claim(conn):
        return await dq.claim_post(conn, subscription=sub, week=WEEK, now=NOW)

    first, second = await race(engine, claim)
    assert first is not None and second is None
    async with engine.connect() as conn:
        assert [p.id for p in await dq.posts(conn, team_id=T1)] == [first]


async def test_many_processes_claiming_one_week_at_once_one_wins(engine):
    sub = await subscription(engine)

    async def claim() -> int | None:
        async with engine.begin() as conn:
            return await dq.claim_post(conn, subscription=sub, week=WEEK, now=NOW)

    claims = await asyncio.gather(*(claim() for _ in range(5)))
    assert len([c for c in claims if c is not None]) == 1


async def test_a_failed_post_is_retried_by_one_process(engine):
    sub = await subscription(engine)
    async with engine.begin() as conn:
        post_id = await dq.claim_post(conn, subscription=sub, week=WEEK, now=NOW)
        assert post_id is not None
        await dq.record_post(
            conn,
            post_id=post_id,
            status=dq.FAILED,
            attempts=1,
            now=NOW,
            error="x" * 300,
            next_attempt_at=NOW + timedelta(minutes=1),
        )
    async with engine.connect() as conn:
        assert await dq.due_retries(conn, now=NOW) == []
        (post,) = await dq.due_retries(conn, now=NOW + timedelta(minutes=1))
    assert post.error == "x" * 200 and post.attempts == 1

    async def take(conn):
        return await dq.take_retry(conn, post=post, now=NOW + timedelta(minutes=1))

    assert await race(engine, take) == (True, False)
    async with engine.begin() as conn:
        await dq.record_post(
            conn, post_id=post.id, status=dq.POSTED, attempts=2, now=NOW, message_ts="1.2"
        )
        (done,) = await dq.posts(conn, team_id=T1)
    assert (done.status, done.posted_at, done.message_ts, done.error) == (
        "posted",
        NOW,
        "1.2",
        None,
    )


async def test_a_channel_subscribed_twice_at_once_has_one_subscription(engine):
    async def save(conn):
        return await subscribe(conn)

    (first, first_new), (second, second_new) = await race(engine, save)
    assert (first_new, second_new) == (True, False) and first.id == second.id
    async with engine.connect() as conn:
        assert len(await dq.active_subscriptions(conn)) == 1


async def test_the_first_snapshot_of_a_week_stands(engine):
    def snapshot(at_risk: int) -> Snapshot:
        return Snapshot(week=WEEK, at_risk=at_risk, watch=2, healthy=3, unknown=0, avg_trust=3.5)

    counts = iter([1, 9])

    async def save(conn):
        await dq.save_snapshot(conn, team_id=T1, snapshot=snapshot(next(counts)), now=NOW)

    await race(engine, save)
    async with engine.connect() as conn:
        stored = await dq.snapshots(conn, team_id=T1, since=WEEK)
        assert await dq.snapshots(conn, team_id=T1, since=WEEK + timedelta(days=1)) == {}
    assert stored == {WEEK: snapshot(1)}


async def test_a_snapshot_keeps_its_at_risk_accounts(engine):
    snap = Snapshot(
        week=WEEK,
        at_risk=2,
        watch=0,
        healthy=1,
        unknown=0,
        avg_trust=None,
        at_risk_ids=frozenset({7, 3}),
    )
    async with engine.begin() as conn:
        await dq.save_snapshot(conn, team_id=T1, snapshot=snap, now=NOW)
    async with engine.connect() as conn:
        with_ids = await dq.snapshots(conn, team_id=T1, since=WEEK, ids=True)
        without = await dq.snapshots(conn, team_id=T1, since=WEEK)
        other_team = await dq.snapshots(conn, team_id=T2, since=WEEK, ids=True)
        before = await dq.snapshots(
            conn, team_id=T1, since=WEEK - timedelta(weeks=2), until=WEEK - timedelta(days=1)
        )
    assert with_ids == {WEEK: snap}
    assert without[WEEK].at_risk_ids is None and without[WEEK].at_risk == 2
    assert other_team == {} and before == {}


async def test_a_snapshot_without_accounts_gives_way_to_one_with_them(engine):
    old = Snapshot(week=WEEK, at_risk=5, watch=0, healthy=0, unknown=0, avg_trust=2.0)
    new = Snapshot(
        week=WEEK,
        at_risk=1,
        watch=1,
        healthy=0,
        unknown=0,
        avg_trust=3.0,
        at_risk_ids=frozenset({4}),
    )
    later = Snapshot(
        week=WEEK,
        at_risk=0,
        watch=0,
        healthy=2,
        unknown=0,
        avg_trust=4.0,
        at_risk_ids=frozenset(),
    )
    for snap in (old, new, later):
        async with engine.begin() as conn:
            await dq.save_snapshot(conn, team_id=T1, snapshot=snap, now=NOW)
    async with engine.connect() as conn:
        stored = await dq.snapshots(conn, team_id=T1, since=WEEK, ids=True)
    # counts and accounts always from one computation; the first complete one stands
    assert stored == {WEEK: new}
