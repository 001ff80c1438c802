"""Digest subscriptions, the once-per-week post claims, and weekly risk snapshots."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import DigestPost, Snapshot, Subscription

CLAIMED, POSTED, FAILED, GAVE_UP = "claimed", "posted", "failed", "gave_up"


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        weekday=row.weekday,
        hour=row.hour,
        minute=row.minute,
        tz=row.tz,
        tiers=tuple(x for x in row.tiers.split(",") if x),
        created_by=row.created_by,
        active=bool(row.active),
    )


def _post(row: Any) -> DigestPost:
    return DigestPost(
        id=row.id,
        team_id=row.team_id,
        subscription_id=row.subscription_id,
        week=row.week,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        posted_at=row.posted_at,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        error=row.error,
    )


async def save_subscription(
    conn: AsyncConnection,
    *,
    team_id: str,
    channel_id: str,
    weekday: int,
    hour: int,
    minute: int,
    tz: str,
    tiers: tuple[str, ...],
    user_id: str,
    now: datetime,
) -> tuple[Subscription, bool]:
    """Subscribe a channel, or update its one subscription; True when it is new."""
    s = t.digest_subscriptions
    values = {
        "weekday": weekday,
        "hour": hour,
        "minute": minute,
        "tz": tz,
        "tiers": ",".join(sorted(tiers)),
        "updated_at": now,
        "active": 1,
    }
    where = and_(s.c.team_id == team_id, s.c.channel_id == channel_id)
    existing = (await conn.execute(select(s.c.id, s.c.active).where(where))).first()
    if existing is None:
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(s).values(
                        team_id=team_id,
                        channel_id=channel_id,
                        created_by=user_id,
                        created_at=now,
                        **values,
                    )
                )
            created = True
        except IntegrityError:  # subscribed by someone else at the same moment
            await conn.execute(update(s).where(where).values(**values))
            created = False
    else:
        await conn.execute(update(s).where(where).values(**values))
        created = not existing.active
    row = (await conn.execute(select(s).where(where))).one()
    return _subscription(row), created


async def end_subscription(
    conn: AsyncConnection, *, team_id: str, channel_id: str, now: datetime
) -> bool:
    """Unsubscribe a channel; False if it was not subscribed."""
    s = t.digest_subscriptions
    result = await conn.execute(
        update(s)
        .where(s.c.team_id == team_id, s.c.channel_id == channel_id, s.c.active == 1)
        .values(active=0, updated_at=now)
    )
    return result.rowcount == 1


async def get_subscription(
    conn: AsyncConnection, *, team_id: str, channel_id: str
) -> Subscription | None:
    """A channel's active subscription."""
    s = t.digest_subscriptions
    row = (
        await conn.execute(
            select(s).where(s.c.team_id == team_id, s.c.channel_id == channel_id, s.c.active == 1)
        )
    ).first()
    return _subscription(row) if row else None


async def active_subscriptions(
    conn: AsyncConnection, *, team_id: str | None = None
) -> list[Subscription]:
    """Every active subscription (of one workspace, or of all for the scheduler)."""
    s = t.digest_subscriptions
    query = select(s).where(s.c.active == 1)
    if team_id is not None:
        query = query.where(s.c.team_id == team_id)
    return [_subscription(r) for r in await conn.execute(query.order_by(s.c.id))]


async def last_claimed_week(conn: AsyncConnection, *, subscription_id: int) -> date | None:
    """The newest week this subscription's digest was claimed for (posted or not)."""
    d = t.digest_posts
    value = (
        await conn.execute(select(func.max(d.c.week)).where(d.c.subscription_id == subscription_id))
    ).scalar_one()
    if isinstance(value, str):  # aggregates lose the column type on SQLite
        value = date.fromisoformat(value)
    return value


async def claim_post(
    conn: AsyncConnection,
    *,
    subscription: Subscription,
    week: date,
    now: datetime,
) -> int | None:
    """Claim (subscription, week) before posting; None when it was claimed already."""
    try:
        async with conn.begin_nested():
            result = await conn.execute(
                insert(t.digest_posts).values(
                    team_id=subscription.team_id,
                    subscription_id=subscription.id,
                    week=week,
                    status=CLAIMED,
                    claimed_at=now,
                    attempts=0,
                    channel_id=subscription.channel_id,
                )
            )
    except IntegrityError:
        return None
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def record_post(
    conn: AsyncConnection,
    *,
    post_id: int,
    status: str,
    attempts: int,
    now: datetime,
    message_ts: str | None = None,
    error: str | None = None,
    chart_error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record how an attempt to post went."""
    await conn.execute(
        update(t.digest_posts)
        .where(t.digest_posts.c.id == post_id)
        .values(
            status=status,
            attempts=attempts,
            posted_at=now if status == POSTED else None,
            message_ts=message_ts,
            error=error[:200] if error else None,
            chart_error=chart_error[:200] if chart_error else None,
            next_attempt_at=next_attempt_at,
        )
    )


async def take_retry(conn: AsyncConnection, *, post: DigestPost, now: datetime) -> bool:
    """Take a failed post for another attempt; False if another process took it first."""
    d = t.digest_posts
    result = await conn.execute(
        update(d)
        .where(d.c.id == post.id, d.c.status == FAILED, d.c.attempts == post.attempts)
        .values(status=CLAIMED, claimed_at=now)
    )
    return result.rowcount == 1


async def due_retries(conn: AsyncConnection, *, now: datetime) -> list[DigestPost]:
    """Failed posts whose next attempt is due."""
    d = t.digest_posts
    rows = await conn.execute(
        select(d)
        .where(d.c.status == FAILED, d.c.next_attempt_at <= now)
        .order_by(d.c.next_attempt_at, d.c.id)
    )
    return [_post(r) for r in rows]


async def posts(conn: AsyncConnection, *, team_id: str) -> list[DigestPost]:
    """Every digest post of a workspace, oldest first."""
    d = t.digest_posts
    rows = await conn.execute(select(d).where(d.c.team_id == team_id).order_by(d.c.id))
    return [_post(r) for r in rows]


async def save_snapshot(
    conn: AsyncConnection, *, team_id: str, snapshot: Snapshot, now: datetime
) -> None:
    """Store a week's risk counts (the first computation of a week stands).

    A snapshot stored without its at-risk accounts (before migration 0007) is replaced by
    one that has them, so counts and accounts always come from the same computation.
    """
    r = t.risk_snapshots
    values = {
        "at_risk": snapshot.at_risk,
        "watch": snapshot.watch,
        "healthy": snapshot.healthy,
        "unknown": snapshot.unknown,
        "avg_trust": snapshot.avg_trust,
        "computed_at": now,
        "at_risk_ids": _ids_json(snapshot.at_risk_ids),
    }
    try:
        async with conn.begin_nested():
            await conn.execute(insert(r).values(team_id=team_id, week=snapshot.week, **values))
    except IntegrityError:
        if snapshot.at_risk_ids is not None:
            await conn.execute(
                update(r)
                .where(r.c.team_id == team_id, r.c.week == snapshot.week, r.c.at_risk_ids.is_(None))
                .values(**values)
            )


async def snapshots(
    conn: AsyncConnection,
    *,
    team_id: str,
    since: date,
    until: date | None = None,
    ids: bool = False,
) -> dict[date, Snapshot]:
    """Stored weekly snapshots from `since` on (to `until`); their at-risk accounts if `ids`."""
    r = t.risk_snapshots
    columns = [r.c.week, r.c.at_risk, r.c.watch, r.c.healthy, r.c.unknown, r.c.avg_trust]
    if ids:
        columns.append(r.c.at_risk_ids)
    query = select(*columns).where(r.c.team_id == team_id, r.c.week >= since)
    if until is not None:
        query = query.where(r.c.week <= until)
    rows = await conn.execute(query.order_by(r.c.week))
    return {
        row.week: Snapshot(
            week=row.week,
            at_risk=row.at_risk,
            watch=row.watch,
            healthy=row.healthy,
            unknown=row.unknown,
            avg_trust=row.avg_trust,
            at_risk_ids=_ids(row.at_risk_ids) if ids else None,
        )
        for row in rows
    }


def _ids_json(ids: frozenset[int] | None) -> str | None:
    return None if ids is None else json.dumps(sorted(ids), separators=(",", ":"))


def _ids(text: str | None) -> frozenset[int] | None:
    return None if text is None else frozenset(int(i) for i in json.loads(text))
