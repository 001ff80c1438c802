"""Database engine creation (SQLite pragmas, PostgreSQL isolation), migrations, online backup."""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE = "trustloop_write"
# PostgreSQL advisory lock key taken while migrating; any constant all processes share.
MIGRATION_LOCK = 0x7472_7573_746C_6F6F  # "trustloo"
# How long a request waits for a pooled connection before it fails (SQLAlchemy's default
# is 30 s). Work after an ack has already been promised to the user: in a burst it must wait
# its turn, not be dropped. Measured (bench/memory_probe.py): 20,000 clicks acknowledged in
# 26 s took 2 to 3 minutes to store on 2 cores; with 30 s, 19,935 of them failed.
POOL_WAIT_SECONDS = 300.0


# One queue of writers per SQLite engine and event loop (see `Engine.begin`).
_WRITERS: weakref.WeakKeyDictionary[Any, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


class Engine(AsyncEngine):
    """An AsyncEngine whose `begin()` marks its transaction as a write (see `create_engine`)."""

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """Connect and begin a write transaction; commit on success, roll back on error.

        On SQLite the process's writers take turns, in the order they ask: left to
        SQLite's busy handler (sleeps of 1 to 100 ms until busy_timeout), a burst of writers
        gets the lock in no order and the unluckiest fail with "database is locked" — 31
        of 20,000 answers in a burst (bench/memory_probe.py); queued, none, and faster.
        Other processes (`trustloop tick`, a backup) still meet the busy handler.
        """
        async with self.connect() as conn:
            options: dict[str, Any] = {WRITE: True}
            if self.dialect.name == "postgresql":
                options["isolation_level"] = "READ COMMITTED"
            await conn.execution_options(**options)
            if self.dialect.name != "sqlite":
                async with conn.begin():
                    yield conn
                return
            # The turn is taken with a connection in hand: the writer whose turn it is never
            # waits for the pool behind writers (or readers) that are waiting for it.
            locks = _WRITERS.setdefault(self.sync_engine, {})
            turn = locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
            async with turn, conn.begin():
                yield conn


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, a busy timeout and foreign keys.

    `engine.begin()` is for writing and `engine.connect()` for reading: on SQLite a write
    transaction takes the write lock up front (BEGIN IMMEDIATE) and waits its turn, and a
    read is a deferred transaction on one WAL snapshot that never blocks a writer.

    On PostgreSQL a read is a REPEATABLE READ transaction: one snapshot, taken at its first
    query, as on SQLite. A write is a READ COMMITTED transaction: writers run side by side,
    and the once-only changes stay once-only because each is a conditional UPDATE (which
    re-checks its condition after waiting for a concurrent writer's row lock, so exactly
    one of them matches) or an INSERT under a unique constraint.
    """
    backend = make_url(url).get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": False}
    if backend == "postgresql" or sqlite_path(url) is not None:
        options["pool_timeout"] = POOL_WAIT_SECONDS  # in-memory SQLite has no queue pool
    if backend == "postgresql":
        # A server restart or an idle timeout in between closes pooled connections; a ping
        # at checkout replaces them instead of failing the next request.
        options.update(isolation_level="REPEATABLE READ", pool_pre_ping=True)
    engine = Engine(create_async_engine(url, **options).sync_engine)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            # A deferred transaction that reads and then writes fails at once with
            # SQLITE_BUSY when another writer committed meanwhile (busy_timeout does not
            # help a lock upgrade), which would lose work already acknowledged; so writes
            # take the lock up front. pysqlite's own implicit BEGIN is off (above) so that
            # reads, too, run in a real transaction with one consistent snapshot.
            write = conn.get_execution_options().get(WRITE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")

    return engine


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations up to `revision` (default: the newest).

    Safe when several processes start at once: one migrates and the others wait, then find
    nothing left to do (SQLite's write lock does this; PostgreSQL takes an advisory lock).
    """
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a blank database."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def sqlite_path(url: str) -> Path | None:
    """The file path of a SQLite URL, or None for other databases and memory."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _backup_file(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


async def backup(url: str, target: Path) -> None:
    """Copy a live SQLite database to `target` with SQLite's online backup API."""
    source = sqlite_path(url)
    if source is None:
        raise ValueError("db backup works on SQLite databases; use pg_dump for PostgreSQL")
    if not source.exists():
        raise FileNotFoundError(f"no database at {source}")
    await asyncio.to_thread(_backup_file, source, target)
