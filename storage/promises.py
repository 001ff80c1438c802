"""Promise queries: keyword-only, team-scoped, history kept as events; figures for digests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import Promise, PromiseDetail, PromiseEvent, PromiseFigures

OPEN = "open"
KEPT = "kept"
BROKEN = "broken"
CANCELLED = "cancelled"

_FIELDS = [c.name for c in t.promises.columns]


def _promise(row: Any) -> Promise:
    m = row._mapping
    values = {name: m[name] for name in _FIELDS}
    values["kept_on_time"] = (
        None if values["kept_on_time"] is None else bool(values["kept_on_time"])
    )
    return Promise(**values)


def _detail_query() -> Any:
    p, a = t.promises, t.accounts
    return select(p, a.c.name.label("x_account_name"), a.c.owner_id.label("x_account_owner")).join(
        a, and_(a.c.id == p.c.account_id, a.c.team_id == p.c.team_id)
    )


def _detail(row: Any) -> PromiseDetail:
    m = row._mapping
    return PromiseDetail(
        promise=_promise(row),
        account_name=m["x_account_name"],
        account_owner_id=m["x_account_owner"],
    )


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


async def _event(
    conn: AsyncConnection,
    *,
    team_id: str,
    promise_id: int,
    actor_id: str,
    at: datetime,
    kind: str,
    old_status: str | None = None,
    new_status: str | None = None,
    old_due_date: date | None = None,
    new_due_date: date | None = None,
    customer_told: bool | None = None,
    in_time: bool | None = None,
    note: str | None = None,
) -> None:
    await conn.execute(
        insert(t.promise_events).values(
            team_id=team_id,
            promise_id=promise_id,
            actor_id=actor_id,
            at=at,
            kind=kind,
            old_status=old_status,
            new_status=new_status,
            old_due_date=old_due_date,
            new_due_date=new_due_date,
            customer_told=_bool(customer_told),
            in_time=_bool(in_time),
            note=note,
        )
    )


async def create_promise(
    conn: AsyncConnection,
    *,
    team_id: str,
    account_id: int,
    text: str,
    owner_id: str,
    created_by: str,
    due_date: date,
    interaction_id: int | None,
    now: datetime,
) -> Promise:
    """Insert an open promise and its `created` event."""
    row = (
        await conn.execute(
            insert(t.promises)
            .values(
                team_id=team_id,
                account_id=account_id,
                interaction_id=interaction_id,
                text=text,
                owner_id=owner_id,
                created_by=created_by,
                due_date=due_date,
                status=OPEN,
                created_at=now,
                since_at=now,
            )
            .returning(*t.promises.columns)
        )
    ).one()
    promise = _promise(row)
    await _event(
        conn,
        team_id=team_id,
        promise_id=promise.id,
        actor_id=created_by,
        at=now,
        kind="created",
        new_status=OPEN,
        new_due_date=due_date,
    )
    return promise


async def get_promise(
    conn: AsyncConnection, *, team_id: str, promise_id: int
) -> PromiseDetail | None:
    """One promise with its account, only within the team."""
    row = (
        await conn.execute(
            _detail_query().where(t.promises.c.team_id == team_id, t.promises.c.id == promise_id)
        )
    ).first()
    return _detail(row) if row else None


async def list_promises(
    conn: AsyncConnection,
    *,
    team_id: str,
    scope: str,
    today: date,
    limit: int,
    user_id: str | None = None,
    account_id: int | None = None,
) -> list[PromiseDetail]:
    """Open promises: all, the user's (`mine`), `overdue`, or one account's; soonest due first."""
    p = t.promises
    conditions = [p.c.team_id == team_id, p.c.status == OPEN]
    if scope == "mine":
        conditions.append(p.c.owner_id == user_id)
    elif scope == "overdue":
        conditions.append(p.c.due_date < today)
    elif scope == "account":
        conditions.append(p.c.account_id == account_id)
    rows = await conn.execute(
        _detail_query().where(*conditions).order_by(p.c.due_date, p.c.id).limit(limit)
    )
    return [_detail(r) for r in rows]


async def count_promises(
    conn: AsyncConnection,
    *,
    team_id: str,
    scope: str,
    today: date,
    user_id: str | None = None,
    account_id: int | None = None,
) -> int:
    """How many open promises `list_promises` would find without its limit."""
    p = t.promises
    conditions = [p.c.team_id == team_id, p.c.status == OPEN]
    if scope == "mine":
        conditions.append(p.c.owner_id == user_id)
    elif scope == "overdue":
        conditions.append(p.c.due_date < today)
    elif scope == "account":
        conditions.append(p.c.account_id == account_id)
    return int((await conn.execute(select(func.count()).where(*conditions))).scalar_one())


async def _change_open(
    conn: AsyncConnection,
    *,
    team_id: str,
    promise_id: int,
    actor_id: str,
    now: datetime,
    kind: str,
    change: Callable[[Any], tuple[dict[str, Any], dict[str, Any]]],
) -> bool:
    """Change an open promise and record the event; False if it was not open (any more).

    `change(current_row)` gives the column values to set and the event's fields; the update
    is conditional on the promise still being open, so two clicks can never both apply.
    The row is read FOR UPDATE: on PostgreSQL a concurrent change waits here and then sees
    the other's result, as SQLite's single writer does (SQLite ignores FOR UPDATE).
    """
    p = t.promises
    still_open = (p.c.team_id == team_id, p.c.id == promise_id, p.c.status == OPEN)
    current = (await conn.execute(select(p).where(*still_open).with_for_update())).first()
    if current is None:
        return False
    values, event = change(current)
    result = await conn.execute(update(p).where(*still_open).values(**values))
    if result.rowcount != 1:
        return False
    await _event(
        conn,
        team_id=team_id,
        promise_id=promise_id,
        actor_id=actor_id,
        at=now,
        kind=kind,
        old_status=OPEN,
        old_due_date=current.due_date,
        **event,
    )
    return True


async def resolve_promise(
    conn: AsyncConnection,
    *,
    team_id: str,
    promise_id: int,
    actor_id: str,
    status: str,
    in_time: bool | None,
    note: str | None,
    now: datetime,
) -> bool:
    """Close an open promise as kept, broken or cancelled; False if it was not open."""
    values = {
        "status": status,
        "closed_at": now,
        "kept_on_time": _bool(in_time) if status == KEPT else None,
    }
    event = {"new_status": status, "in_time": in_time, "note": note}
    return await _change_open(
        conn,
        team_id=team_id,
        promise_id=promise_id,
        actor_id=actor_id,
        now=now,
        kind=status,
        change=lambda _current: (values, event),
    )


async def renegotiate_promise(
    conn: AsyncConnection,
    *,
    team_id: str,
    promise_id: int,
    actor_id: str,
    new_due: date,
    customer_told: bool,
    in_time: bool,
    note: str | None,
    now: datetime,
) -> bool:
    """Move an open promise to a new date (reminders start over); False if it was not open."""
    values = {
        "due_date": new_due,
        "since_at": now,
        "reminder_seq": 0,
        "renegotiations": t.promises.c.renegotiations + 1,
    }
    event = {
        "new_status": OPEN,
        "new_due_date": new_due,
        "customer_told": customer_told,
        "in_time": in_time,
        "note": note,
    }
    return await _change_open(
        conn,
        team_id=team_id,
        promise_id=promise_id,
        actor_id=actor_id,
        now=now,
        kind="renegotiated",
        change=lambda _current: (values, event),
    )


async def edit_promise(
    conn: AsyncConnection,
    *,
    team_id: str,
    promise_id: int,
    actor_id: str,
    text: str,
    owner_id: str,
    due_date: date,
    now: datetime,
) -> bool:
    """Correct an open promise's text, owner or date (a typo fix, recorded as an event)."""

    def change(current: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        was = []
        if current.text != text:
            was.append(f"text was: {current.text}")
        if current.owner_id != owner_id:
            was.append(f"owner was: {current.owner_id}")
        values: dict[str, Any] = {"text": text, "owner_id": owner_id, "due_date": due_date}
        if due_date != current.due_date:
            values.update(since_at=now, reminder_seq=0)
        event = {"new_status": OPEN, "new_due_date": due_date, "note": "\n".join(was) or None}
        return values, event

    return await _change_open(
        conn,
        team_id=team_id,
        promise_id=promise_id,
        actor_id=actor_id,
        now=now,
        kind="edited",
        change=change,
    )


async def promise_events(
    conn: AsyncConnection, *, team_id: str, promise_id: int
) -> list[PromiseEvent]:
    """A promise's whole history, oldest first."""
    e = t.promise_events
    rows = await conn.execute(
        select(e).where(e.c.team_id == team_id, e.c.promise_id == promise_id).order_by(e.c.id)
    )
    return [
        PromiseEvent(
            id=r.id,
            team_id=r.team_id,
            promise_id=r.promise_id,
            actor_id=r.actor_id,
            at=r.at,
            kind=r.kind,
            old_status=r.old_status,
            new_status=r.new_status,
            old_due_date=r.old_due_date,
            new_due_date=r.new_due_date,
            customer_told=None if r.customer_told is None else bool(r.customer_told),
            in_time=None if r.in_time is None else bool(r.in_time),
            note=r.note,
        )
        for r in rows
    ]


async def reminder_candidates(
    conn: AsyncConnection, *, due_by: date, after_id: int, limit: int
) -> list[PromiseDetail]:
    """Open promises due on or before `due_by` (all teams), by id, for reminder decisions."""
    p = t.promises
    rows = await conn.execute(
        _detail_query()
        .where(p.c.status == OPEN, p.c.due_date <= due_by, p.c.id > after_id)
        .order_by(p.c.id)
        .limit(limit)
    )
    return [_detail(r) for r in rows]


async def claim_promise_reminder(
    conn: AsyncConnection, *, team_id: str, promise_id: int, seq: int, now: datetime
) -> bool:
    """Claim reminder number `seq` of an open promise; only one caller ever gets True."""
    p = t.promises
    result = await conn.execute(
        update(p)
        .where(
            p.c.team_id == team_id,
            p.c.id == promise_id,
            p.c.status == OPEN,
            p.c.reminder_seq < seq,
        )
        .values(reminder_seq=seq, last_reminded_at=now)
    )
    return result.rowcount == 1


async def promise_figures(
    conn: AsyncConnection,
    *,
    team_id: str,
    start: datetime,
    end: datetime,
    today: date,
    by: str,
    keys: Sequence[Any] | None = None,
) -> dict[Any, PromiseFigures]:
    """Promise figures over [start, end) grouped by `account` or `owner`, in three queries."""
    p, e = t.promises, t.promise_events
    key = p.c.account_id if by == "account" else p.c.owner_id
    scope = [p.c.team_id == team_id]
    if keys is not None:
        scope.append(key.in_(list(keys)))

    def _count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    made = await conn.execute(
        select(key, func.count())
        .where(*scope, p.c.created_at >= start, p.c.created_at < end)
        .group_by(key)
    )
    changes = await conn.execute(
        select(
            key,
            _count(and_(e.c.kind == KEPT, e.c.in_time == 1)),
            _count(and_(e.c.kind == KEPT, or_(e.c.in_time == 0, e.c.in_time.is_(None)))),
            _count(and_(e.c.kind == "renegotiated", e.c.in_time == 1, e.c.customer_told == 1)),
            _count(
                and_(
                    e.c.kind == "renegotiated",
                    or_(e.c.in_time == 0, e.c.customer_told == 0),
                )
            ),
            _count(e.c.kind == BROKEN),
            _count(e.c.kind == CANCELLED),
        )
        .join(e, and_(e.c.promise_id == p.c.id, e.c.team_id == p.c.team_id))
        .where(*scope, e.c.at >= start, e.c.at < end)
        .group_by(key)
    )
    overdue = await conn.execute(
        select(key, func.count())
        .where(*scope, p.c.status == OPEN, p.c.due_date < today)
        .group_by(key)
    )
    data: dict[Any, dict[str, int]] = {}
    for k, n in made:
        data.setdefault(k, {})["made"] = int(n)
    for k, kept, late, reneg, reneg_late, broken, cancelled in changes:
        data.setdefault(k, {}).update(
            kept_on_time=int(kept or 0),
            kept_late=int(late or 0),
            renegotiated_in_time=int(reneg or 0),
            renegotiated_late=int(reneg_late or 0),
            broken=int(broken or 0),
            cancelled=int(cancelled or 0),
        )
    for k, n in overdue:
        data.setdefault(k, {})["overdue"] = int(n)
    return {k: PromiseFigures(**v) for k, v in data.items()}
