"""The risk signals queries on a real SQLite file: windows, as-of instants, team scoping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import insert

from storage import tables as t
from storage.risk import account_signals, account_signals_weekly, load_accounts

T1, T2 = "T1", "T2"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
_ids = count(1)


async def add_account(conn: Any, name: str, team: str = T1, tier: str = "A") -> int:
    result = await conn.execute(
        insert(t.accounts).values(
            team_id=team,
            name=name,
            name_key=name.casefold(),
            tier=tier,
            created_by="U1",
            created_at=NOW - 400 * DAY,
        )
    )
    return int(result.inserted_primary_key[0])


async def add_interaction(
    conn: Any, account_id: int, at: datetime, kind: str = "call", team: str = T1
) -> int:
    result = await conn.execute(
        insert(t.interactions).values(
            team_id=team,
            account_id=account_id,
            kind=kind,
            occurred_at=at,
            logged_by="U1",
            source="slash_command",
            created_at=at,
        )
    )
    return int(result.inserted_primary_key[0])


async def add_checkin(
    conn: Any,
    interaction_id: int,
    *,
    at: datetime,
    rating: int | None = None,
    status: str = "answered",
    concern: str | None = None,
    direction: str | None = None,
    team: str = T1,
) -> None:
    await conn.execute(
        insert(t.checkins).values(
            team_id=team,
            interaction_id=interaction_id,
            user_id=f"U{next(_ids)}",
            status=status,
            created_at=at,
            expires_at=at + 3 * DAY,
            rating=rating,
            concern=concern,
            direction=direction,
            answered_at=at + timedelta(hours=1) if status == "answered" else None,
            closed_at=at + 3 * DAY if status == "expired" else None,
        )
    )


async def add_promise(
    conn: Any,
    account_id: int,
    *,
    due: date,
    status: str = "open",
    created: datetime = NOW - 30 * DAY,
    closed: datetime | None = None,
    in_time: bool | None = None,
    team: str = T1,
) -> None:
    result = await conn.execute(
        insert(t.promises).values(
            team_id=team,
            account_id=account_id,
            text="deck",
            owner_id="U1",
            created_by="U1",
            due_date=due,
            status=status,
            created_at=created,
            since_at=created,
            closed_at=closed,
        )
    )
    if closed is not None:
        await conn.execute(
            insert(t.promise_events).values(
                team_id=team,
                promise_id=result.inserted_primary_key[0],
                actor_id="U1",
                at=closed,
                kind=status,
                old_status="open",
                new_status=status,
                in_time=None if in_time is None else int(in_time),
            )
        )


async def signals_for(conn: Any, team: str = T1, now: datetime = NOW) -> dict[str, Any]:
    accounts = await load_accounts(conn, team_id=team)
    result = await account_signals(conn, team_id=team, now=now, accounts=accounts)
    return {s.account.name: s for s in result}


async def test_ratings_are_bucketed_by_week_and_newest_first(conn) -> None:
    acme = await add_account(conn, "Acme")
    for days_ago, rating in [(1, 2), (2, 3), (9, 4), (10, 5), (20, 5), (100, 1)]:
        i = await add_interaction(conn, acme, NOW - days_ago * DAY - timedelta(hours=2))
        await add_checkin(conn, i, at=NOW - days_ago * DAY - timedelta(hours=2), rating=rating)
    s = (await signals_for(conn))["Acme"]
    assert [(w.weeks_ago, w.average, w.answers) for w in s.weeks] == [
        (0, 2.5, 2),
        (1, 4.5, 2),
        (2, 5.0, 1),
    ]
    # the rating 100 days ago is outside the 12-week window
    assert s.last_contact_at == NOW - DAY - timedelta(hours=2)
    assert s.last_contact_at.tzinfo is not None


async def test_weekly_series_shifts_every_window_by_a_week(conn) -> None:
    """One pass gives each instant what a separate query as of that instant would."""
    acme = await add_account(conn, "Acme")
    for days_ago, rating in [(1, 2), (9, 4), (16, 5), (83, 3), (200, 1)]:
        i = await add_interaction(conn, acme, NOW - days_ago * DAY - timedelta(hours=2))
        await add_checkin(conn, i, at=NOW - days_ago * DAY - timedelta(hours=2), rating=rating)
    await add_promise(conn, acme, due=date(2026, 11, 18), status="kept", closed=NOW - 2 * DAY)
    accounts = await load_accounts(conn, team_id=T1)
    series = await account_signals_weekly(
        conn, team_id=T1, now=NOW, weeks_back=2, accounts=accounts
    )
    for k, signals in enumerate(series):
        single = await account_signals(
            conn, team_id=T1, now=NOW - timedelta(weeks=k), accounts=accounts
        )
        assert signals == single, k
    now, week_ago, two_ago = (s[0] for s in series)
    assert [(w.weeks_ago, w.average) for w in now.weeks] == [
        (0, 2.0),
        (1, 4.0),
        (2, 5.0),
        (11, 3.0),
    ]
    assert [(w.weeks_ago, w.average) for w in week_ago.weeks] == [(0, 4.0), (1, 5.0), (10, 3.0)]
    assert [(w.weeks_ago, w.average) for w in two_ago.weeks] == [(0, 5.0), (9, 3.0)]
    assert now.open_promises == 0 and week_ago.open_promises == 1 and week_ago.overdue == 0
    assert two_ago.open_promises == 1


async def test_data_after_now_is_invisible(conn) -> None:
    """Computing as of last week ignores what happened since (digest: new / recovered)."""
    acme = await add_account(conn, "Acme")
    i = await add_interaction(conn, acme, NOW - 2 * DAY, kind="complaint")
    await add_checkin(conn, i, at=NOW - 2 * DAY, rating=1, concern="angry")
    await add_promise(
        conn, acme, due=date(2026, 11, 10), status="kept", closed=NOW - DAY, in_time=False
    )
    week_ago = (await signals_for(conn, now=NOW - 7 * DAY))["Acme"]
    assert week_ago.weeks == ()
    assert week_ago.last_contact_at is None and week_ago.concerns == 0
    assert week_ago.open_promises == 1 and week_ago.overdue == 1  # due 10 Nov, still open then
    now = (await signals_for(conn))["Acme"]
    assert now.last_complaint_at == NOW - 2 * DAY
    assert now.open_promises == 0 and now.kept_late == 1
    assert (await signals_for(conn, now=NOW - 14 * DAY))["Acme"].overdue == 0  # 9 Nov: not due yet


async def test_silent_accounts_get_their_last_contact_from_before_the_window(conn) -> None:
    acme = await add_account(conn, "Acme")
    await add_account(conn, "Never")
    await add_interaction(conn, acme, NOW - 200 * DAY)
    await add_interaction(conn, acme, NOW - 300 * DAY)
    s = await signals_for(conn)
    assert s["Acme"].last_contact_at == NOW - 200 * DAY
    assert s["Never"].last_contact_at is None


async def test_unanswered_concerns_and_worse_in_the_recent_window(conn) -> None:
    acme = await add_account(conn, "Acme")
    i = await add_interaction(conn, acme, NOW - 10 * DAY)
    await add_checkin(conn, i, at=NOW - 10 * DAY, status="expired")
    await add_checkin(conn, i, at=NOW - 10 * DAY, status="expired")
    await add_checkin(conn, i, at=NOW - 10 * DAY, status="away")  # people away are not asked
    await add_checkin(conn, i, at=NOW - 10 * DAY, rating=2, concern="older", direction="worse")
    await add_checkin(conn, i, at=NOW - 5 * DAY, rating=2, concern="newest", direction="worse")
    await add_checkin(conn, i, at=NOW - 5 * DAY, rating=4, concern="")
    old = await add_interaction(conn, acme, NOW - 40 * DAY)
    await add_checkin(conn, old, at=NOW - 40 * DAY, status="expired")  # before the recent window
    s = (await signals_for(conn))["Acme"]
    assert (s.asked, s.unanswered, s.concerns, s.worse) == (5, 2, 2, 2)
    assert s.latest_concern == "newest"


async def test_promises_overdue_and_resolved_in_the_window(conn) -> None:
    acme = await add_account(conn, "Acme")
    await add_promise(conn, acme, due=date(2026, 11, 14))
    await add_promise(conn, acme, due=date(2026, 11, 20))
    await add_promise(conn, acme, due=date(2026, 11, 23))  # due today: not overdue yet
    await add_promise(
        conn, acme, due=date(2026, 11, 1), status="kept", closed=NOW - 3 * DAY, in_time=True
    )
    await add_promise(conn, acme, due=date(2026, 11, 1), status="broken", closed=NOW - 3 * DAY)
    await add_promise(conn, acme, due=date(2026, 6, 1), status="broken", closed=NOW - 120 * DAY)
    await add_promise(conn, acme, due=date(2026, 11, 1), status="cancelled", closed=NOW - 3 * DAY)
    s = (await signals_for(conn))["Acme"]
    assert (s.open_promises, s.overdue, s.oldest_due) == (3, 2, date(2026, 11, 14))
    assert (s.kept_on_time, s.kept_late, s.broken) == (1, 0, 1)


async def test_another_workspace_is_never_counted(conn) -> None:
    mine = await add_account(conn, "Acme", team=T1)
    theirs = await add_account(conn, "Acme", team=T2)
    i = await add_interaction(conn, theirs, NOW - DAY, team=T2)
    await add_checkin(conn, i, at=NOW - DAY, rating=1, team=T2)
    await add_promise(conn, theirs, due=date(2026, 11, 1), team=T2)
    s = (await signals_for(conn, team=T1))["Acme"]
    assert s.account.id == mine
    assert s.weeks == () and s.overdue == 0 and s.last_contact_at is None


async def test_many_accounts_use_grouped_queries(conn) -> None:
    """Over 500 accounts the id filter is dropped; results stay per account."""
    ids = [await add_account(conn, f"A{n}", tier="C") for n in range(520)]
    i = await add_interaction(conn, ids[517], NOW - DAY)
    await add_checkin(conn, i, at=NOW - DAY, rating=5)
    s = await signals_for(conn)
    assert len(s) == 520
    assert [w.average for w in s["A517"].weeks] == [5.0]
    assert s["A3"].weeks == ()


async def test_load_accounts_filters_by_tier(conn) -> None:
    await add_account(conn, "Big", tier="A")
    await add_account(conn, "Small", tier="C")
    names = [a.name for a in await load_accounts(conn, team_id=T1, tiers=["C"])]
    assert names == ["Small"]


async def test_concurrent_queries_on_own_connections_give_the_same_signals(engine) -> None:
    async with engine.begin() as conn:
        acme = await add_account(conn, "Acme")
        await add_account(conn, "Quiet", tier="C")
        for days_ago, rating in [(1, 2), (9, 4), (16, 5), (40, 3)]:
            at = NOW - days_ago * DAY
            i = await add_interaction(conn, acme, at, kind="complaint" if days_ago == 1 else "call")
            await add_checkin(conn, i, at=at, rating=rating, concern="late", direction="worse")
            await add_checkin(conn, i, at=at, status="expired")
        await add_promise(conn, acme, due=date(2026, 11, 10))
        await add_promise(conn, acme, due=date(2026, 11, 1), status="broken", closed=NOW - 3 * DAY)
    async with engine.connect() as conn:
        accounts = await load_accounts(conn, team_id=T1)
        one_by_one = await account_signals_weekly(
            conn, team_id=T1, now=NOW, weeks_back=3, accounts=accounts
        )
        together = await account_signals_weekly(
            conn, team_id=T1, now=NOW, weeks_back=3, accounts=accounts, engine=engine
        )
        # the accounts loaded alongside the signal queries, the tier filter applied
        loading = await account_signals_weekly(
            conn, team_id=T1, now=NOW, weeks_back=3, engine=engine
        )
        tier_c = await account_signals_weekly(
            conn, team_id=T1, now=NOW, weeks_back=3, tiers=["C"], engine=engine
        )
        none_yet = await account_signals_weekly(
            conn, team_id=T1, now=NOW - 500 * DAY, weeks_back=1, engine=engine
        )
    assert together == one_by_one == loading
    assert [[s.account.name for s in week] for week in tier_c] == [["Quiet"]] * 4
    assert tier_c[0][0] == one_by_one[0][1]
    assert none_yet == [[], []]
    assert together[0][0].broken == 1 and together[0][0].concerns == 3  # 1, 9 and 16 days ago
