"""Promise queries on a real SQLite file: events, once-only changes, team scope, figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from storage import promises as pq
from storage import queries
from storage import tables as t
from storage.models import PromiseFigures
from tests.storage.conftest import race

T1, T2 = "T1", "T2"
ALICE, BOB, CAROL = "UALICE", "UBOB", "UCAROL"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
TODAY = NOW.date()
H = timedelta(hours=1)
D = timedelta(days=1)
US = timedelta(microseconds=1)


async def account(conn, name="Acme", team=T1, owner=None):
    return await queries.create_account(
        conn,
        team_id=team,
        name=name,
        tier="B",
        yearly_value=None,
        owner_id=owner,
        created_by=ALICE,
        now=NOW,
    )


async def promise(conn, acc, *, text="send the deck", owner=ALICE, by=None, due=None, at=NOW):
    return await pq.create_promise(
        conn,
        team_id=acc.team_id,
        account_id=acc.id,
        text=text,
        owner_id=owner,
        created_by=by or owner,
        due_date=due or TODAY + 4 * D,
        interaction_id=None,
        now=at,
    )


async def resolve(conn, p, status, *, actor=ALICE, in_time=None, note=None, at=NOW, team=None):
    return await pq.resolve_promise(
        conn,
        team_id=team or p.team_id,
        promise_id=p.id,
        actor_id=actor,
        status=status,
        in_time=in_time,
        note=note,
        now=at,
    )


async def renegotiate(conn, p, new_due, *, told=True, in_time=True, actor=ALICE, at=NOW, team=None):
    return await pq.renegotiate_promise(
        conn,
        team_id=team or p.team_id,
        promise_id=p.id,
        actor_id=actor,
        new_due=new_due,
        customer_told=told,
        in_time=in_time,
        note=None,
        now=at,
    )


async def get(conn, p, team=None):
    detail = await pq.get_promise(conn, team_id=team or p.team_id, promise_id=p.id)
    return detail.promise if detail else None


async def events(conn, p):
    return await pq.promise_events(conn, team_id=p.team_id, promise_id=p.id)


async def count_rows(conn, table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# --- create, get, list, count ------------------------------------------------------------


async def test_create_stores_an_open_promise_and_a_created_event(conn):
    acc = await account(conn, owner=CAROL)
    inter, _ = await queries.create_interaction(
        conn,
        team_id=T1,
        account_id=acc.id,
        kind="call",
        occurred_at=NOW,
        logged_by=ALICE,
        note="",
        source="slash_command",
        now=NOW,
        checkins=[],
    )
    p = await pq.create_promise(
        conn,
        team_id=T1,
        account_id=acc.id,
        text="send <!channel> the deck & more",
        owner_id=BOB,
        created_by=ALICE,
        due_date=date(2026, 11, 27),
        interaction_id=inter.id,
        now=NOW,
    )
    assert p.id > 0
    assert (p.team_id, p.account_id, p.interaction_id) == (T1, acc.id, inter.id)
    assert p.text == "send <!channel> the deck & more"  # stored as given; escaped when shown
    assert (p.owner_id, p.created_by, p.due_date) == (BOB, ALICE, date(2026, 11, 27))
    assert (p.status, p.created_at, p.since_at, p.closed_at) == ("open", NOW, NOW, None)
    assert (p.kept_on_time, p.renegotiations, p.reminder_seq, p.last_reminded_at) == (
        None,
        0,
        0,
        None,
    )
    detail = await pq.get_promise(conn, team_id=T1, promise_id=p.id)
    assert detail is not None
    assert detail.promise == p
    assert (detail.account_name, detail.account_owner_id) == ("Acme", CAROL)
    (created,) = await events(conn, p)
    assert (created.kind, created.actor_id, created.at) == ("created", ALICE, NOW)
    assert (created.old_status, created.new_status) == (None, "open")
    assert (created.old_due_date, created.new_due_date) == (None, date(2026, 11, 27))
    assert (created.customer_told, created.in_time, created.note) == (None, None, None)


async def test_get_missing_promise(conn):
    assert await pq.get_promise(conn, team_id=T1, promise_id=12345) is None


async def test_list_and_count_filters_soonest_due_first(conn):
    acme, globex = await account(conn, "Acme"), await account(conn, "Globex")
    later = await promise(conn, acme, owner=ALICE, due=TODAY + 9 * D)
    overdue = await promise(conn, globex, owner=BOB, due=TODAY - D)
    due_today = await promise(conn, acme, owner=BOB, due=TODAY)
    soon = await promise(conn, globex, owner=ALICE, due=TODAY + D)
    kept = await promise(conn, acme, owner=ALICE, due=TODAY - 3 * D)
    assert await resolve(conn, kept, "kept", in_time=False)
    other_team = await promise(conn, await account(conn, "Acme", team=T2), due=TODAY - 5 * D)

    async def ids(scope, **kw):
        found = await pq.list_promises(conn, team_id=T1, scope=scope, today=TODAY, limit=10, **kw)
        total = await pq.count_promises(conn, team_id=T1, scope=scope, today=TODAY, **kw)
        assert total == len(found)
        return [d.promise.id for d in found]

    assert await ids("all") == [overdue.id, due_today.id, soon.id, later.id]
    assert await ids("mine", user_id=ALICE) == [soon.id, later.id]
    assert await ids("mine", user_id=BOB) == [overdue.id, due_today.id]
    assert await ids("mine", user_id=CAROL) == []
    assert await ids("overdue") == [overdue.id]  # due today is not overdue yet
    assert await ids("account", account_id=acme.id) == [due_today.id, later.id]
    assert await ids("account", account_id=globex.id) == [overdue.id, soon.id]
    assert other_team.id not in await ids("all")
    # the limit cuts the list, the count does not
    two = await pq.list_promises(conn, team_id=T1, scope="all", today=TODAY, limit=2)
    assert [d.promise.id for d in two] == [overdue.id, due_today.id]
    assert await pq.count_promises(conn, team_id=T1, scope="all", today=TODAY) == 4


async def test_list_same_due_date_is_ordered_by_id(conn):
    acc = await account(conn)
    first = await promise(conn, acc, due=TODAY + D)
    second = await promise(conn, acc, due=TODAY + D)
    found = await pq.list_promises(conn, team_id=T1, scope="all", today=TODAY, limit=5)
    assert [d.promise.id for d in found] == [first.id, second.id]


# --- resolving --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "in_time", "note", "kept_on_time"),
    [
        ("kept", True, None, True),
        ("kept", False, None, False),
        ("broken", None, None, None),
        ("cancelled", None, "the customer dropped the project", None),
    ],
)
async def test_resolve_records_status_and_event(conn, status, in_time, note, kept_on_time):
    acc = await account(conn)
    p = await promise(conn, acc, owner=BOB, by=ALICE, due=TODAY)
    at = NOW + 2 * H
    assert await resolve(conn, p, status, actor=CAROL, in_time=in_time, note=note, at=at)
    stored = await get(conn, p)
    assert stored is not None
    assert (stored.status, stored.closed_at, stored.kept_on_time) == (status, at, kept_on_time)
    assert (stored.due_date, stored.owner_id, stored.text) == (p.due_date, p.owner_id, p.text)
    created, change = await events(conn, p)
    assert created.kind == "created"
    assert (change.kind, change.actor_id, change.at) == (status, CAROL, at)
    assert (change.old_status, change.new_status) == ("open", status)
    assert (change.old_due_date, change.new_due_date) == (TODAY, None)
    assert (change.in_time, change.customer_told, change.note) == (in_time, None, note)


async def test_broken_ignores_an_in_time_flag_on_the_promise_row(conn):
    acc = await account(conn)
    p = await promise(conn, acc)
    assert await resolve(conn, p, "broken", in_time=True)
    stored = await get(conn, p)
    assert stored is not None and stored.kept_on_time is None


@pytest.mark.parametrize("first", ["kept", "broken", "cancelled"])
async def test_resolved_promise_cannot_change_again(conn, first):
    acc = await account(conn)
    p = await promise(conn, acc)
    assert await resolve(conn, p, first, in_time=True if first == "kept" else None, at=NOW)
    before = await get(conn, p)
    later = NOW + 3 * D
    assert not await resolve(conn, p, "broken", actor=BOB, at=later)
    assert not await resolve(conn, p, "kept", actor=BOB, in_time=False, at=later)
    assert not await resolve(conn, p, "cancelled", actor=BOB, note="x", at=later)
    assert not await renegotiate(conn, p, TODAY + 30 * D, actor=BOB, at=later)
    assert not await pq.edit_promise(
        conn,
        team_id=T1,
        promise_id=p.id,
        actor_id=BOB,
        text="changed",
        owner_id=BOB,
        due_date=TODAY + 30 * D,
        now=later,
    )
    assert not await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=9, now=later)
    assert await get(conn, p) == before
    assert [e.kind for e in await events(conn, p)] == ["created", first]


# --- renegotiating and editing --------------------------------------------------------------


async def test_renegotiate_in_time_with_the_customer_told(conn):
    acc = await account(conn)
    p = await promise(conn, acc, due=TODAY + 2 * D)
    assert await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=1, now=NOW)
    at = NOW + H
    assert await renegotiate(conn, p, TODAY + 9 * D, told=True, in_time=True, actor=BOB, at=at)
    stored = await get(conn, p)
    assert stored is not None
    assert (stored.status, stored.due_date, stored.renegotiations) == ("open", TODAY + 9 * D, 1)
    assert (stored.since_at, stored.reminder_seq, stored.closed_at) == (at, 0, None)
    assert stored.created_at == NOW  # the original creation time stays
    change = (await events(conn, p))[-1]
    assert (change.kind, change.actor_id, change.at) == ("renegotiated", BOB, at)
    assert (change.old_status, change.new_status) == ("open", "open")
    assert (change.old_due_date, change.new_due_date) == (TODAY + 2 * D, TODAY + 9 * D)
    assert (change.customer_told, change.in_time) == (True, True)


async def test_slipping_after_the_due_date_is_recorded_differently(conn):
    acc = await account(conn)
    p = await promise(conn, acc, due=TODAY - 2 * D)
    assert await renegotiate(conn, p, TODAY + 5 * D, told=False, in_time=False)
    assert await renegotiate(conn, p, TODAY + 12 * D, told=True, in_time=False, at=NOW + H)
    stored = await get(conn, p)
    assert stored is not None
    assert (stored.due_date, stored.renegotiations, stored.status) == (TODAY + 12 * D, 2, "open")
    first, second = (await events(conn, p))[1:]
    assert (first.old_due_date, first.new_due_date) == (TODAY - 2 * D, TODAY + 5 * D)
    assert (first.customer_told, first.in_time) == (False, False)
    assert (second.old_due_date, second.new_due_date) == (TODAY + 5 * D, TODAY + 12 * D)
    assert (second.customer_told, second.in_time) == (True, False)
    # a renegotiated promise can still be kept afterwards
    assert await resolve(conn, p, "kept", in_time=True, at=NOW + 2 * H)
    assert [e.kind for e in await events(conn, p)] == [
        "created",
        "renegotiated",
        "renegotiated",
        "kept",
    ]


async def test_edit_records_old_values_and_restarts_reminders_on_a_new_date(conn):
    acc = await account(conn)
    p = await promise(conn, acc, text="send deck", owner=ALICE, due=TODAY + 3 * D)
    assert await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=1, now=NOW)
    at = NOW + H
    assert await pq.edit_promise(
        conn,
        team_id=T1,
        promise_id=p.id,
        actor_id=CAROL,
        text="send the deck",
        owner_id=BOB,
        due_date=TODAY + 5 * D,
        now=at,
    )
    stored = await get(conn, p)
    assert stored is not None
    assert (stored.text, stored.owner_id, stored.due_date) == ("send the deck", BOB, TODAY + 5 * D)
    assert (stored.since_at, stored.reminder_seq, stored.renegotiations) == (at, 0, 0)
    assert stored.created_by == ALICE
    edited = (await events(conn, p))[-1]
    assert (edited.kind, edited.actor_id, edited.at) == ("edited", CAROL, at)
    assert (edited.old_status, edited.new_status) == ("open", "open")
    assert (edited.old_due_date, edited.new_due_date) == (TODAY + 3 * D, TODAY + 5 * D)
    assert edited.note == f"text was: send deck\nowner was: {ALICE}"


async def test_edit_of_the_text_only_keeps_the_reminder_state(conn):
    acc = await account(conn)
    p = await promise(conn, acc, text="send deck", due=TODAY + 3 * D)
    assert await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=1, now=NOW)
    assert await pq.edit_promise(
        conn,
        team_id=T1,
        promise_id=p.id,
        actor_id=ALICE,
        text="send the deck",
        owner_id=ALICE,
        due_date=TODAY + 3 * D,
        now=NOW + H,
    )
    stored = await get(conn, p)
    assert stored is not None
    assert (stored.since_at, stored.reminder_seq, stored.last_reminded_at) == (NOW, 1, NOW)
    edited = (await events(conn, p))[-1]
    assert edited.note == "text was: send deck"


# --- team scope ------------------------------------------------------------------------------


async def test_another_team_can_never_read_or_change_a_promise(conn):
    acc = await account(conn, team=T1)
    p = await promise(conn, acc, due=TODAY - D)
    assert await pq.get_promise(conn, team_id=T2, promise_id=p.id) is None
    assert await pq.promise_events(conn, team_id=T2, promise_id=p.id) == []
    for scope in ("all", "overdue"):
        assert await pq.list_promises(conn, team_id=T2, scope=scope, today=TODAY, limit=9) == []
        assert await pq.count_promises(conn, team_id=T2, scope=scope, today=TODAY) == 0
    mine = await pq.list_promises(
        conn, team_id=T2, scope="mine", today=TODAY, limit=9, user_id=ALICE
    )
    theirs = await pq.list_promises(
        conn, team_id=T2, scope="account", today=TODAY, limit=9, account_id=acc.id
    )
    assert mine == theirs == []
    assert not await resolve(conn, p, "kept", in_time=True, team=T2)
    assert not await resolve(conn, p, "broken", team=T2)
    assert not await resolve(conn, p, "cancelled", note="x", team=T2)
    assert not await renegotiate(conn, p, TODAY + 9 * D, team=T2)
    assert not await pq.edit_promise(
        conn,
        team_id=T2,
        promise_id=p.id,
        actor_id=ALICE,
        text="hacked",
        owner_id=BOB,
        due_date=TODAY + 9 * D,
        now=NOW,
    )
    assert not await pq.claim_promise_reminder(conn, team_id=T2, promise_id=p.id, seq=1, now=NOW)
    figures = await pq.promise_figures(
        conn, team_id=T2, start=NOW - D, end=NOW + D, today=TODAY, by="account"
    )
    assert figures == {}
    assert await get(conn, p) == p
    assert [e.kind for e in await events(conn, p)] == ["created"]
    assert await count_rows(conn, t.promise_events) == 1


async def test_promise_of_one_team_is_not_joined_to_another_teams_account(conn):
    mine = await account(conn, "Acme", team=T1)
    await account(conn, "Acme", team=T2)
    p = await promise(conn, mine)
    detail = await pq.get_promise(conn, team_id=T1, promise_id=p.id)
    assert detail is not None and detail.account_name == "Acme"
    assert await pq.get_promise(conn, team_id=T2, promise_id=p.id) is None


# --- reminders -------------------------------------------------------------------------------


async def test_reminder_claim_is_exactly_once(conn):
    acc = await account(conn)
    p = await promise(conn, acc)
    assert await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=2, now=NOW)
    assert not await pq.claim_promise_reminder(
        conn, team_id=T1, promise_id=p.id, seq=2, now=NOW + H
    )
    # an older reminder is never sent after a newer one
    assert not await pq.claim_promise_reminder(
        conn, team_id=T1, promise_id=p.id, seq=1, now=NOW + H
    )
    stored = await get(conn, p)
    assert stored is not None and (stored.reminder_seq, stored.last_reminded_at) == (2, NOW)
    assert await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=3, now=NOW + D)
    stored = await get(conn, p)
    assert stored is not None and (stored.reminder_seq, stored.last_reminded_at) == (3, NOW + D)


async def test_two_connections_racing_for_a_reminder_only_one_wins(engine):
    async with engine.begin() as conn:
        acc = await account(conn)
        p = await promise(conn, acc)

    async def claim(conn):
        return await pq.claim_promise_reminder(conn, team_id=T1, promise_id=p.id, seq=1, now=NOW)

    assert await race(engine, claim) == (True, False)
    async with engine.connect() as conn:
        stored = await get(conn, p)
    assert stored is not None and stored.reminder_seq == 1


async def test_many_processes_claiming_one_reminder_at_once_one_wins(engine):
    async with engine.begin() as conn:
        acc = await account(conn)
        p = await promise(conn, acc)

    async def claim() -> bool:
        async with engine.begin() as conn:
            return await pq.claim_promise_reminder(
                conn, team_id=T1, promise_id=p.id, seq=1, now=NOW
            )

    assert sorted(await asyncio.gather(*(claim() for _ in range(5)))) == [False] * 4 + [True]


async def test_keeping_and_renegotiating_at_once_only_one_applies(engine):
    async with engine.begin() as conn:
        p = await promise(conn, await account(conn))

    async def keep_or_move(conn):
        kept = await resolve(conn, p, "kept", in_time=True)
        return kept or await renegotiate(conn, p, TODAY + 9 * D)

    assert await race(engine, keep_or_move) == (True, False)
    async with engine.connect() as conn:
        stored = await get(conn, p)
        history = await events(conn, p)
    assert stored is not None and (stored.status, stored.due_date) == ("kept", p.due_date)
    assert [e.kind for e in history] == ["created", "kept"]


async def test_an_edit_waiting_on_another_records_what_the_first_left(engine):
    """The second edit's "was" is the first edit's text, not the text both started from."""
    async with engine.begin() as conn:
        p = await promise(conn, await account(conn), text="send deck")
    texts = iter(["send the deck", "send the deck today"])

    async def edit(conn):
        return await pq.edit_promise(
            conn,
            team_id=T1,
            promise_id=p.id,
            actor_id=ALICE,
            text=next(texts),
            owner_id=ALICE,
            due_date=p.due_date,
            now=NOW,
        )

    assert await race(engine, edit) == (True, True)
    async with engine.connect() as conn:
        stored = await get(conn, p)
        notes = [e.note for e in await events(conn, p) if e.kind == "edited"]
    assert stored is not None and stored.text == "send the deck today"
    assert notes == ["text was: send deck", "text was: send the deck"]


async def test_reminder_candidates_open_due_by_paged_across_teams(conn):
    acme, other = await account(conn, "Acme"), await account(conn, "Acme", team=T2)
    a = await promise(conn, acme, due=TODAY)
    b = await promise(conn, other, due=TODAY + 2 * D)
    await promise(conn, acme, due=TODAY + 3 * D)  # too far ahead
    closed = await promise(conn, acme, due=TODAY - D)
    assert await resolve(conn, closed, "broken")
    c = await promise(conn, acme, due=TODAY - 10 * D)

    async def ids(after_id=0, limit=10):
        found = await pq.reminder_candidates(
            conn, due_by=TODAY + 2 * D, after_id=after_id, limit=limit
        )
        return [d.promise.id for d in found]

    assert await ids() == [a.id, b.id, c.id]
    assert await ids(limit=2) == [a.id, b.id]
    assert await ids(after_id=b.id) == [c.id]
    found = await pq.reminder_candidates(conn, due_by=TODAY + 2 * D, after_id=a.id, limit=1)
    assert found[0].promise.team_id == T2 and found[0].account_name == "Acme"


# --- figures ---------------------------------------------------------------------------------

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
FIG_TODAY = date(2026, 12, 5)


def nov(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


async def figures_story(conn) -> dict[str, Any]:
    """Promises made, kept, renegotiated, broken and cancelled around a November window.

    Window [START, END) = November 2026 (UTC); "today" for overdue is 5 December.
    """
    acme, globex = await account(conn, "Acme"), await account(conn, "Globex")
    # P1 Acme/Alice: made exactly at START, kept on time.
    p1 = await promise(conn, acme, owner=ALICE, due=date(2026, 11, 10), at=START)
    await resolve(conn, p1, "kept", in_time=True, at=nov(9))
    # P2 Acme/Alice: made before the window, kept late exactly at START (counted).
    p2 = await promise(conn, acme, owner=ALICE, due=date(2026, 10, 25), at=START - 12 * D)
    await resolve(conn, p2, "kept", in_time=False, at=START)
    # P3 Acme/Bob: renegotiated in time with the customer told, then broken.
    p3 = await promise(conn, acme, owner=BOB, due=date(2026, 11, 20), at=nov(2))
    await renegotiate(conn, p3, date(2026, 11, 25), told=True, in_time=True, at=nov(15))
    await resolve(conn, p3, "broken", at=nov(26))
    # P4 Globex/Bob: slipped after its date (customer told), still open and overdue.
    p4 = await promise(conn, globex, owner=BOB, due=date(2026, 11, 10), at=nov(3))
    await renegotiate(conn, p4, date(2026, 11, 30), told=True, in_time=False, at=nov(12))
    # P5 Globex/Alice: made a microsecond before END (counted), open, not overdue.
    await promise(conn, globex, owner=ALICE, due=date(2026, 12, 10), at=END - US)
    # P6 Globex/Alice: made exactly at END (not counted), open and overdue.
    await promise(conn, globex, owner=ALICE, due=date(2026, 12, 1), at=END)
    # P7 Acme/Alice: cancelled (never counted as broken).
    p7 = await promise(conn, acme, owner=ALICE, due=date(2026, 11, 8), at=nov(5))
    await resolve(conn, p7, "cancelled", note="no longer needed", at=nov(7))
    # P8 Acme/Bob: kept late exactly at END (not counted).
    p8 = await promise(conn, acme, owner=BOB, due=date(2026, 11, 10), at=nov(5))
    await resolve(conn, p8, "kept", in_time=False, at=END)
    # P9 Acme/Alice: renegotiated before its date but the customer not told: a slip.
    p9 = await promise(conn, acme, owner=ALICE, due=date(2026, 11, 8), at=nov(6))
    await renegotiate(conn, p9, date(2026, 12, 20), told=False, in_time=True, at=nov(7))
    # P10 another team: never counted.
    other = await account(conn, "Acme", team=T2)
    p10 = await promise(conn, other, owner=ALICE, due=date(2026, 11, 10), at=nov(5))
    await resolve(conn, p10, "kept", in_time=True, at=nov(6))
    await promise(conn, other, owner=ALICE, due=date(2026, 11, 10), at=nov(5))  # overdue there
    return {"acme": acme, "globex": globex}


async def test_figures_per_account_over_a_window(conn):
    story = await figures_story(conn)
    acme, globex = story["acme"].id, story["globex"].id
    figures = await pq.promise_figures(
        conn, team_id=T1, start=START, end=END, today=FIG_TODAY, by="account"
    )
    assert figures == {
        acme: PromiseFigures(
            made=5,  # P1 (at START), P3, P7, P8, P9; P2 was made before
            kept_on_time=1,  # P1
            kept_late=1,  # P2 at START; P8 at END is outside
            renegotiated_in_time=1,  # P3
            renegotiated_late=1,  # P9: in time but the customer not told
            broken=1,  # P3
            cancelled=1,  # P7
            overdue=0,
        ),
        globex: PromiseFigures(
            made=2,  # P4, P5 (END - 1µs); P6 at END is outside
            renegotiated_late=1,  # P4
            overdue=2,  # P4 (due 30 Nov), P6 (due 1 Dec)
        ),
    }
    assert figures[acme].kept_on_time_rate == pytest.approx(1 / 3)  # P1 of P1, P2, P3
    assert figures[globex].kept_on_time_rate is None  # nothing kept or broken yet


async def test_figures_per_person_over_a_window(conn):
    await figures_story(conn)
    figures = await pq.promise_figures(
        conn, team_id=T1, start=START, end=END, today=FIG_TODAY, by="owner"
    )
    assert figures == {
        ALICE: PromiseFigures(
            made=4,  # P1, P5, P7, P9
            kept_on_time=1,  # P1
            kept_late=1,  # P2
            renegotiated_late=1,  # P9
            cancelled=1,  # P7
            overdue=1,  # P6
        ),
        BOB: PromiseFigures(
            made=3,  # P3, P4, P8
            renegotiated_in_time=1,  # P3
            renegotiated_late=1,  # P4
            broken=1,  # P3
            overdue=1,  # P4
        ),
    }
    assert figures[ALICE].kept_on_time_rate == pytest.approx(1 / 2)
    assert figures[BOB].kept_on_time_rate == 0.0


async def test_figures_window_edges_move_with_the_window(conn):
    story = await figures_story(conn)
    acme, globex = story["acme"].id, story["globex"].id
    # one microsecond later: P6 made and P8 kept are inside; P1 made and P2 kept still are
    wider = await pq.promise_figures(
        conn, team_id=T1, start=START, end=END + US, today=FIG_TODAY, by="account"
    )
    assert (wider[acme].made, wider[acme].kept_late) == (5, 2)
    assert wider[globex].made == 3
    # starting a microsecond later: P1 made and P2 kept at START drop out
    later = await pq.promise_figures(
        conn, team_id=T1, start=START + US, end=END, today=FIG_TODAY, by="account"
    )
    assert (later[acme].made, later[acme].kept_late, later[acme].kept_on_time) == (4, 0, 1)
    # "currently overdue" depends on today, not on the window: on 1 Dec only P4 is late
    early = await pq.promise_figures(
        conn, team_id=T1, start=START, end=END, today=date(2026, 12, 1), by="account"
    )
    assert early[globex].overdue == 1
    # a window with no activity still reports what is overdue now
    empty = await pq.promise_figures(
        conn,
        team_id=T1,
        start=datetime(2027, 1, 1, tzinfo=UTC),
        end=datetime(2027, 2, 1, tzinfo=UTC),
        today=FIG_TODAY,
        by="account",
    )
    assert empty == {globex: PromiseFigures(overdue=2)}


async def test_figures_for_chosen_keys_only(conn):
    story = await figures_story(conn)
    acme = story["acme"].id
    figures = await pq.promise_figures(
        conn, team_id=T1, start=START, end=END, today=FIG_TODAY, by="account", keys=[acme]
    )
    assert list(figures) == [acme] and figures[acme].made == 5
    people = await pq.promise_figures(
        conn, team_id=T1, start=START, end=END, today=FIG_TODAY, by="owner", keys=[BOB, CAROL]
    )
    assert list(people) == [BOB] and people[BOB].broken == 1


async def test_figures_take_three_queries(engine):
    async with engine.begin() as conn:
        await figures_story(conn)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with engine.connect() as conn:
            await pq.promise_figures(
                conn, team_id=T1, start=START, end=END, today=FIG_TODAY, by="owner"
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3
