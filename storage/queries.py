"""Query functions: keyword-only arguments, team-scoped, returning frozen dataclasses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import (
    Account,
    AwayPeriod,
    CheckIn,
    CheckInDetail,
    Draft,
    Interaction,
    SlackUser,
)

PENDING = "pending"
ANSWERED = "answered"
SKIPPED = "skipped"
EXPIRED = "expired"
AWAY = "away"


class DuplicateAccountError(Exception):
    """An account with that name (case-insensitively) already exists in the workspace."""


def name_key(name: str) -> str:
    """The case-insensitive key account names are unique by."""
    return " ".join(name.casefold().split())


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        team_id=row.team_id,
        name=row.name,
        tier=row.tier,
        yearly_value=Decimal(row.yearly_value) if row.yearly_value is not None else None,
        owner_id=row.owner_id,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _interaction(row: Row[Any]) -> Interaction:
    return Interaction(
        id=row.id,
        team_id=row.team_id,
        account_id=row.account_id,
        kind=row.kind,
        occurred_at=row.occurred_at,
        logged_by=row.logged_by,
        note=row.note,
        source=row.source,
        created_at=row.created_at,
    )


_CHECKIN_FIELDS = [c.name for c in t.checkins.columns]


def _checkin(row: Any, prefix: str = "") -> CheckIn:
    mapping = row._mapping
    return CheckIn(**{name: mapping[prefix + name] for name in _CHECKIN_FIELDS})


# --- accounts -----------------------------------------------------------------------


async def create_account(
    conn: AsyncConnection,
    *,
    team_id: str,
    name: str,
    tier: str,
    yearly_value: Decimal | None,
    owner_id: str | None,
    created_by: str,
    now: datetime,
) -> Account:
    """Insert an account; raise DuplicateAccountError (transaction unusable) if taken."""
    try:
        result = await conn.execute(
            insert(t.accounts)
            .values(
                team_id=team_id,
                name=name,
                name_key=name_key(name),
                tier=tier,
                yearly_value=yearly_value,
                owner_id=owner_id,
                created_by=created_by,
                created_at=now,
            )
            .returning(*t.accounts.columns)
        )
    except IntegrityError as exc:
        raise DuplicateAccountError(name) from exc
    return _account(result.one())


async def get_account(conn: AsyncConnection, *, team_id: str, account_id: int) -> Account | None:
    """One account by id, only within the team."""
    row = (
        await conn.execute(
            select(t.accounts).where(t.accounts.c.team_id == team_id, t.accounts.c.id == account_id)
        )
    ).first()
    return _account(row) if row else None


async def find_account(conn: AsyncConnection, *, team_id: str, name: str) -> Account | None:
    """One account by name, case-insensitively, within the team."""
    row = (
        await conn.execute(
            select(t.accounts).where(
                t.accounts.c.team_id == team_id, t.accounts.c.name_key == name_key(name)
            )
        )
    ).first()
    return _account(row) if row else None


async def list_accounts(conn: AsyncConnection, *, team_id: str) -> list[Account]:
    """All accounts of a team, by name."""
    rows = await conn.execute(
        select(t.accounts).where(t.accounts.c.team_id == team_id).order_by(t.accounts.c.name_key)
    )
    return [_account(r) for r in rows]


# --- interactions and check-ins ----------------------------------------------------------


@dataclass(frozen=True)
class NewCheckIn:
    """What it takes to create one check-in."""

    user_id: str
    status: str
    remind_at: datetime | None
    expires_at: datetime


async def create_interaction(
    conn: AsyncConnection,
    *,
    team_id: str,
    account_id: int,
    kind: str,
    occurred_at: datetime,
    logged_by: str,
    note: str,
    source: str,
    now: datetime,
    checkins: Sequence[NewCheckIn],
) -> tuple[Interaction, list[CheckIn]]:
    """Insert an interaction and its check-ins (one per distinct user)."""
    row = (
        await conn.execute(
            insert(t.interactions)
            .values(
                team_id=team_id,
                account_id=account_id,
                kind=kind,
                occurred_at=occurred_at,
                logged_by=logged_by,
                note=note,
                source=source,
                created_at=now,
            )
            .returning(*t.interactions.columns)
        )
    ).one()
    interaction = _interaction(row)
    created = await add_checkins(
        conn, team_id=team_id, interaction_id=interaction.id, now=now, checkins=checkins
    )
    return interaction, created


async def add_checkins(
    conn: AsyncConnection,
    *,
    team_id: str,
    interaction_id: int,
    now: datetime,
    checkins: Sequence[NewCheckIn],
) -> list[CheckIn]:
    """Add check-ins to an interaction, skipping users who already have one."""
    existing = set(
        (
            await conn.execute(
                select(t.checkins.c.user_id).where(
                    t.checkins.c.team_id == team_id, t.checkins.c.interaction_id == interaction_id
                )
            )
        ).scalars()
    )
    created: list[CheckIn] = []
    for new in checkins:
        if new.user_id in existing:
            continue
        existing.add(new.user_id)
        # Another process may add the same user meanwhile (on PostgreSQL, where writers run
        # side by side): its check-in stands and this one is skipped, as if seen above.
        row = (
            await conn.execute(
                _insert_for(conn)(t.checkins)
                .values(
                    team_id=team_id,
                    interaction_id=interaction_id,
                    user_id=new.user_id,
                    status=new.status,
                    created_at=now,
                    remind_at=new.remind_at,
                    expires_at=new.expires_at,
                    closed_at=now if new.status != PENDING else None,
                )
                .on_conflict_do_nothing(index_elements=["interaction_id", "user_id"])
                .returning(*t.checkins.columns)
            )
        ).first()
        if row is not None:
            created.append(_checkin(row))
    return created


def _detail_query() -> Any:
    a, i, c = t.accounts, t.interactions, t.checkins
    return (
        select(
            c,
            a.c.id.label("x_account_id"),
            a.c.name.label("x_account_name"),
            i.c.kind.label("x_kind"),
            i.c.occurred_at.label("x_occurred_at"),
            i.c.logged_by.label("x_logged_by"),
            i.c.note.label("x_note"),
        )
        .join(i, and_(i.c.id == c.c.interaction_id, i.c.team_id == c.c.team_id))
        .join(a, and_(a.c.id == i.c.account_id, a.c.team_id == i.c.team_id))
    )


def _detail(row: Any) -> CheckInDetail:
    m = row._mapping
    return CheckInDetail(
        checkin=_checkin(row),
        account_id=m["x_account_id"],
        account_name=m["x_account_name"],
        kind=m["x_kind"],
        occurred_at=m["x_occurred_at"],
        logged_by=m["x_logged_by"],
        note=m["x_note"],
    )


async def get_checkin(
    conn: AsyncConnection, *, team_id: str, checkin_id: int
) -> CheckInDetail | None:
    """One check-in with its account and interaction, only within the team."""
    row = (
        await conn.execute(
            _detail_query().where(t.checkins.c.team_id == team_id, t.checkins.c.id == checkin_id)
        )
    ).first()
    return _detail(row) if row else None


async def pending_checkins_for_user(
    conn: AsyncConnection, *, team_id: str, user_id: str, limit: int
) -> list[CheckInDetail]:
    """A user's pending check-ins, newest interaction first."""
    rows = await conn.execute(
        _detail_query()
        .where(
            t.checkins.c.team_id == team_id,
            t.checkins.c.user_id == user_id,
            t.checkins.c.status == PENDING,
        )
        .order_by(t.interactions.c.occurred_at.desc(), t.checkins.c.id.desc())
        .limit(limit)
    )
    return [_detail(r) for r in rows]


async def count_pending_for_user(conn: AsyncConnection, *, team_id: str, user_id: str) -> int:
    """How many pending check-ins a user has."""
    return int(
        (
            await conn.execute(
                select(func.count()).where(
                    t.checkins.c.team_id == team_id,
                    t.checkins.c.user_id == user_id,
                    t.checkins.c.status == PENDING,
                )
            )
        ).scalar_one()
    )


async def answer_checkin(
    conn: AsyncConnection,
    *,
    team_id: str,
    checkin_id: int,
    user_id: str,
    rating: int,
    direction: str | None,
    stage: str | None,
    concern: str | None,
    now: datetime,
) -> bool:
    """Record an answer if the check-in is still pending; False if it was not."""
    result = await conn.execute(
        update(t.checkins)
        .where(
            t.checkins.c.team_id == team_id,
            t.checkins.c.id == checkin_id,
            t.checkins.c.user_id == user_id,
            t.checkins.c.status == PENDING,
        )
        .values(
            status=ANSWERED,
            rating=rating,
            direction=direction,
            stage=stage,
            concern=concern,
            answered_at=now,
            closed_at=now,
        )
    )
    return result.rowcount == 1


async def close_checkin(
    conn: AsyncConnection,
    *,
    team_id: str,
    checkin_id: int,
    status: str,
    now: datetime,
    user_id: str | None = None,
) -> bool:
    """Move a pending check-in to skipped / expired / away; False if it was not pending."""
    conditions = [
        t.checkins.c.team_id == team_id,
        t.checkins.c.id == checkin_id,
        t.checkins.c.status == PENDING,
    ]
    if user_id is not None:
        conditions.append(t.checkins.c.user_id == user_id)
    result = await conn.execute(
        update(t.checkins).where(*conditions).values(status=status, closed_at=now)
    )
    return result.rowcount == 1


async def record_delivery(
    conn: AsyncConnection,
    *,
    team_id: str,
    checkin_id: int,
    dm_channel: str | None,
    dm_ts: str | None,
    error: str | None,
) -> None:
    """Remember where a check-in's DM went, or why it could not be sent."""
    values: dict[str, Any] = {
        "delivery_error": error[:200] if error else None,
        "delivery_attempts": t.checkins.c.delivery_attempts + 1,
    }
    if dm_ts is not None:
        values.update(dm_channel=dm_channel, dm_ts=dm_ts)
    await conn.execute(
        update(t.checkins)
        .where(t.checkins.c.team_id == team_id, t.checkins.c.id == checkin_id)
        .values(**values)
    )


async def record_reminder_message(
    conn: AsyncConnection, *, team_id: str, checkin_id: int, channel: str, ts: str
) -> None:
    """Remember the reminder message so answering can update it too."""
    await conn.execute(
        update(t.checkins)
        .where(t.checkins.c.team_id == team_id, t.checkins.c.id == checkin_id)
        .values(reminder_ts=ts, dm_channel=func.coalesce(t.checkins.c.dm_channel, channel))
    )


async def due_reminders(conn: AsyncConnection, *, now: datetime, limit: int) -> list[CheckInDetail]:
    """Pending, never-reminded check-ins whose reminder time has come (all teams)."""
    rows = await conn.execute(
        _detail_query()
        .where(
            t.checkins.c.status == PENDING,
            t.checkins.c.reminded_at.is_(None),
            t.checkins.c.remind_at <= now,
            t.checkins.c.expires_at > now,
        )
        .order_by(t.checkins.c.remind_at, t.checkins.c.id)
        .limit(limit)
    )
    return [_detail(r) for r in rows]


async def claim_reminder(
    conn: AsyncConnection, *, team_id: str, checkin_id: int, now: datetime
) -> bool:
    """Claim the one reminder of a check-in; only one caller ever gets True."""
    result = await conn.execute(
        update(t.checkins)
        .where(
            t.checkins.c.team_id == team_id,
            t.checkins.c.id == checkin_id,
            t.checkins.c.status == PENDING,
            t.checkins.c.reminded_at.is_(None),
        )
        .values(reminded_at=now)
    )
    return result.rowcount == 1


async def due_expiries(conn: AsyncConnection, *, now: datetime, limit: int) -> list[CheckInDetail]:
    """Pending check-ins whose time is up (all teams)."""
    rows = await conn.execute(
        _detail_query()
        .where(t.checkins.c.status == PENDING, t.checkins.c.expires_at <= now)
        .order_by(t.checkins.c.expires_at, t.checkins.c.id)
        .limit(limit)
    )
    return [_detail(r) for r in rows]


async def undelivered_checkins(
    conn: AsyncConnection, *, now: datetime, max_attempts: int, limit: int
) -> list[CheckInDetail]:
    """Pending check-ins whose DM failed and may be tried again (all teams)."""
    rows = await conn.execute(
        _detail_query()
        .where(
            t.checkins.c.status == PENDING,
            t.checkins.c.dm_ts.is_(None),
            t.checkins.c.delivery_attempts > 0,
            t.checkins.c.delivery_attempts < max_attempts,
            t.checkins.c.expires_at > now,
        )
        .order_by(t.checkins.c.id)
        .limit(limit)
    )
    return [_detail(r) for r in rows]


async def checkins_for_interaction(
    conn: AsyncConnection, *, team_id: str, interaction_id: int
) -> list[CheckIn]:
    """Every check-in of one interaction."""
    rows = await conn.execute(
        select(t.checkins)
        .where(t.checkins.c.team_id == team_id, t.checkins.c.interaction_id == interaction_id)
        .order_by(t.checkins.c.id)
    )
    return [_checkin(r) for r in rows]


async def recent_interactions(
    conn: AsyncConnection, *, team_id: str, user_id: str, limit: int
) -> list[tuple[Interaction, str]]:
    """Interactions a user took part in, newest first, with the account name."""
    i, c, a = t.interactions, t.checkins, t.accounts
    rows = await conn.execute(
        select(i, a.c.name.label("x_account_name"))
        .join(a, and_(a.c.id == i.c.account_id, a.c.team_id == i.c.team_id))
        .where(
            i.c.team_id == team_id,
            or_(
                i.c.logged_by == user_id,
                i.c.id.in_(
                    select(c.c.interaction_id).where(c.c.team_id == team_id, c.c.user_id == user_id)
                ),
            ),
        )
        .order_by(i.c.occurred_at.desc(), i.c.id.desc())
        .limit(limit)
    )
    return [(_interaction(r), r.x_account_name) for r in rows]


# --- users --------------------------------------------------------------------------


def _insert_for(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def upsert_user(
    conn: AsyncConnection,
    *,
    team_id: str,
    user_id: str,
    name: str,
    tz: str | None,
    is_bot: bool,
    deleted: bool,
    is_admin: bool,
    now: datetime,
) -> SlackUser:
    """Insert or refresh a cached Slack user."""
    values = {
        "name": name,
        "tz": tz,
        "is_bot": int(is_bot),
        "deleted": int(deleted),
        "is_admin": int(is_admin),
        "fetched_at": now,
    }
    stmt = _insert_for(conn)(t.slack_users).values(team_id=team_id, user_id=user_id, **values)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["team_id", "user_id"], set_=values)
    )
    return SlackUser(
        team_id=team_id,
        user_id=user_id,
        name=name,
        tz=tz,
        is_bot=is_bot,
        deleted=deleted,
        is_admin=is_admin,
        fetched_at=now,
    )


async def get_users(
    conn: AsyncConnection, *, team_id: str, user_ids: Iterable[str]
) -> dict[str, SlackUser]:
    """Cached users by id (missing ids are simply absent)."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(t.slack_users).where(
            t.slack_users.c.team_id == team_id, t.slack_users.c.user_id.in_(ids)
        )
    )
    return {
        r.user_id: SlackUser(
            team_id=r.team_id,
            user_id=r.user_id,
            name=r.name,
            tz=r.tz,
            is_bot=bool(r.is_bot),
            deleted=bool(r.deleted),
            is_admin=bool(r.is_admin),
            fetched_at=r.fetched_at,
        )
        for r in rows
    }


USER_ROWS_PER_STATEMENT = 500  # 7 values a row: far below SQLite's 32,766 parameters


async def upsert_users(conn: AsyncConnection, users: Sequence[SlackUser]) -> None:
    """Insert or refresh many cached Slack users (a users.list page or more) at once."""
    for start in range(0, len(users), USER_ROWS_PER_STATEMENT):
        chunk = users[start : start + USER_ROWS_PER_STATEMENT]
        stmt = _insert_for(conn)(t.slack_users).values(
            [
                {
                    "team_id": u.team_id,
                    "user_id": u.user_id,
                    "name": u.name,
                    "tz": u.tz,
                    "is_bot": int(u.is_bot),
                    "deleted": int(u.deleted),
                    "is_admin": int(u.is_admin),
                    "fetched_at": u.fetched_at,
                }
                for u in chunk
            ]
        )
        refreshed = ("name", "tz", "is_bot", "deleted", "is_admin", "fetched_at")
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["team_id", "user_id"],
                set_={c: stmt.excluded[c] for c in refreshed},
            )
        )


async def get_dm_channel(conn: AsyncConnection, *, team_id: str, user_id: str) -> str | None:
    """The app's DM channel (D…) with a cached user, if Slack has named it to us."""
    found = await conn.execute(
        select(t.slack_users.c.dm_channel).where(
            t.slack_users.c.team_id == team_id, t.slack_users.c.user_id == user_id
        )
    )
    return found.scalar_one_or_none()


async def remember_dm_channels(
    conn: AsyncConnection, *, team_id: str, channels: dict[str, str]
) -> None:
    """Remember DM channel ids by user id (only for users already in the cache)."""
    # No placeholder rows: a user not cached yet gets the DM id from the next DM's answer.
    for user_id, channel in channels.items():
        await conn.execute(
            update(t.slack_users)
            .where(
                t.slack_users.c.team_id == team_id,
                t.slack_users.c.user_id == user_id,
                or_(t.slack_users.c.dm_channel.is_(None), t.slack_users.c.dm_channel != channel),
            )
            .values(dm_channel=channel)
        )


# --- away ---------------------------------------------------------------------------


def _away(row: Row[Any]) -> AwayPeriod:
    return AwayPeriod(
        id=row.id,
        team_id=row.team_id,
        user_id=row.user_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
    )


def _away_at(now: datetime) -> Any:
    a = t.away_periods
    return and_(
        a.c.starts_at <= now, a.c.ends_at > now, or_(a.c.ended_at.is_(None), a.c.ended_at > now)
    )


async def start_away(
    conn: AsyncConnection,
    *,
    team_id: str,
    user_id: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> AwayPeriod:
    """Record that a user is away; an away period already running is ended first."""
    await end_away(conn, team_id=team_id, user_id=user_id, now=now)
    row = (
        await conn.execute(
            insert(t.away_periods)
            .values(
                team_id=team_id,
                user_id=user_id,
                starts_at=starts_at,
                ends_at=ends_at,
                created_at=now,
            )
            .returning(*t.away_periods.columns)
        )
    ).one()
    return _away(row)


async def end_away(conn: AsyncConnection, *, team_id: str, user_id: str, now: datetime) -> bool:
    """End a running away period early; False if the user was not away."""
    a = t.away_periods
    result = await conn.execute(
        update(a)
        .where(a.c.team_id == team_id, a.c.user_id == user_id, _away_at(now))
        .values(ended_at=now)
    )
    return result.rowcount > 0


async def current_away(
    conn: AsyncConnection, *, team_id: str, user_id: str, now: datetime
) -> AwayPeriod | None:
    """The away period a user is in at `now`, if any."""
    a = t.away_periods
    row = (
        await conn.execute(
            select(a)
            .where(a.c.team_id == team_id, a.c.user_id == user_id, _away_at(now))
            .order_by(a.c.ends_at.desc())
        )
    ).first()
    return _away(row) if row else None


async def away_users(
    conn: AsyncConnection, *, team_id: str, user_ids: Iterable[str], now: datetime
) -> set[str]:
    """Which of these users are away at `now`."""
    ids = list(set(user_ids))
    if not ids:
        return set()
    a = t.away_periods
    rows = await conn.execute(
        select(a.c.user_id).where(a.c.team_id == team_id, a.c.user_id.in_(ids), _away_at(now))
    )
    return set(rows.scalars())


# --- drafts -------------------------------------------------------------------------


async def create_draft(
    conn: AsyncConnection, *, team_id: str, user_id: str, kind: str, payload: str, now: datetime
) -> int:
    """Keep a command that waits on the user's choice; returns its id."""
    result = await conn.execute(
        insert(t.drafts)
        .values(team_id=team_id, user_id=user_id, kind=kind, payload=payload, created_at=now)
        .returning(t.drafts.c.id)
    )
    return int(result.scalar_one())


async def take_draft(
    conn: AsyncConnection, *, team_id: str, user_id: str, draft_id: int, now: datetime
) -> Draft | None:
    """Use a draft once: returns it the first time, None after (or if not the user's)."""
    d = t.drafts
    result = await conn.execute(
        update(d)
        .where(
            d.c.team_id == team_id,
            d.c.user_id == user_id,
            d.c.id == draft_id,
            d.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return None
    row = (await conn.execute(select(d).where(d.c.id == draft_id))).one()
    return Draft(
        id=row.id,
        team_id=row.team_id,
        user_id=row.user_id,
        kind=row.kind,
        payload=row.payload,
        created_at=row.created_at,
        used_at=row.used_at,
    )


# --- Slack deliveries ----------------------------------------------------------------


async def record_deliveries(
    conn: AsyncConnection,
    *,
    keys: Sequence[tuple[str, str]],
    now: datetime,
    forget_before: datetime,
) -> None:
    """Remember handled Slack requests (team, key); forget those received before a cutoff."""
    d = t.slack_deliveries
    if keys:
        # in one order everywhere: two processes inserting the same keys in opposite orders
        # would deadlock on PostgreSQL, each waiting for the other's uncommitted row
        rows = [
            {"team_id": team, "delivery_key": key, "received_at": now}
            for team, key in sorted(set(keys))
        ]
        await conn.execute(_insert_for(conn)(d).values(rows).on_conflict_do_nothing())
    await conn.execute(delete(d).where(d.c.received_at < forget_before))


async def delivery_seen(conn: AsyncConnection, *, team_id: str, key: str) -> bool:
    """True if this Slack request was handled before (and not yet forgotten)."""
    d = t.slack_deliveries
    found = await conn.execute(
        select(d.c.delivery_key).where(d.c.team_id == team_id, d.c.delivery_key == key)
    )
    return found.first() is not None
