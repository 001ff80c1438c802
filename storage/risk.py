"""Windowed, grouped queries that gather the risk model's signals for many accounts at once.

Cost grows with the number of accounts and the window, not with total history: every
query is bounded by a time range on an indexed column and grouped by account, so a
digest over 10,000 accounts is a handful of queries, never one per account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import Account, AccountSignals, Interaction, WeekRating
from storage.queries import ANSWERED, AWAY, EXPIRED, _account, _interaction

COMPLAINT = "complaint"
KEPT, BROKEN, OPEN = "kept", "broken", "open"


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


async def load_accounts(
    conn: AsyncConnection,
    *,
    team_id: str,
    tiers: Sequence[str] = (),
    account_ids: Sequence[int] | None = None,
    created_before: datetime | None = None,
) -> list[Account]:
    """The workspace's accounts, optionally only some tiers or ids, or those that existed then."""
    a = t.accounts
    query = select(a).where(a.c.team_id == team_id)
    if tiers:
        query = query.where(a.c.tier.in_(list(tiers)))
    if account_ids is not None:
        query = query.where(a.c.id.in_(list(account_ids)))
    if created_before is not None:
        query = query.where(a.c.created_at <= created_before)
    rows = await conn.execute(query.order_by(a.c.id))
    return [_account(r) for r in rows]


async def account_signals(
    conn: AsyncConnection,
    *,
    team_id: str,
    now: datetime,
    accounts: Sequence[Account],
    window_weeks: int = 12,
    recent_days: int = 28,
) -> list[AccountSignals]:
    """Signals for `accounts` as of `now`, from data at or before `now` only."""
    if not accounts:
        return []
    ids = [a.id for a in accounts]
    only = None if len(ids) > 500 else ids  # long IN lists cost more than filtering in Python
    start = now - timedelta(weeks=window_weeks)
    recent = now - timedelta(days=recent_days)
    c, i, p, e = t.checkins, t.interactions, t.promises, t.promise_events
    data: dict[int, dict[str, Any]] = defaultdict(dict)

    def scoped(column: Any) -> list[Any]:
        return [] if only is None else [column.in_(only)]

    # answered ratings per account and week
    bucket = case(
        *[(c.c.answered_at >= now - timedelta(weeks=k + 1), k) for k in range(window_weeks)],
        else_=window_weeks,
    )
    rows = await conn.execute(
        select(i.c.account_id, bucket, func.avg(c.c.rating), func.count())
        .join(i, i.c.id == c.c.interaction_id)
        .where(
            c.c.team_id == team_id,
            c.c.answered_at >= start,
            c.c.answered_at <= now,
            c.c.status == ANSWERED,
            *scoped(i.c.account_id),
        )
        .group_by(i.c.account_id, bucket)
    )
    weeks: dict[int, list[WeekRating]] = defaultdict(list)
    for account_id, ago, avg, n in rows:
        if ago < window_weeks:
            weeks[account_id].append(WeekRating(int(ago), float(avg), int(n)))

    # the last six ratings per account, newest first
    numbered = (
        select(
            i.c.account_id.label("account_id"),
            c.c.rating.label("rating"),
            func.row_number()
            .over(partition_by=i.c.account_id, order_by=(c.c.answered_at.desc(), c.c.id.desc()))
            .label("n"),
        )
        .join(i, i.c.id == c.c.interaction_id)
        .where(
            c.c.team_id == team_id,
            c.c.answered_at >= start,
            c.c.answered_at <= now,
            c.c.status == ANSWERED,
            *scoped(i.c.account_id),
        )
        .subquery()
    )
    recent_ratings: dict[int, list[int]] = defaultdict(list)
    rows = await conn.execute(
        select(numbered.c.account_id, numbered.c.rating)
        .where(numbered.c.n <= 6)
        .order_by(numbered.c.account_id, numbered.c.n)
    )
    for account_id, rating in rows:
        recent_ratings[account_id].append(int(rating))

    # last contact and last complaint within the window
    rows = await conn.execute(
        select(
            i.c.account_id,
            _when(func.max(i.c.occurred_at)),
            _when(func.max(case((i.c.kind == COMPLAINT, i.c.occurred_at), else_=None))),
        )
        .where(
            i.c.team_id == team_id,
            i.c.occurred_at >= start,
            i.c.occurred_at <= now,
            *scoped(i.c.account_id),
        )
        .group_by(i.c.account_id)
    )
    for account_id, last, complaint in rows:
        data[account_id]["last_contact_at"] = last
        data[account_id]["last_complaint_at"] = complaint
    # Accounts silent for the whole window: one indexed max per account, only for those.
    silent = [a.id for a in accounts if "last_contact_at" not in data.get(a.id, {})]
    for chunk in _chunks(silent, 500):
        rows = await conn.execute(
            select(i.c.account_id, _when(func.max(i.c.occurred_at)))
            .where(i.c.team_id == team_id, i.c.account_id.in_(chunk), i.c.occurred_at <= now)
            .group_by(i.c.account_id)
        )
        for account_id, last in rows:
            data[account_id]["last_contact_at"] = last

    # check-ins asked recently: unanswered, concerns, "worse"
    answered_by_now = and_(c.c.status == ANSWERED, c.c.answered_at <= now)
    has_concern = and_(answered_by_now, c.c.concern.is_not(None), c.c.concern != "")
    rows = await conn.execute(
        select(
            i.c.account_id,
            func.count(),
            _count(and_(c.c.status == EXPIRED, c.c.closed_at <= now)),
            _count(has_concern),
            _count(and_(answered_by_now, c.c.direction == "worse")),
        )
        .join(i, i.c.id == c.c.interaction_id)
        .where(
            c.c.team_id == team_id,
            c.c.created_at >= recent,
            c.c.created_at <= now,
            c.c.status != AWAY,
            *scoped(i.c.account_id),
        )
        .group_by(i.c.account_id)
    )
    with_concerns = []
    for account_id, asked, unanswered, concerns, worse in rows:
        data[account_id].update(
            asked=int(asked),
            unanswered=int(unanswered or 0),
            concerns=int(concerns or 0),
            worse=int(worse or 0),
        )
        if concerns:
            with_concerns.append(account_id)
    for chunk in _chunks(with_concerns, 500):
        latest = (
            select(
                i.c.account_id.label("account_id"),
                c.c.concern.label("concern"),
                func.row_number()
                .over(partition_by=i.c.account_id, order_by=(c.c.answered_at.desc(), c.c.id.desc()))
                .label("n"),
            )
            .join(i, i.c.id == c.c.interaction_id)
            .where(
                c.c.team_id == team_id,
                c.c.created_at >= recent,
                c.c.created_at <= now,
                i.c.account_id.in_(chunk),
                has_concern,
            )
            .subquery()
        )
        rows = await conn.execute(
            select(latest.c.account_id, latest.c.concern).where(latest.c.n == 1)
        )
        for account_id, concern in rows:
            data[account_id]["latest_concern"] = concern

    # promises open as of `now` (closed later counts as open then)
    today = now.date()
    open_then = and_(
        p.c.created_at <= now,
        or_(p.c.status == OPEN, p.c.closed_at > now),
    )
    rows = await conn.execute(
        select(
            p.c.account_id,
            func.count(),
            _count(p.c.due_date < today),
            type_coerce(func.min(case((p.c.due_date < today, p.c.due_date), else_=None)), Date()),
        )
        .where(p.c.team_id == team_id, open_then, *scoped(p.c.account_id))
        .group_by(p.c.account_id)
    )
    for account_id, open_count, overdue, oldest in rows:
        data[account_id].update(
            open_promises=int(open_count), overdue=int(overdue or 0), oldest_due=oldest
        )

    # promises resolved in the window
    rows = await conn.execute(
        select(
            p.c.account_id,
            _count(and_(e.c.kind == KEPT, e.c.in_time == 1)),
            _count(and_(e.c.kind == KEPT, or_(e.c.in_time == 0, e.c.in_time.is_(None)))),
            _count(e.c.kind == BROKEN),
        )
        .join(p, and_(p.c.id == e.c.promise_id, p.c.team_id == e.c.team_id))
        .where(
            e.c.team_id == team_id,
            e.c.at >= start,
            e.c.at <= now,
            e.c.kind.in_([KEPT, BROKEN]),
            *scoped(p.c.account_id),
        )
        .group_by(p.c.account_id)
    )
    for account_id, kept, late, broken in rows:
        data[account_id].update(
            kept_on_time=int(kept or 0), kept_late=int(late or 0), broken=int(broken or 0)
        )

    out = []
    for account in accounts:
        values = data.get(account.id, {})
        out.append(
            AccountSignals(
                account=account,
                weeks=tuple(sorted(weeks.get(account.id, []), key=lambda w: w.weeks_ago)),
                recent_ratings=tuple(recent_ratings.get(account.id, [])),
                **values,
            )
        )
    return out


def _when(aggregate: Any) -> Any:
    # Aggregates lose the column type; give it back so results come out aware UTC.
    return type_coerce(aggregate, t.UTCDateTime())


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[k : k + size] for k in range(0, len(items), size)]


async def account_interactions(
    conn: AsyncConnection, *, team_id: str, account_id: int, limit: int
) -> list[Interaction]:
    """An account's latest interactions, newest first."""
    i = t.interactions
    rows = await conn.execute(
        select(i)
        .where(i.c.team_id == team_id, i.c.account_id == account_id)
        .order_by(i.c.occurred_at.desc(), i.c.id.desc())
        .limit(limit)
    )
    return [_interaction(r) for r in rows]


async def account_team(
    conn: AsyncConnection, *, team_id: str, account_id: int, since: datetime
) -> list[str]:
    """Who has taken part in the account's interactions since `since`, most involved first."""
    i, c = t.interactions, t.checkins
    rows = await conn.execute(
        select(c.c.user_id, func.count().label("n"))
        .join(i, i.c.id == c.c.interaction_id)
        .where(
            c.c.team_id == team_id,
            i.c.team_id == team_id,
            i.c.account_id == account_id,
            i.c.occurred_at >= since,
        )
        .group_by(c.c.user_id)
        .order_by(func.count().desc(), c.c.user_id)
    )
    return [str(r[0]) for r in rows]


async def checkin_response(
    conn: AsyncConnection, *, team_id: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """Check-ins asked in [start, end) (people away not counted) and how many were answered."""
    c = t.checkins
    row = (
        await conn.execute(
            select(func.count(), _count(c.c.status == ANSWERED)).where(
                c.c.team_id == team_id,
                c.c.created_at >= start,
                c.c.created_at < end,
                c.c.status != AWAY,
            )
        )
    ).one()
    return int(row[0]), int(row[1] or 0)


async def team_promise_week(
    conn: AsyncConnection, *, team_id: str, start: datetime, end: datetime
) -> tuple[int, int, int]:
    """Promises kept on time and broken in [start, end), and open ones overdue at `end`."""
    p, e = t.promises, t.promise_events
    kept, broken = (
        await conn.execute(
            select(
                _count(and_(e.c.kind == KEPT, e.c.in_time == 1)), _count(e.c.kind == BROKEN)
            ).where(e.c.team_id == team_id, e.c.at >= start, e.c.at < end)
        )
    ).one()
    overdue = (
        await conn.execute(
            select(func.count()).where(
                p.c.team_id == team_id,
                p.c.created_at < end,
                or_(p.c.status == OPEN, p.c.closed_at >= end),
                p.c.due_date < end.date(),
            )
        )
    ).scalar_one()
    return int(kept or 0), int(broken or 0), int(overdue)


async def kept_promises(
    conn: AsyncConnection, *, team_id: str, start: datetime, end: datetime, limit: int
) -> list[tuple[str, str, str]]:
    """Promises kept on time in [start, end): (account name, what, owner), newest first."""
    p, e, a = t.promises, t.promise_events, t.accounts
    rows = await conn.execute(
        select(a.c.name, p.c.text, p.c.owner_id)
        .select_from(e)
        .join(p, and_(p.c.id == e.c.promise_id, p.c.team_id == e.c.team_id))
        .join(a, and_(a.c.id == p.c.account_id, a.c.team_id == p.c.team_id))
        .where(
            e.c.team_id == team_id,
            e.c.at >= start,
            e.c.at < end,
            e.c.kind == KEPT,
            e.c.in_time == 1,
        )
        .order_by(e.c.at.desc(), e.c.id.desc())
        .limit(limit)
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


async def team_ids(conn: AsyncConnection) -> list[str]:
    """Every workspace that has accounts or digest subscriptions."""
    a, s = t.accounts, t.digest_subscriptions
    rows = await conn.execute(select(a.c.team_id).union(select(s.c.team_id)))
    return sorted(str(r[0]) for r in rows)
