"""Storage fixtures: every `engine` test runs on SQLite and on PostgreSQL.

The PostgreSQL cases need a server: `TRUSTLOOP_TEST_POSTGRES_URL` names a database on it
(`postgresql+asyncpg://user:password@127.0.0.1:5432/trustloop_test`, as `.ci/postgres.sh`
exports) whose user may create databases. A test run creates one database of its own there
(dropped at the end); each test starts from a blank schema in it and migrates it with
`storage.db.upgrade`. Without the variable the PostgreSQL cases are skipped, except in CI
(`CI` set, and not to `false` or `0`), where they fail: CI must not pass by silently
testing SQLite only.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage import db

T = TypeVar("T")
POSTGRES_URL_VARIABLE = "TRUSTLOOP_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def postgres_url() -> str:
    """The server's URL from the environment; skip (fail in CI) when there is none."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if not url:
        message = f"{POSTGRES_URL_VARIABLE} is not set (start a server with .ci/postgres.sh)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(message)
    return url


def _admin_engine(url: str) -> AsyncEngine:
    # CREATE / DROP DATABASE cannot run inside a transaction.
    return create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


async def _run_admin(url: str, *statements: str) -> None:
    admin = _admin_engine(url)
    try:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()


async def create_postgres_database() -> str:
    """Create a database of our own on the test server; returns its URL."""
    url = postgres_url()
    name = f"trustloop_t_{uuid.uuid4().hex[:16]}"
    await _run_admin(url, f'CREATE DATABASE "{name}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    """Drop a database made by `create_postgres_database`, even if connections linger."""
    name = make_url(url).database
    await _run_admin(postgres_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def blank_postgres_database(url: str) -> str:
    """Empty the database (a new public schema, no tables, no alembic_version); its URL."""
    await _run_admin(
        url,
        # a connection a failed test left open would block the DROP
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        "DROP SCHEMA public CASCADE",
        "CREATE SCHEMA public",
    )
    return url


@pytest.fixture(scope="session")
def postgres_session_database() -> Iterator[str]:
    """One database on the test server for this test run, dropped at the end.

    Creating a database per test costs more than the test; each test empties this one
    instead (`blank_postgres_database`).
    """
    url = asyncio.run(create_postgres_database())
    yield url
    asyncio.run(drop_postgres_database(url))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind under test: "sqlite" or "postgresql"."""
    if request.param == "postgresql":
        postgres_url()
    return str(request.param)


@pytest.fixture
def server_database(backend: str, request: pytest.FixtureRequest) -> str | None:
    """This run's database on the PostgreSQL server, or None on SQLite."""
    if backend != "postgresql":
        return None
    return str(request.getfixturevalue("postgres_session_database"))


@pytest.fixture
async def database_url(server_database: str | None, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a blank database for this test alone."""
    if server_database is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    else:
        yield await blank_postgres_database(server_database)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated from blank to the newest revision."""
    eng = db.create_engine(database_url)
    await db.upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One write transaction, committed at the end of the test."""
    async with engine.begin() as connection:
        yield connection


async def _waiting_for_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:  # a new transaction: pg_stat_activity is fresh
        waiting = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return bool(waiting.scalar_one())


async def race(
    engine: AsyncEngine, claim: Callable[[AsyncConnection], Awaitable[T]]
) -> tuple[T, T]:
    """Two write transactions doing `claim` at once; what each got, first one first.

    The first does its claim and keeps its transaction open until the second is stuck
    behind it (PostgreSQL: waiting for a row or key lock, which the test checks; SQLite:
    waiting for the write lock), then commits, and the second carries on.
    """

    async def second_claim() -> T:
        async with engine.begin() as conn:
            return await claim(conn)

    async with engine.begin() as conn:
        first = await claim(conn)
        second = asyncio.create_task(second_claim())
        if engine.dialect.name == "postgresql":
            for _ in range(500):
                if second.done() or await _waiting_for_a_lock(engine):
                    break
                await asyncio.sleep(0.01)
            assert not second.done(), "the second transaction did not wait for the first"
        else:
            await asyncio.sleep(0.05)  # the second is in BEGIN IMMEDIATE, behind this one
    return first, await second
