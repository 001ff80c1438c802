"""HealthService.digest on a real database: "new" and "recovered" against last week's risk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.health import week_monday
from bot.risk import AT_RISK, HEALTHY, WATCH
from bot.sample_data import generate
from bot.services import Services
from bot.slack import build_client
from storage import db
from storage import tables as t
from storage.digests import snapshots
from tests.conftest import make_settings

TEAM = "TSAMPLE"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LAST_MONDAY = week_monday(NOW) - timedelta(weeks=1)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
    await db.upgrade(eng)
    await generate(eng, team_id=TEAM, accounts=40, weeks=14, seed=4, now=NOW)
    yield eng
    await eng.dispose()


@pytest.fixture
def svc(engine: AsyncEngine, tmp_path: Path) -> Services:
    settings = make_settings("http://127.0.0.1:9/api/", str(engine.url))
    client = build_client("xoxb-test", "http://127.0.0.1:9/api/")  # chart=False: no calls
    return Services(engine=engine, client=client, settings=settings, clock=lambda: NOW)


async def stored_ids(engine: AsyncEngine) -> frozenset[int] | None:
    async with engine.connect() as conn:
        found = await snapshots(conn, team_id=TEAM, since=LAST_MONDAY, until=LAST_MONDAY, ids=True)
    return found[LAST_MONDAY].at_risk_ids if LAST_MONDAY in found else None


async def test_new_and_recovered_compare_with_a_week_ago_stored_once(svc, engine) -> None:
    first = await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
    before = await svc.health.assess_all(team_id=TEAM, now=NOW - timedelta(weeks=1))
    current = await svc.health.assess_all(team_id=TEAM, now=NOW)
    was = frozenset(a.account.id for a in before if a.level == AT_RISK)
    now_ids = {a.account.id for a in current if a.level == AT_RISK}
    recovered = {a.account.id for a in current if a.account.id in was and a.level != AT_RISK}
    assert now_ids - was and recovered, "the sample needs new and recovered accounts"
    assert first.new_at_risk == now_ids - was
    assert {a.account.id for a in first.recovered} == recovered
    assert all(a.level in (HEALTHY, WATCH) for a in first.recovered)
    # last week's risk is kept as last week's snapshot (the one the chart shows)
    assert await stored_ids(engine) == was
    again = await svc.health.digest(team_id=TEAM, now=NOW + timedelta(hours=2), chart=False)
    assert again.new_at_risk == first.new_at_risk
    assert [a.account.id for a in again.recovered] == [a.account.id for a in first.recovered]


async def test_a_stored_week_is_read_not_assessed_again(svc, engine) -> None:
    await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
    # pretend last week nothing was at risk: every account at risk now is then new
    async with engine.begin() as conn:
        await conn.execute(update(t.risk_snapshots).values(at_risk_ids="[]"))
    digest = await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
    assert digest.new_at_risk == {a.account.id for a in digest.at_risk}
    assert digest.recovered == []


async def test_a_snapshot_without_accounts_is_completed(svc, engine) -> None:
    await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
    was = await stored_ids(engine)
    async with engine.begin() as conn:
        await conn.execute(update(t.risk_snapshots).values(at_risk_ids=None, at_risk=999))
    digest = await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
    assert digest.new_at_risk == {a.account.id for a in digest.at_risk} - (was or set())
    async with engine.connect() as conn:
        found = await snapshots(conn, team_id=TEAM, since=LAST_MONDAY, ids=True)
    assert found[LAST_MONDAY].at_risk_ids == was
    assert found[LAST_MONDAY].at_risk == len(was or ())


async def test_a_digest_of_some_tiers_stores_no_snapshot(svc, engine) -> None:
    digest = await svc.health.digest(team_id=TEAM, now=NOW, tiers=("A",), chart=False)
    assert {a.account.tier for a in digest.at_risk} <= {"A"}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(t.risk_snapshots))).scalar()
    assert rows == 0


async def test_more_digests_at_once_than_the_pool_holds_all_finish(svc, engine) -> None:
    """No digest holds a connection while its queries wait for theirs (pool: 5 + 10)."""
    import asyncio

    digests = await asyncio.wait_for(
        asyncio.gather(
            *[
                svc.health.digest(team_id=TEAM, now=NOW + timedelta(minutes=n), chart=False)
                for n in range(20)
            ]
        ),
        timeout=60,
    )
    assert len({len(d.at_risk) for d in digests}) == 1
