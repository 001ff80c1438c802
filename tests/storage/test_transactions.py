"""SQLite transactions under contention: acknowledged writes are never lost to a lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from storage import db
from storage import tables as t

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path):
    eng = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tx.db'}")
    await db.upgrade(eng)
    yield eng
    await eng.dispose()


async def read_then_write(engine, n: int) -> None:
    """What a service does: read, think (await), then write, in one transaction."""
    async with engine.begin() as conn:
        await conn.execute(select(func.count()).select_from(t.accounts))
        await asyncio.sleep(0.01)
        await conn.execute(
            insert(t.accounts).values(
                team_id="T1",
                name=f"A{n}",
                name_key=f"a{n}",
                tier="B",
                created_by="U1",
                created_at=NOW,
            )
        )


async def test_concurrent_read_then_write_transactions_all_commit(engine) -> None:
    # Deferred transactions would fail here with "database is locked" when they upgrade
    # to a write lock after another writer committed; immediate ones wait their turn.
    await asyncio.gather(*[read_then_write(engine, n) for n in range(20)])
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.accounts))).scalar() == 20


async def test_a_long_read_does_not_block_writers(engine) -> None:
    async with engine.connect() as reader:
        assert (await reader.execute(select(func.count()).select_from(t.accounts))).scalar() == 0
        # the reader holds its snapshot open while a writer commits
        await asyncio.wait_for(read_then_write(engine, 1), 2)
        assert (await reader.execute(select(func.count()).select_from(t.accounts))).scalar() == 0
    async with engine.connect() as reader:
        assert (await reader.execute(select(func.count()).select_from(t.accounts))).scalar() == 1


async def test_savepoints_roll_back_alone(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(t.accounts).values(
                team_id="T1", name="A", name_key="a", tier="B", created_by="U1", created_at=NOW
            )
        )
        with pytest.raises(Exception, match="UNIQUE"):
            async with conn.begin_nested():
                await conn.execute(
                    insert(t.accounts).values(
                        team_id="T1",
                        name="A",
                        name_key="a",
                        tier="B",
                        created_by="U1",
                        created_at=NOW,
                    )
                )
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.accounts))).scalar() == 1
