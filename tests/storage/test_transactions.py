"""Transactions under contention, on SQLite and PostgreSQL: acknowledged writes are never lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text

from storage import db
from storage import tables as t

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


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
        with pytest.raises(Exception, match=r"(?i)unique"):
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


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_connections_closed_by_the_server_are_replaced(engine) -> None:
    """After a server restart (here: every other session ended), the next request works."""
    async with engine.connect() as conn:  # a pooled connection the server will close
        await conn.execute(select(func.count()).select_from(t.accounts))
    admin = db.create_engine(engine.url.render_as_string(hide_password=False))
    try:
        async with admin.connect() as conn:
            ended = await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert ended.scalar_one() >= 1
    finally:
        await admin.dispose()
    await read_then_write(engine, 1)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.accounts))).scalar() == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_writers_take_turns_none_is_refused(engine) -> None:
    """More writers than SQLite's 5 s busy timeout can serve by luck: every one commits."""

    async def write(n: int) -> None:
        async with engine.begin() as conn:
            await asyncio.sleep(0.2)  # slow work holding the write lock
            await conn.execute(
                insert(t.accounts).values(
                    team_id="T1",
                    name=f"A{n:02}",
                    name_key=f"a{n:02}",
                    tier="B",
                    created_by="U1",
                    created_at=NOW,
                )
            )

    tasks = []
    for n in range(30):  # 30 × 0.2 s: the last waits 6 s, past the busy timeout
        tasks.append(asyncio.create_task(write(n)))
        await asyncio.sleep(0)  # each asks for the lock in this order
    await asyncio.gather(*tasks)
    async with engine.connect() as conn:
        names = (await conn.execute(select(t.accounts.c.name).order_by(t.accounts.c.id))).all()
    # (without the queue the last ones fail with "database is locked")
    assert sorted(name for (name,) in names) == [f"A{n:02}" for n in range(30)]
