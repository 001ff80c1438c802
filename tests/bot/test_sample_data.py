"""The seeded sample-data generator: deterministic, team-scoped, consistent, readable."""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean, median
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import vocab
from bot.sample_data import SampleSummary, SampleUser, generate, sample_team
from storage import db, queries
from storage import promises as pq
from storage import tables as t
from storage.queries import NewCheckIn

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEAM = "T0SAMPLE"
TABLES = (
    t.slack_users,
    t.accounts,
    t.interactions,
    t.checkins,
    t.promises,
    t.promise_events,
)


async def fresh(path: Path) -> Any:
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    await db.upgrade(engine)
    return engine


async def make(path: Path, **kwargs: Any) -> tuple[Any, SampleSummary]:
    engine = await fresh(path)
    args: dict[str, Any] = {"team_id": TEAM, "accounts": 40, "weeks": 12, "now": NOW}
    args.update(kwargs)
    return engine, await generate(engine, **args)


def raw_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row as SQLite stores it (no type processing)."""
    con = sqlite3.connect(path)
    try:
        return {
            table.name: con.execute(f"SELECT * FROM {table.name} ORDER BY rowid").fetchall()
            for table in TABLES
        }
    finally:
        con.close()


async def rows(engine: Any, table: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(table).order_by(*table.primary_key.columns)))


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    """120 accounts over a year, generated once for the read-only tests."""
    import asyncio

    path = tmp_path_factory.mktemp("sample") / "year.db"

    async def build() -> SampleSummary:
        engine, summary = await make(path, accounts=120, weeks=52)
        await engine.dispose()
        return summary

    return path, asyncio.run(build())


@pytest.fixture
async def year_engine(year: tuple[Path, SampleSummary]) -> Any:
    engine = db.create_engine(f"sqlite+aiosqlite:///{year[0]}")
    yield engine
    await engine.dispose()


# --- determinism ----------------------------------------------------------------------------


async def test_same_seed_same_rows_whatever_the_batching(tmp_path: Path) -> None:
    one, s1 = await make(tmp_path / "one.db")
    two, s2 = await make(tmp_path / "two.db", weeks_per_transaction=1)
    other, _ = await make(tmp_path / "other.db", seed=8)
    for engine in (one, two, other):
        await engine.dispose()
    assert s1 == s2
    same, again = raw_dump(tmp_path / "one.db"), raw_dump(tmp_path / "two.db")
    assert same == again
    assert sum(len(v) for v in same.values()) > 1000
    different = raw_dump(tmp_path / "other.db")
    assert different["accounts"] != same["accounts"]
    assert different["checkins"] != same["checkins"]


async def test_fast_sqlite_path_stores_exactly_what_typed_inserts_store(tmp_path: Path) -> None:
    fast, _ = await make(tmp_path / "fast.db")
    typed, _ = await make(tmp_path / "typed.db", fast_sqlite=False)
    await fast.dispose()
    await typed.dispose()
    assert raw_dump(tmp_path / "fast.db") == raw_dump(tmp_path / "typed.db")


# --- sizes and shapes -------------------------------------------------------------------------


async def test_summary_matches_the_rows_and_the_documented_sizes(year, year_engine) -> None:
    _, summary = year
    async with year_engine.connect() as conn:
        counted = {
            table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar())
            for table in TABLES
        }
    assert counted == {
        "slack_users": 6,
        "accounts": 120,
        "interactions": summary.interactions,
        "checkins": summary.checkins,
        "promises": summary.promises,
        "promise_events": summary.promise_events,
    }
    # Documented per 1,000 accounts at 52 weeks: ~54k interactions, ~100k check-ins,
    # ~30k promises, ~60k events.
    per_1k = 1000 / 120
    assert 40_000 < summary.interactions * per_1k < 68_000
    assert 1.7 < summary.checkins / summary.interactions < 2.1
    assert 0.25 < summary.promises / summary.checkins < 0.35
    assert 1.7 < summary.promise_events / summary.promises < 2.5
    assert summary.accounts_by_tier == {"A": 24, "B": 36, "C": 60}
    by_status = summary.checkins_by_status
    assert set(by_status) == {"answered", "expired", "skipped", "away", "pending"}
    assert by_status["answered"] > 0.7 * summary.checkins
    assert 0.05 * summary.checkins < by_status["expired"] < 0.25 * summary.checkins
    assert set(summary.promises_by_status) == {"kept", "broken", "cancelled", "open"}
    assert summary.promises_by_status["kept"] > 0.6 * summary.promises
    assert summary.promises_open_overdue > 0
    assert summary.promises_renegotiated > 0


async def test_accounts_names_tiers_values_and_owners(year_engine) -> None:
    accounts = await rows(year_engine, t.accounts)
    users = {u.user_id for u in sample_team(6)}
    assert len({a.name_key for a in accounts}) == len(accounts)
    assert all(a.name_key == queries.name_key(a.name) for a in accounts)
    assert {a.owner_id for a in accounts} - {None} <= users
    values: dict[str, list[float]] = defaultdict(list)
    for a in accounts:
        if a.yearly_value is not None:
            values[a.tier].append(float(a.yearly_value))
    assert median(values["A"]) > median(values["B"]) > median(values["C"])
    everything = sorted((v for vs in values.values() for v in vs), reverse=True)
    top_fifth = sum(everything[: len(everything) // 5]) / sum(everything)
    assert top_fifth > 0.5  # Pareto: the few biggest accounts hold most of the value


async def test_users_have_ids_names_and_timezones(year_engine) -> None:
    users = await rows(year_engine, t.slack_users)
    assert [u.user_id for u in users] == sorted(f"U0SAMPLE{i}" for i in range(1, 7))
    assert {"Europe/Helsinki", "America/New_York", "Europe/London"} <= {u.tz for u in users}
    assert all(u.name and not u.is_bot and not u.deleted for u in users)
    assert sum(u.is_admin for u in users) == 1


async def test_every_row_is_the_teams_and_no_time_is_after_now(year_engine) -> None:
    for table in TABLES:
        stamps = [c.name for c in table.columns if isinstance(c.type, t.UTCDateTime)]
        for row in await rows(year_engine, table):
            assert row.team_id == TEAM
            for name in stamps:
                value = getattr(row, name)
                if value is None:
                    continue
                assert value.tzinfo is not None
                # Scheduled instants (reminders, expiries) may lie ahead; events may not.
                if name not in ("remind_at", "expires_at"):
                    assert value <= NOW, (table.name, name, row)


async def test_vocabulary_and_checkin_answers(year_engine) -> None:
    interactions = await rows(year_engine, t.interactions)
    assert {i.kind for i in interactions} == set(vocab.KINDS)
    assert {i.source for i in interactions} <= set(vocab.SOURCES)
    start = NOW - timedelta(weeks=52)
    assert all(start <= i.occurred_at <= i.created_at <= NOW for i in interactions)
    checkins = await rows(year_engine, t.checkins)
    per_interaction = Counter(c.interaction_id for c in checkins)
    assert set(per_interaction.values()) == {1, 2, 3}
    for c in checkins:
        if c.status == "answered":
            assert 1 <= c.rating <= 5
            assert c.answered_at == c.closed_at and c.created_at <= c.answered_at
        else:
            assert c.rating is None and c.direction is None and c.stage is None
        assert c.direction in (None, *vocab.DIRECTIONS)
        assert c.stage in (None, *vocab.STAGES)
        if c.status == "pending":
            assert c.closed_at is None and c.expires_at > NOW
        else:
            assert c.closed_at is not None and c.closed_at <= c.expires_at
    answered = [c for c in checkins if c.status == "answered"]
    assert {c.rating for c in answered} == {1, 2, 3, 4, 5}
    assert {c.direction for c in answered} == {None, *vocab.DIRECTIONS}
    assert {c.stage for c in answered} == {None, *vocab.STAGES}
    assert any(c.concern for c in answered)


async def test_some_accounts_lose_trust(year_engine) -> None:
    when = {i.id: (i.account_id, i.occurred_at) for i in await rows(year_engine, t.interactions)}
    early: dict[int, list[int]] = defaultdict(list)
    late: dict[int, list[int]] = defaultdict(list)
    for c in await rows(year_engine, t.checkins):
        if c.status != "answered":
            continue
        account_id, at = when[c.interaction_id]
        if at < NOW - timedelta(weeks=30):
            early[account_id].append(c.rating)
        elif at > NOW - timedelta(weeks=8):
            late[account_id].append(c.rating)
    drops = [
        mean(early[a]) - mean(late[a]) for a in early if len(early[a]) >= 3 and len(late[a]) >= 3
    ]
    assert sum(d >= 1.0 for d in drops) >= 3
    assert sum(abs(d) < 0.5 for d in drops) > len(drops) / 2  # most are steady


async def test_promises_agree_with_their_events(year_engine) -> None:
    events: dict[int, list[Any]] = defaultdict(list)
    for e in await rows(year_engine, t.promise_events):
        events[e.promise_id].append(e)
    promises = await rows(year_engine, t.promises)
    assert set(events) == {p.id for p in promises}
    kinds: Counter[str] = Counter()
    for p in promises:
        history = events[p.id]
        first, *changes = history
        assert first.kind == "created" and first.at == p.created_at
        assert (first.old_status, first.new_status, first.old_due_date) == (None, "open", None)
        assert first.actor_id == p.created_by
        assert [e.kind for e in history].count("created") == 1
        assert [e.at for e in history] == sorted(e.at for e in history)
        renegotiations = [e for e in changes if e.kind == "renegotiated"]
        assert len(renegotiations) == p.renegotiations
        assert p.since_at == (renegotiations[-1].at if renegotiations else p.created_at)
        dues = [first.new_due_date] + [e.new_due_date for e in renegotiations]
        assert p.due_date == dues[-1]
        for before, e in zip(dues, renegotiations, strict=False):
            assert e.old_due_date == before and e.new_due_date > before
            assert e.customer_told in (0, 1) and e.in_time in (0, 1)
        closing = [e for e in changes if e.kind != "renegotiated"]
        if p.status == "open":
            assert closing == [] and p.closed_at is None and p.kept_on_time is None
        else:
            (last,) = closing
            assert last is history[-1]
            assert (last.kind, last.old_status, last.new_status) == (p.status, "open", p.status)
            assert last.at == p.closed_at and last.old_due_date == p.due_date
            assert last.new_due_date is None and last.customer_told is None
            if p.status == "kept":
                assert last.in_time == p.kept_on_time and p.kept_on_time in (0, 1)
            else:
                assert last.in_time is None and p.kept_on_time is None
            assert (last.note is not None) == (p.status == "cancelled")
        kinds.update(e.kind for e in history)
    assert set(kinds) == {"created", "renegotiated", "kept", "broken", "cancelled"}
    kept = [p for p in promises if p.status == "kept"]
    assert {p.kept_on_time for p in kept} == {0, 1}


async def test_existing_queries_read_the_data(year, year_engine) -> None:
    _, summary = year
    async with year_engine.connect() as conn:
        accounts = await queries.list_accounts(conn, team_id=TEAM)
        assert len(accounts) == 120
        assert accounts == sorted(accounts, key=lambda a: queries.name_key(a.name))
        figures = await pq.promise_figures(
            conn,
            team_id=TEAM,
            start=NOW - timedelta(weeks=52),
            end=NOW + timedelta(seconds=1),
            today=NOW.date(),
            by="account",
        )
        assert sum(f.made for f in figures.values()) == summary.promises
        assert sum(f.broken for f in figures.values()) == summary.promises_by_status["broken"]
        rates = [f.kept_on_time_rate for f in figures.values() if f.kept_on_time_rate is not None]
        assert 0.5 < mean(rates) < 0.95
        by_owner = await pq.promise_figures(
            conn,
            team_id=TEAM,
            start=NOW - timedelta(weeks=4),
            end=NOW,
            today=NOW.date(),
            by="owner",
        )
        assert set(by_owner) <= {u.user_id for u in sample_team(6)}
        overdue = await pq.count_promises(conn, team_id=TEAM, scope="overdue", today=NOW.date())
        assert overdue > 0
        pending = 0
        for user in sample_team(6):
            pending += await queries.count_pending_for_user(
                conn, team_id=TEAM, user_id=user.user_id
            )
        assert pending == summary.checkins_by_status["pending"]
        detail = await pq.get_promise(conn, team_id=TEAM, promise_id=1)
        assert detail is not None and detail.account_name
        history = await pq.promise_events(conn, team_id=TEAM, promise_id=1)
        assert history[0].kind == "created"


# --- the rows are what the product itself would have written ---------------------------------


async def test_replaying_through_the_real_queries_gives_the_same_rows(tmp_path: Path) -> None:
    """Every interaction, check-in, promise and event, written again with the functions the
    bot uses (at the recorded instants), comes out identical (ids and counters aside)."""
    sample, _ = await make(tmp_path / "sample.db", accounts=12, weeks=8)
    replay = await fresh(tmp_path / "replay.db")
    accounts = await rows(sample, t.accounts)
    interactions = await rows(sample, t.interactions)
    checkins = await rows(sample, t.checkins)
    promises = await rows(sample, t.promises)
    events: dict[int, list[Any]] = defaultdict(list)
    for e in await rows(sample, t.promise_events):
        events[e.promise_id].append(e)
    by_interaction: dict[int, list[Any]] = defaultdict(list)
    for c in checkins:
        by_interaction[c.interaction_id].append(c)
    async with replay.begin() as conn:
        for a in accounts:
            await queries.create_account(
                conn,
                team_id=a.team_id,
                name=a.name,
                tier=a.tier,
                yearly_value=a.yearly_value,
                owner_id=a.owner_id,
                created_by=a.created_by,
                now=a.created_at,
            )
        for i in interactions:
            mine = by_interaction[i.id]
            await queries.create_interaction(
                conn,
                team_id=i.team_id,
                account_id=i.account_id,
                kind=i.kind,
                occurred_at=i.occurred_at,
                logged_by=i.logged_by,
                note=i.note,
                source=i.source,
                now=i.created_at,
                checkins=[
                    NewCheckIn(
                        user_id=c.user_id,
                        status="away" if c.status == "away" else "pending",
                        remind_at=c.remind_at,
                        expires_at=c.expires_at,
                    )
                    for c in mine
                ],
            )
        for c in checkins:
            if c.reminded_at is not None:
                assert await queries.claim_reminder(
                    conn, team_id=c.team_id, checkin_id=c.id, now=c.reminded_at
                )
            if c.status == "answered":
                assert await queries.answer_checkin(
                    conn,
                    team_id=c.team_id,
                    checkin_id=c.id,
                    user_id=c.user_id,
                    rating=c.rating,
                    direction=c.direction,
                    stage=c.stage,
                    concern=c.concern,
                    now=c.answered_at,
                )
            elif c.status in ("skipped", "expired"):
                assert await queries.close_checkin(
                    conn, team_id=c.team_id, checkin_id=c.id, status=c.status, now=c.closed_at
                )
        for p in promises:
            created, *changes = sorted(events[p.id], key=lambda e: e.id)
            await pq.create_promise(
                conn,
                team_id=p.team_id,
                account_id=p.account_id,
                text=p.text,
                owner_id=p.owner_id,
                created_by=p.created_by,
                due_date=created.new_due_date,
                interaction_id=p.interaction_id,
                now=p.created_at,
            )
            for e in changes:
                if e.kind == "renegotiated":
                    assert await pq.renegotiate_promise(
                        conn,
                        team_id=e.team_id,
                        promise_id=p.id,
                        actor_id=e.actor_id,
                        new_due=e.new_due_date,
                        customer_told=bool(e.customer_told),
                        in_time=bool(e.in_time),
                        note=e.note,
                        now=e.at,
                    )
                else:
                    assert await pq.resolve_promise(
                        conn,
                        team_id=e.team_id,
                        promise_id=p.id,
                        actor_id=e.actor_id,
                        status=e.kind,
                        in_time=None if e.in_time is None else bool(e.in_time),
                        note=e.note,
                        now=e.at,
                    )
    assert promises and checkins

    def without(items: list[Any], *skip: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in r._mapping.items() if k not in skip} for r in items]

    for table, skip in (
        (t.accounts, ()),
        (t.interactions, ()),
        (t.checkins, ()),
        (t.promises, ("reminder_seq", "last_reminded_at")),
    ):
        got = without(await rows(replay, table), *skip)
        want = without(await rows(sample, table), *skip)
        assert got == want, table.name

    # Event ids interleave promises by time in the sample; per promise they are the same.
    def by_promise(row: dict[str, Any]) -> tuple[int, datetime]:
        return (row["promise_id"], row["at"])

    got = sorted(without(await rows(replay, t.promise_events), "id"), key=by_promise)
    want = sorted(without(await rows(sample, t.promise_events), "id"), key=by_promise)
    assert got == want
    await sample.dispose()
    await replay.dispose()


async def test_ids_follow_time_like_a_real_database(year_engine) -> None:
    interactions = await rows(year_engine, t.interactions)
    created = [i.created_at for i in interactions]
    # Out of order only where one week's batch meets the next (at most a couple per week).
    assert sum(b < a for a, b in itertools.pairwise(created)) <= 2 * 52 < len(created) / 50
    events = await rows(year_engine, t.promise_events)
    at = [e.at for e in events]
    assert sum(b < a for a, b in itertools.pairwise(at)) <= 2 * 52
    promises = await rows(year_engine, t.promises)
    assert (
        promises[0].created_at < promises[len(promises) // 2].created_at < promises[-1].created_at
    )


# --- teams ------------------------------------------------------------------------------------


async def test_a_second_team_with_its_own_people_never_mixes(tmp_path: Path) -> None:
    engine, first = await make(tmp_path / "two.db", accounts=10)
    people = [
        SampleUser("UMAIJA", "maija", "Maija Virtanen", "Europe/Helsinki", is_admin=True),
        SampleUser("UDANA", "dana", "Dana Brooks", "America/New_York"),
    ]
    second = await generate(engine, team_id="T0OTHER", accounts=10, now=NOW, users=people)
    assert second.users == 2
    with pytest.raises(ValueError, match="already has accounts"):
        await generate(engine, team_id="T0OTHER", accounts=1, now=NOW)
    async with engine.connect() as conn:
        mine = await queries.list_accounts(conn, team_id="T0OTHER")
        assert len(mine) == 10
        assert {a.owner_id for a in mine} - {None} <= {"UMAIJA", "UDANA"}
        theirs = await queries.list_accounts(conn, team_id=TEAM)
        assert {a.id for a in mine}.isdisjoint(a.id for a in theirs)
    for table in (t.interactions, t.checkins, t.promises, t.promise_events):
        by_team = Counter(r.team_id for r in await rows(engine, table))
        assert set(by_team) == {TEAM, "T0OTHER"}
    checkins = await rows(engine, t.checkins)
    other_users = {c.user_id for c in checkins if c.team_id == "T0OTHER"}
    assert other_users <= {"UMAIJA", "UDANA"}
    assert first.team_id == TEAM and second.team_id == "T0OTHER"
    await engine.dispose()


async def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    engine = await fresh(tmp_path / "bad.db")
    with pytest.raises(ValueError, match="timezone-aware"):
        await generate(engine, accounts=1, now=datetime(2026, 11, 23))
    with pytest.raises(ValueError):
        await generate(engine, accounts=1, weeks=0, now=NOW)
    empty = await generate(engine, accounts=0, now=NOW)
    assert (empty.accounts, empty.interactions, empty.users) == (0, 0, 6)
    await engine.dispose()
