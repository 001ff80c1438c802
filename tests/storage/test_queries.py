"""Query functions on a real SQLite file: team scoping, once-only updates, time boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from storage import queries
from storage.queries import NewCheckIn
from tests.storage.conftest import race

T1, T2 = "T1", "T2"
ALICE, BOB, CAROL = "UALICE", "UBOB", "UCAROL"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


async def account(conn, name="Acme Oy", team=T1, **kw):
    args = {
        "team_id": team,
        "name": name,
        "tier": "B",
        "yearly_value": None,
        "owner_id": None,
        "created_by": ALICE,
        "now": NOW,
    }
    args.update(kw)
    return await queries.create_account(conn, **args)


def new(user, status="pending", remind=NOW + 4 * H, expires=NOW + 72 * H):
    return NewCheckIn(user_id=user, status=status, remind_at=remind, expires_at=expires)


async def interaction(conn, acc, users=(ALICE,), team=T1, occurred=NOW, note="", **kw):
    checkins = kw.pop("checkins", [new(u) for u in users])
    return await queries.create_interaction(
        conn,
        team_id=team,
        account_id=acc.id,
        kind=kw.pop("kind", "call"),
        occurred_at=occurred,
        logged_by=ALICE,
        note=note,
        source="slash_command",
        now=NOW,
        checkins=checkins,
    )


async def answer(conn, checkin_id, team=T1, user=ALICE, rating=4, **kw):
    args: dict[str, Any] = {"direction": None, "stage": None, "concern": None, "now": NOW + H}
    args.update(kw)
    return await queries.answer_checkin(
        conn, team_id=team, checkin_id=checkin_id, user_id=user, rating=rating, **args
    )


# --- accounts -------------------------------------------------------------------------------


async def test_create_and_get_account(conn):
    acc = await account(conn, tier="A", yearly_value=Decimal("120000.50"), owner_id=BOB)
    assert acc.id > 0
    assert acc.team_id == T1
    assert acc.yearly_value == Decimal("120000.50")
    assert acc.owner_id == BOB
    assert acc.created_at == NOW
    got = await queries.get_account(conn, team_id=T1, account_id=acc.id)
    assert got == acc


async def test_account_names_unique_per_team_case_insensitively(engine):
    async with engine.begin() as conn:
        await account(conn, "Acme Oy")
    with pytest.raises(queries.DuplicateAccountError):
        async with engine.begin() as conn:
            await account(conn, "ACME   oy")
    async with engine.connect() as conn:
        assert len(await queries.list_accounts(conn, team_id=T1)) == 1


async def test_same_name_allowed_in_another_team(conn):
    one = await account(conn, "Acme Oy", team=T1)
    two = await account(conn, "acme oy", team=T2)
    assert one.id != two.id
    assert (await queries.find_account(conn, team_id=T2, name="ACME OY")) == two
    assert (await queries.find_account(conn, team_id=T1, name="acme  OY")) == one


async def test_find_account_missing(conn):
    await account(conn, "Acme Oy")
    assert await queries.find_account(conn, team_id=T1, name="Acme") is None


async def test_accounts_are_team_scoped(conn):
    acc = await account(conn, "Secret Co", team=T1)
    assert await queries.get_account(conn, team_id=T2, account_id=acc.id) is None
    assert await queries.find_account(conn, team_id=T2, name="Secret Co") is None
    assert await queries.list_accounts(conn, team_id=T2) == []


async def test_list_accounts_sorted_by_name_case_insensitively(conn):
    for name in ("beta", "Alpha", "Gamma"):
        await account(conn, name)
    names = [a.name for a in await queries.list_accounts(conn, team_id=T1)]
    assert names == ["Alpha", "beta", "Gamma"]


def test_name_key():
    assert queries.name_key("  Acme   OY ") == "acme oy"
    assert queries.name_key("STRASSE") == queries.name_key("straße")


# --- interactions and check-ins -----------------------------------------------------------------


async def test_create_interaction_with_checkins(conn):
    acc = await account(conn)
    inter, created = await interaction(conn, acc, users=(ALICE, BOB, ALICE), note="hello")
    assert inter.account_id == acc.id
    assert inter.note == "hello"
    assert inter.occurred_at == NOW
    assert [c.user_id for c in created] == [ALICE, BOB]
    assert all(c.status == "pending" and c.closed_at is None for c in created)
    assert created[0].remind_at == NOW + 4 * H
    assert created[0].expires_at == NOW + 72 * H
    assert created[0].delivery_attempts == 0


async def test_non_pending_checkins_are_closed_at_creation(conn):
    acc = await account(conn)
    _, created = await interaction(conn, acc, checkins=[new(BOB, status="away", remind=None)])
    assert created[0].status == "away"
    assert created[0].closed_at == NOW


async def test_add_checkins_skips_users_who_have_one(conn):
    acc = await account(conn)
    inter, _ = await interaction(conn, acc, users=(ALICE,))
    added = await queries.add_checkins(
        conn, team_id=T1, interaction_id=inter.id, now=NOW, checkins=[new(ALICE), new(CAROL)]
    )
    assert [c.user_id for c in added] == [CAROL]
    everyone = await queries.checkins_for_interaction(conn, team_id=T1, interaction_id=inter.id)
    assert [c.user_id for c in everyone] == [ALICE, CAROL]
    assert await queries.checkins_for_interaction(conn, team_id=T2, interaction_id=inter.id) == []


async def test_get_checkin_detail_and_team_scope(conn):
    acc = await account(conn, "Globex")
    _, (c,) = await interaction(conn, acc, note="renewal", kind="qbr")
    detail = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert detail is not None
    assert detail.checkin == c
    assert detail.account_name == "Globex"
    assert detail.account_id == acc.id
    assert detail.kind == "qbr"
    assert detail.note == "renewal"
    assert detail.logged_by == ALICE
    assert detail.occurred_at == NOW
    assert await queries.get_checkin(conn, team_id=T2, checkin_id=c.id) is None


async def test_answer_checkin_only_once(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    assert await answer(conn, c.id, rating=2, direction="worse", stage="calculative", concern="x")
    assert not await answer(conn, c.id, rating=5, direction="better", concern="changed")
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None
    assert d.checkin.status == "answered"
    assert d.checkin.rating == 2
    assert d.checkin.direction == "worse"
    assert d.checkin.stage == "calculative"
    assert d.checkin.concern == "x"
    assert d.checkin.answered_at == NOW + H
    assert d.checkin.closed_at == NOW + H


async def test_answer_checkin_only_by_its_user(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc, users=(ALICE,))
    assert not await answer(conn, c.id, user=BOB)
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None and d.checkin.status == "pending"


async def test_checkin_of_one_team_unchangeable_from_another(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    assert not await answer(conn, c.id, team=T2)
    assert not await queries.close_checkin(
        conn, team_id=T2, checkin_id=c.id, status="skipped", now=NOW
    )
    assert not await queries.claim_reminder(conn, team_id=T2, checkin_id=c.id, now=NOW)
    await queries.record_delivery(
        conn, team_id=T2, checkin_id=c.id, dm_channel="D1", dm_ts="1.1", error=None
    )
    await queries.record_reminder_message(conn, team_id=T2, checkin_id=c.id, channel="D1", ts="2")
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None
    assert d.checkin == c
    assert await queries.pending_checkins_for_user(conn, team_id=T2, user_id=ALICE, limit=10) == []
    assert await queries.count_pending_for_user(conn, team_id=T2, user_id=ALICE) == 0


@pytest.mark.parametrize("status", ["skipped", "expired", "away"])
async def test_close_checkin_once(conn, status):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    assert await queries.close_checkin(conn, team_id=T1, checkin_id=c.id, status=status, now=NOW)
    assert not await queries.close_checkin(
        conn, team_id=T1, checkin_id=c.id, status="expired", now=NOW + H
    )
    assert not await answer(conn, c.id)
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None
    assert d.checkin.status == status
    assert d.checkin.closed_at == NOW
    assert d.checkin.rating is None


async def test_close_checkin_checks_user_when_given(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc, users=(ALICE,))
    assert not await queries.close_checkin(
        conn, team_id=T1, checkin_id=c.id, status="skipped", now=NOW, user_id=BOB
    )
    assert await queries.close_checkin(
        conn, team_id=T1, checkin_id=c.id, status="skipped", now=NOW, user_id=ALICE
    )


async def test_answered_checkin_cannot_be_closed(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    assert await answer(conn, c.id)
    assert not await queries.close_checkin(
        conn, team_id=T1, checkin_id=c.id, status="expired", now=NOW + 99 * H
    )
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None and d.checkin.status == "answered"


async def test_pending_checkins_for_user_newest_first_and_limited(conn):
    acc = await account(conn)
    ids = []
    for hours in (3, 1, 2):
        _, (c,) = await interaction(conn, acc, occurred=NOW - hours * H)
        ids.append(c.id)
    _, (done,) = await interaction(conn, acc, occurred=NOW)
    await answer(conn, done.id)
    await interaction(conn, acc, users=(BOB,))
    pending = await queries.pending_checkins_for_user(conn, team_id=T1, user_id=ALICE, limit=10)
    assert [d.checkin.id for d in pending] == [ids[1], ids[2], ids[0]]
    limited = await queries.pending_checkins_for_user(conn, team_id=T1, user_id=ALICE, limit=2)
    assert [d.checkin.id for d in limited] == [ids[1], ids[2]]
    assert await queries.count_pending_for_user(conn, team_id=T1, user_id=ALICE) == 3
    assert await queries.count_pending_for_user(conn, team_id=T1, user_id=BOB) == 1


async def test_record_delivery_success_and_failure(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    await queries.record_delivery(
        conn, team_id=T1, checkin_id=c.id, dm_channel=None, dm_ts=None, error="x" * 500
    )
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None
    assert d.checkin.delivery_attempts == 1
    assert d.checkin.delivery_error == "x" * 200
    assert d.checkin.dm_ts is None
    await queries.record_delivery(
        conn, team_id=T1, checkin_id=c.id, dm_channel="D1", dm_ts="111.222", error=None
    )
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None
    assert d.checkin.delivery_attempts == 2
    assert d.checkin.delivery_error is None
    assert (d.checkin.dm_channel, d.checkin.dm_ts) == ("D1", "111.222")


async def test_record_reminder_message_keeps_existing_channel(conn):
    acc = await account(conn)
    _, (c, other) = await interaction(conn, acc, users=(ALICE, BOB))
    await queries.record_delivery(
        conn, team_id=T1, checkin_id=c.id, dm_channel="D1", dm_ts="1.0", error=None
    )
    await queries.record_reminder_message(conn, team_id=T1, checkin_id=c.id, channel="D9", ts="2")
    await queries.record_reminder_message(
        conn, team_id=T1, checkin_id=other.id, channel="D2", ts="3"
    )
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    o = await queries.get_checkin(conn, team_id=T1, checkin_id=other.id)
    assert d is not None and o is not None
    assert (d.checkin.dm_channel, d.checkin.reminder_ts) == ("D1", "2")
    assert (o.checkin.dm_channel, o.checkin.reminder_ts) == ("D2", "3")


async def test_undelivered_checkins(conn):
    acc = await account(conn)
    _, (never, failed, delivered, exhausted) = await interaction(
        conn, acc, users=(ALICE, BOB, CAROL, "UDAVE")
    )
    await queries.record_delivery(
        conn, team_id=T1, checkin_id=failed.id, dm_channel=None, dm_ts=None, error="boom"
    )
    await queries.record_delivery(
        conn, team_id=T1, checkin_id=delivered.id, dm_channel="D", dm_ts="1", error=None
    )
    for _ in range(3):
        await queries.record_delivery(
            conn, team_id=T1, checkin_id=exhausted.id, dm_channel=None, dm_ts=None, error="e"
        )
    out = await queries.undelivered_checkins(conn, now=NOW, max_attempts=3, limit=10)
    assert [d.checkin.id for d in out] == [failed.id]
    late = await queries.undelivered_checkins(conn, now=NOW + 72 * H, max_attempts=3, limit=10)
    assert late == []
    assert never.id not in [d.checkin.id for d in out]


# --- reminders and expiries -----------------------------------------------------------------


async def test_due_reminders_boundaries(conn):
    acc = await account(conn)
    remind = NOW + 4 * H
    expires = NOW + 72 * H
    _, (c,) = await interaction(conn, acc, checkins=[new(ALICE, remind=remind, expires=expires)])
    await interaction(conn, acc, checkins=[new(BOB, remind=None, expires=expires)])

    async def due(now):
        return [d.checkin.id for d in await queries.due_reminders(conn, now=now, limit=10)]

    assert await due(remind - timedelta(seconds=1)) == []
    assert await due(remind) == [c.id]
    assert await due(expires - timedelta(seconds=1)) == [c.id]
    assert await due(expires) == []


async def test_due_reminders_across_teams_ordered_and_limited(conn):
    one = await account(conn, team=T1)
    two = await account(conn, team=T2)
    _, (late,) = await interaction(conn, one, checkins=[new(ALICE, remind=NOW + 2 * H)])
    _, (early,) = await interaction(conn, two, team=T2, checkins=[new(BOB, remind=NOW + H)])
    out = await queries.due_reminders(conn, now=NOW + 3 * H, limit=10)
    assert [(d.checkin.id, d.checkin.team_id) for d in out] == [(early.id, T2), (late.id, T1)]
    assert len(await queries.due_reminders(conn, now=NOW + 3 * H, limit=1)) == 1


async def test_claim_reminder_only_once(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    at = NOW + 5 * H
    assert await queries.claim_reminder(conn, team_id=T1, checkin_id=c.id, now=at)
    assert not await queries.claim_reminder(conn, team_id=T1, checkin_id=c.id, now=at + H)
    d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None and d.checkin.reminded_at == at
    assert await queries.due_reminders(conn, now=at, limit=10) == []


async def test_claim_reminder_not_for_closed_checkin(conn):
    acc = await account(conn)
    _, (c,) = await interaction(conn, acc)
    await answer(conn, c.id)
    assert not await queries.claim_reminder(conn, team_id=T1, checkin_id=c.id, now=NOW + 5 * H)
    assert await queries.due_reminders(conn, now=NOW + 5 * H, limit=10) == []


async def test_due_expiries_boundaries(conn):
    acc = await account(conn)
    expires = NOW + 72 * H
    _, (c, done) = await interaction(conn, acc, users=(ALICE, BOB))
    await answer(conn, done.id, user=BOB)

    async def due(now):
        return [d.checkin.id for d in await queries.due_expiries(conn, now=now, limit=10)]

    assert await due(expires - timedelta(seconds=1)) == []
    assert await due(expires) == [c.id]
    assert await due(expires + 100 * H) == [c.id]
    await queries.close_checkin(conn, team_id=T1, checkin_id=c.id, status="expired", now=expires)
    assert await due(expires + H) == []


async def test_datetimes_in_other_zones_compare_as_instants(conn):
    acc = await account(conn)
    from zoneinfo import ZoneInfo

    hel = ZoneInfo("Europe/Helsinki")
    remind_local = (NOW + 4 * H).astimezone(hel)  # same instant, +02:00
    _, (c,) = await interaction(conn, acc, checkins=[new(ALICE, remind=remind_local)])
    assert c.remind_at == NOW + 4 * H
    assert c.remind_at is not None and c.remind_at.tzinfo is not None
    out = await queries.due_reminders(conn, now=(NOW + 3 * H).astimezone(hel), limit=10)
    assert out == []
    out = await queries.due_reminders(conn, now=(NOW + 4 * H).astimezone(hel), limit=10)
    assert [d.checkin.id for d in out] == [c.id]


async def test_naive_datetimes_are_refused(conn):
    acc = await account(conn)
    with pytest.raises(Exception, match="naive"):
        await queries.due_expiries(conn, now=datetime(2026, 1, 1), limit=1)
    assert acc.created_at.tzinfo is not None


# --- users --------------------------------------------------------------------------------


async def test_upsert_user_inserts_and_updates(conn):
    await queries.upsert_user(
        conn,
        team_id=T1,
        user_id=ALICE,
        name="alice",
        tz="Europe/Helsinki",
        is_bot=False,
        deleted=False,
        is_admin=False,
        now=NOW,
    )
    updated = await queries.upsert_user(
        conn,
        team_id=T1,
        user_id=ALICE,
        name="alice2",
        tz="America/New_York",
        is_bot=False,
        deleted=True,
        is_admin=True,
        now=NOW + H,
    )
    users = await queries.get_users(conn, team_id=T1, user_ids=[ALICE, ALICE, BOB])
    assert set(users) == {ALICE}
    assert users[ALICE] == updated
    assert users[ALICE].name == "alice2"
    assert users[ALICE].tz == "America/New_York"
    assert users[ALICE].deleted is True
    assert users[ALICE].is_admin is True
    assert users[ALICE].is_bot is False
    assert users[ALICE].fetched_at == NOW + H


async def test_users_are_team_scoped(conn):
    await queries.upsert_user(
        conn,
        team_id=T1,
        user_id=ALICE,
        name="alice",
        tz=None,
        is_bot=True,
        deleted=False,
        is_admin=False,
        now=NOW,
    )
    assert await queries.get_users(conn, team_id=T2, user_ids=[ALICE]) == {}
    assert await queries.get_users(conn, team_id=T1, user_ids=[]) == {}
    got = await queries.get_users(conn, team_id=T1, user_ids=[ALICE])
    assert got[ALICE].is_bot is True
    assert got[ALICE].tz is None


# --- away ---------------------------------------------------------------------------------


async def start(conn, user=ALICE, team=T1, starts=NOW, ends=NOW + 48 * H, now=NOW):
    return await queries.start_away(
        conn, team_id=team, user_id=user, starts_at=starts, ends_at=ends, now=now
    )


async def test_away_period_bounds(conn):
    period = await start(conn)
    assert period.ended_at is None

    async def away(now):
        return await queries.current_away(conn, team_id=T1, user_id=ALICE, now=now)

    assert await away(NOW - timedelta(seconds=1)) is None
    assert await away(NOW) == period
    assert await away(NOW + 48 * H - timedelta(seconds=1)) == period
    assert await away(NOW + 48 * H) is None


async def test_away_users(conn):
    await start(conn, user=ALICE)
    await start(conn, user=BOB, starts=NOW + 24 * H)
    await start(conn, user=CAROL, team=T2)
    got = await queries.away_users(conn, team_id=T1, user_ids=[ALICE, BOB, CAROL], now=NOW + H)
    assert got == {ALICE}
    got = await queries.away_users(conn, team_id=T1, user_ids=[ALICE, BOB], now=NOW + 25 * H)
    assert got == {ALICE, BOB}
    assert await queries.away_users(conn, team_id=T1, user_ids=[], now=NOW) == set()


async def test_away_is_team_scoped(conn):
    await start(conn, team=T1)
    assert await queries.current_away(conn, team_id=T2, user_id=ALICE, now=NOW + H) is None
    assert not await queries.end_away(conn, team_id=T2, user_id=ALICE, now=NOW + H)
    assert await queries.current_away(conn, team_id=T1, user_id=ALICE, now=NOW + H) is not None


async def test_end_away_early(conn):
    await start(conn)
    back = NOW + 5 * H
    assert await queries.end_away(conn, team_id=T1, user_id=ALICE, now=back)
    assert await queries.current_away(conn, team_id=T1, user_id=ALICE, now=back) is None
    assert await queries.current_away(conn, team_id=T1, user_id=ALICE, now=back + H) is None
    # before the early end the period still counts
    during = await queries.current_away(conn, team_id=T1, user_id=ALICE, now=back - H)
    assert during is not None and during.ended_at == back
    assert await queries.away_users(conn, team_id=T1, user_ids=[ALICE], now=back + H) == set()
    assert not await queries.end_away(conn, team_id=T1, user_id=ALICE, now=back + H)


async def test_end_away_when_not_away(conn):
    assert not await queries.end_away(conn, team_id=T1, user_id=ALICE, now=NOW)


async def test_start_away_ends_the_running_period(conn):
    first = await start(conn, ends=NOW + 48 * H)
    second = await start(conn, starts=NOW + H, ends=NOW + 10 * H, now=NOW + H)
    assert second.id != first.id
    current = await queries.current_away(conn, team_id=T1, user_id=ALICE, now=NOW + 2 * H)
    assert current == second
    # the first period was ended when the second started, so it no longer covers later times
    assert await queries.current_away(conn, team_id=T1, user_id=ALICE, now=NOW + 20 * H) is None


# --- drafts -------------------------------------------------------------------------------


async def test_draft_taken_once(conn):
    draft_id = await queries.create_draft(
        conn, team_id=T1, user_id=ALICE, kind="checkin", payload='{"a":1}', now=NOW
    )
    draft = await queries.take_draft(
        conn, team_id=T1, user_id=ALICE, draft_id=draft_id, now=NOW + H
    )
    assert draft is not None
    assert draft.id == draft_id
    assert draft.payload == '{"a":1}'
    assert draft.kind == "checkin"
    assert draft.created_at == NOW
    assert draft.used_at == NOW + H
    again = await queries.take_draft(conn, team_id=T1, user_id=ALICE, draft_id=draft_id, now=NOW)
    assert again is None


async def test_draft_only_by_its_user_and_team(conn):
    draft_id = await queries.create_draft(
        conn, team_id=T1, user_id=ALICE, kind="checkin", payload="{}", now=NOW
    )
    assert (
        await queries.take_draft(conn, team_id=T1, user_id=BOB, draft_id=draft_id, now=NOW) is None
    )
    assert (
        await queries.take_draft(conn, team_id=T2, user_id=ALICE, draft_id=draft_id, now=NOW)
        is None
    )
    assert (
        await queries.take_draft(conn, team_id=T1, user_id=ALICE, draft_id=draft_id, now=NOW)
        is not None
    )


async def test_take_missing_draft(conn):
    assert await queries.take_draft(conn, team_id=T1, user_id=ALICE, draft_id=999, now=NOW) is None


# --- two processes at once -------------------------------------------------------------------


async def pending_checkin(engine):
    async with engine.begin() as conn:
        acc = await account(conn)
        inter, (c,) = await interaction(conn, acc)
    return inter, c


async def test_two_processes_claiming_one_reminder_one_wins(engine):
    _, c = await pending_checkin(engine)

    async def claim(conn):
        return await queries.claim_reminder(conn, team_id=T1, checkin_id=c.id, now=NOW + 5 * H)

    assert await race(engine, claim) == (True, False)


async def test_an_answer_and_a_skip_at_once_only_one_counts(engine):
    _, c = await pending_checkin(engine)
    moves = iter(["answer", "skip"])

    async def move(conn):
        if next(moves) == "answer":
            return await answer(conn, c.id, rating=2)
        return await queries.close_checkin(
            conn, team_id=T1, checkin_id=c.id, status="skipped", now=NOW + H, user_id=ALICE
        )

    assert await race(engine, move) == (True, False)
    async with engine.connect() as conn:
        d = await queries.get_checkin(conn, team_id=T1, checkin_id=c.id)
    assert d is not None and (d.checkin.status, d.checkin.rating) == ("answered", 2)


async def test_a_draft_taken_by_two_clicks_at_once_is_used_once(engine):
    async with engine.begin() as conn:
        draft_id = await queries.create_draft(
            conn, team_id=T1, user_id=ALICE, kind="checkin", payload="{}", now=NOW
        )

    async def take(conn):
        return await queries.take_draft(
            conn, team_id=T1, user_id=ALICE, draft_id=draft_id, now=NOW + H
        )

    first, second = await race(engine, take)
    assert first is not None and second is None


async def test_the_same_teammate_added_twice_at_once_gets_one_checkin(engine):
    inter, _ = await pending_checkin(engine)

    async def add(conn):
        added = await queries.add_checkins(
            conn, team_id=T1, interaction_id=inter.id, now=NOW, checkins=[new(CAROL)]
        )
        return [c.user_id for c in added]

    assert await race(engine, add) == ([CAROL], [])
    async with engine.connect() as conn:
        everyone = await queries.checkins_for_interaction(conn, team_id=T1, interaction_id=inter.id)
    assert [c.user_id for c in everyone] == [ALICE, CAROL]


async def test_one_account_name_created_twice_at_once_is_a_duplicate(engine):
    async def create(conn):
        return await account(conn, "Acme Oy")

    with pytest.raises(queries.DuplicateAccountError):
        await race(engine, create)
    async with engine.connect() as conn:
        assert [a.name for a in await queries.list_accounts(conn, team_id=T1)] == ["Acme Oy"]


async def test_a_user_refreshed_by_two_processes_at_once_keeps_the_last(engine):
    names = iter(["alice", "Alice A."])

    async def refresh(conn):
        return await queries.upsert_user(
            conn,
            team_id=T1,
            user_id=ALICE,
            name=next(names),
            tz="Europe/Helsinki",
            is_bot=False,
            deleted=False,
            is_admin=True,
            now=NOW,
        )

    await race(engine, refresh)
    async with engine.connect() as conn:
        users = await queries.get_users(conn, team_id=T1, user_ids=[ALICE])
    assert users[ALICE].name == "Alice A." and users[ALICE].is_admin is True


async def test_slack_deliveries_recorded_by_two_processes_at_once(engine):
    orders = iter([[(T1, "a"), (T1, "b")], [(T1, "b"), (T1, "a"), (T1, "c")]])

    async def record(conn):
        await queries.record_deliveries(conn, keys=next(orders), now=NOW, forget_before=NOW - 2 * H)

    await race(engine, record)
    async with engine.connect() as conn:
        for key in "abc":
            assert await queries.delivery_seen(conn, team_id=T1, key=key)
