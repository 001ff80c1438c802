"""Windowed, grouped queries that gather the risk model's signals for many accounts at once.

Cost grows with the number of accounts and the window, not with total history: every
query is bounded by a time range on an indexed column and grouped by account, so a
digest over 10,000 accounts is a handful of queries, never one per account.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, func, or_, select, type_coerce, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import tables as t
from storage.models import Account, AccountSignals, Interaction, WeekRating
from storage.queries import ANSWERED, AWAY, EXPIRED, _interaction

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
    query = select(
        a.c.id,
        a.c.team_id,
        a.c.name,
        a.c.tier,
        a.c.yearly_value,
        a.c.owner_id,
        a.c.created_by,
        a.c.created_at,
    ).where(a.c.team_id == team_id)
    if tiers:
        query = query.where(a.c.tier.in_(list(tiers)))
    if account_ids is not None:
        query = query.where(a.c.id.in_(list(account_ids)))
    if created_before is not None:
        query = query.where(a.c.created_at <= created_before)
    rows = await conn.execute(query.order_by(a.c.id))
    # positional: a digest loads every account, and Row attribute access costs more
    return [
        Account(id_, team, name, tier, value, owner, by, at)
        for id_, team, name, tier, value, owner, by, at in rows.tuples().all()
    ]


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
    series = await account_signals_weekly(
        conn,
        team_id=team_id,
        now=now,
        weeks_back=0,
        accounts=accounts,
        window_weeks=window_weeks,
        recent_days=recent_days,
    )
    return series[0]


async def account_signals_weekly(
    conn: AsyncConnection | None,
    *,
    team_id: str,
    now: datetime,
    weeks_back: int,
    accounts: Sequence[Account] | None = None,
    tiers: Sequence[str] = (),
    window_weeks: int = 12,
    recent_days: int = 28,
    engine: AsyncEngine | None = None,
) -> list[list[AccountSignals]]:
    """Signals as of `now`, a week earlier, … `weeks_back` weeks earlier, in one pass.

    Item k of the result is as of `now - k weeks`, seeing only data at or before that
    instant. Each query scans the union of the windows once and splits it per instant with
    conditional aggregates, so the digest's "a week ago" and the trend chart's twelve weeks
    cost little more than one assessment. Without `accounts`, the workspace's accounts (of
    `tiers`) that existed at `now` are loaded alongside the signal queries. With `engine`
    the queries run on their own connections and `conn` may be None: a caller holding no
    connection while they wait can never starve them of the pool.
    """
    if conn is None and engine is None:
        raise ValueError("account_signals_weekly needs a connection or an engine")
    if accounts is not None and not accounts:
        return [[] for _ in range(weeks_back + 1)]
    ids = None if accounts is None else [a.id for a in accounts]
    # long IN lists cost more than filtering in Python
    only = None if ids is None or len(ids) > 500 else ids
    loaded: list[Sequence[Account]] = [] if accounts is None else [accounts]
    instants = [now - timedelta(weeks=k) for k in range(weeks_back + 1)]
    oldest = instants[-1]
    start = oldest - timedelta(weeks=window_weeks)
    recent_start = oldest - timedelta(days=recent_days)
    recent = timedelta(days=recent_days)
    c, i, p, e = t.checkins, t.interactions, t.promises, t.promise_events
    n = len(instants)
    data: list[dict[int, dict[str, Any]]] = [defaultdict(dict) for _ in range(n)]

    def scoped(column: Any) -> list[Any]:
        return [] if only is None else [column.in_(only)]

    weeks: list[dict[int, list[WeekRating]]] = [defaultdict(list) for _ in range(n)]
    total_weeks = window_weeks + weeks_back
    by_week: list[Sequence[Any]] = [() for _ in range(total_weeks)]

    def _ratings_of(agos: range) -> Callable[[AsyncConnection], Awaitable[None]]:
        # Answered ratings per account in the week `ago` weeks back from `now`: one indexed
        # range scan per week costs half of one scan bucketing every row with a CASE.
        async def part(conn: AsyncConnection) -> None:
            for ago in agos:
                newest = now - timedelta(weeks=ago)
                rows = await conn.execute(
                    select(i.c.account_id, func.avg(c.c.rating), func.count())
                    .join(i, i.c.id == c.c.interaction_id)
                    .where(
                        c.c.team_id == team_id,
                        c.c.answered_at >= now - timedelta(weeks=ago + 1),
                        c.c.answered_at <= newest if ago == 0 else c.c.answered_at < newest,
                        c.c.status == ANSWERED,
                        *scoped(i.c.account_id),
                    )
                    .group_by(i.c.account_id)
                )
                by_week[ago] = rows.all()

        return part

    def _spread_ratings() -> None:
        # each account's weeks newest first, as of each instant
        for ago, rows in enumerate(by_week):
            for k in range(max(0, ago - window_weeks + 1), min(n, ago + 1)):
                into = weeks[k]
                weeks_ago = ago - k
                for account_id, avg, count in rows:
                    into[account_id].append(WeekRating(weeks_ago, float(avg), int(count)))

    async def _contacts(conn: AsyncConnection) -> None:
        # last contact and last complaint, as of each instant
        columns: list[Any] = [i.c.account_id]
        for instant in instants:
            seen = i.c.occurred_at <= instant
            columns.append(_when(func.max(case((seen, i.c.occurred_at), else_=None))))
            columns.append(
                _when(
                    func.max(case((and_(seen, i.c.kind == COMPLAINT), i.c.occurred_at), else_=None))
                )
            )
        rows = await conn.execute(
            select(*columns)
            .where(
                i.c.team_id == team_id,
                i.c.occurred_at >= start,
                i.c.occurred_at <= now,
                *scoped(i.c.account_id),
            )
            .group_by(i.c.account_id)
        )
        for row in rows.all():
            for k in range(n):
                last, complaint = row[1 + 2 * k], row[2 + 2 * k]
                window_start = instants[k] - timedelta(weeks=window_weeks)
                if last is not None and last >= window_start:
                    data[k][row[0]]["last_contact_at"] = last
                    if complaint is not None and complaint >= window_start:
                        data[k][row[0]]["last_complaint_at"] = complaint

    async def _silent(conn: AsyncConnection, known: Sequence[Account]) -> None:
        # Accounts silent for a whole window: one indexed max per account, only for those.
        for k, instant in enumerate(instants):
            silent = [a.id for a in known if "last_contact_at" not in data[k].get(a.id, {})]
            for chunk in _chunks(silent, 500):
                rows = await conn.execute(
                    select(i.c.account_id, _when(func.max(i.c.occurred_at)))
                    .where(
                        i.c.team_id == team_id,
                        i.c.account_id.in_(chunk),
                        i.c.occurred_at <= instant,
                    )
                    .group_by(i.c.account_id)
                )
                for account_id, last in rows.all():
                    data[k][account_id]["last_contact_at"] = last

    async def _asked(conn: AsyncConnection) -> None:
        # check-ins asked recently (per instant): unanswered, concerns, "worse"
        columns: list[Any] = [i.c.account_id]
        for instant in instants:
            asked_then = and_(c.c.created_at >= instant - recent, c.c.created_at <= instant)
            answered_then = and_(asked_then, c.c.status == ANSWERED, c.c.answered_at <= instant)
            columns += [
                _count(asked_then),
                _count(and_(asked_then, c.c.status == EXPIRED, c.c.closed_at <= instant)),
                _count(and_(answered_then, c.c.concern.is_not(None), c.c.concern != "")),
                _count(and_(answered_then, c.c.direction == "worse")),
            ]
        rows = await conn.execute(
            select(*columns)
            .join(i, i.c.id == c.c.interaction_id)
            .where(
                c.c.team_id == team_id,
                c.c.created_at >= recent_start,
                c.c.created_at <= now,
                c.c.status != AWAY,
                *scoped(i.c.account_id),
            )
            .group_by(i.c.account_id)
        )
        for row in rows.all():
            for k in range(n):
                asked, unanswered, concerns, worse = row[1 + 4 * k : 5 + 4 * k]
                if asked:
                    data[k][row[0]].update(
                        asked=int(asked),
                        unanswered=int(unanswered or 0),
                        concerns=int(concerns or 0),
                        worse=int(worse or 0),
                    )

        # the latest concerns (a few per account, enough to pick the latest at each instant)
        concerned = (
            select(
                i.c.account_id.label("account_id"),
                c.c.concern.label("concern"),
                c.c.answered_at.label("at"),
                func.row_number()
                .over(partition_by=i.c.account_id, order_by=(c.c.answered_at.desc(), c.c.id.desc()))
                .label("n"),
            )
            .join(i, i.c.id == c.c.interaction_id)
            .where(
                c.c.team_id == team_id,
                c.c.created_at >= recent_start,
                c.c.created_at <= now,
                c.c.status == ANSWERED,
                c.c.concern.is_not(None),
                c.c.concern != "",
                *scoped(i.c.account_id),
            )
            .subquery()
        )
        rows = await conn.execute(
            select(concerned.c.account_id, concerned.c.concern, _when(concerned.c.at))
            .where(concerned.c.n <= 1 + weeks_back)
            .order_by(concerned.c.account_id, concerned.c.n)
        )
        for account_id, concern, at in rows.all():
            for k, instant in enumerate(instants):
                values = data[k].get(account_id)
                if (
                    values
                    and values.get("concerns")
                    and "latest_concern" not in values
                    and (at is not None and at <= instant)
                ):
                    values["latest_concern"] = concern

    async def _open_promises(conn: AsyncConnection) -> None:
        # promises open as of each instant (one closed later counts as open then); the two
        # index-friendly halves: still open, or closed after the oldest instant
        candidates = union_all(
            select(p.c.account_id, p.c.created_at, p.c.closed_at, p.c.status, p.c.due_date).where(
                p.c.team_id == team_id, p.c.status == OPEN, p.c.created_at <= now
            ),
            select(p.c.account_id, p.c.created_at, p.c.closed_at, p.c.status, p.c.due_date).where(
                p.c.team_id == team_id,
                p.c.closed_at > oldest,
                p.c.status != OPEN,
                p.c.created_at <= now,
            ),
        ).subquery()
        q = candidates.c
        columns: list[Any] = [q.account_id]
        for instant in instants:
            day = instant.date()
            open_then = and_(
                q.created_at <= instant,
                or_(q.status == OPEN, q.closed_at > instant),
            )
            columns += [
                _count(open_then),
                _count(and_(open_then, q.due_date < day)),
                type_coerce(
                    func.min(case((and_(open_then, q.due_date < day), q.due_date), else_=None)),
                    Date(),
                ),
            ]
        rows = await conn.execute(
            select(*columns).where(*scoped(q.account_id)).group_by(q.account_id)
        )
        for row in rows.all():
            for k in range(n):
                open_count, overdue, oldest_due = row[1 + 3 * k : 4 + 3 * k]
                if open_count:
                    data[k][row[0]].update(
                        open_promises=int(open_count),
                        overdue=int(overdue or 0),
                        oldest_due=oldest_due,
                    )

    async def _resolved(conn: AsyncConnection) -> None:
        # promises resolved in each instant's window
        columns: list[Any] = [p.c.account_id]
        for instant in instants:
            inside = and_(e.c.at >= instant - timedelta(weeks=window_weeks), e.c.at <= instant)
            columns += [
                _count(and_(inside, e.c.kind == KEPT, e.c.in_time == 1)),
                _count(
                    and_(inside, e.c.kind == KEPT, or_(e.c.in_time == 0, e.c.in_time.is_(None)))
                ),
                _count(and_(inside, e.c.kind == BROKEN)),
            ]
        rows = await conn.execute(
            select(*columns)
            .select_from(e)
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
        for row in rows.all():
            for k in range(n):
                kept, late, broken = row[1 + 3 * k : 4 + 3 * k]
                if kept or late or broken:
                    data[k][row[0]].update(
                        kept_on_time=int(kept or 0),
                        kept_late=int(late or 0),
                        broken=int(broken or 0),
                    )

    async def _accounts(conn: AsyncConnection) -> None:
        if not loaded:
            loaded.append(
                await load_accounts(conn, team_id=team_id, tiers=tiers, created_before=now)
            )

    half = (total_weeks + 1) // 2
    parts = (
        _accounts,
        _ratings_of(range(half)),
        _ratings_of(range(half, total_weeks)),
        _contacts,
        _asked,
        _open_promises,
        _resolved,
    )
    if engine is None:
        assert conn is not None
        for part in parts:
            await part(conn)
    else:
        # Independent reads on their own connections: SQLite runs them on separate
        # threads, so a digest uses both cores (each is its own consistent snapshot).

        async def on_own(part: Callable[[AsyncConnection], Awaitable[None]]) -> None:
            async with engine.connect() as own:
                await part(own)

        await asyncio.gather(*(on_own(part) for part in parts))
    # No part waits for another while holding a connection (several digests at once
    # could otherwise take the whole pool and wait on each other): the silent accounts'
    # lookup, which needs both the accounts and the contacts, comes after them, here.
    accounts = loaded[0]
    if conn is not None:
        await _silent(conn, accounts)
    else:
        assert engine is not None
        async with engine.connect() as own:
            await _silent(own, accounts)
    _spread_ratings()
    out: list[list[AccountSignals]] = []
    for k, instant in enumerate(instants):
        out.append(
            [
                AccountSignals(
                    account=account,
                    weeks=tuple(weeks[k].get(account.id, ())),
                    **data[k].get(account.id, {}),
                )
                for account in accounts
                if account.created_at <= instant
            ]
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


async def owned_account_ids(conn: AsyncConnection, *, team_id: str, user_id: str) -> list[int]:
    """The ids of the accounts `user_id` owns in the workspace."""
    a = t.accounts
    rows = await conn.execute(
        select(a.c.id).where(a.c.team_id == team_id, a.c.owner_id == user_id).order_by(a.c.id)
    )
    return [int(r[0]) for r in rows]


async def participated_account_ids(
    conn: AsyncConnection, *, team_id: str, user_id: str, since: datetime, until: datetime
) -> list[int]:
    """Accounts `user_id` was asked a check-in about in [since, until], most recent first."""
    i, c = t.interactions, t.checkins
    last = func.max(c.c.created_at)
    rows = await conn.execute(
        select(i.c.account_id, last)
        .join(i, and_(i.c.id == c.c.interaction_id, i.c.team_id == c.c.team_id))
        .where(
            c.c.team_id == team_id,
            c.c.user_id == user_id,
            c.c.created_at >= since,
            c.c.created_at <= until,
        )
        .group_by(i.c.account_id)
        .order_by(last.desc(), i.c.account_id)
    )
    return [int(r[0]) for r in rows]


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
