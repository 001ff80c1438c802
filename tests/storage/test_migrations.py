"""Database engine, SQLite pragmas, migrations and online backup."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import bindparam, inspect, text

from storage import db, digests, queries
from storage.models import Snapshot
from storage.tables import UTCDateTime, metadata

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def url_for(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def engine(database_url):
    """An engine on a blank database (SQLite or PostgreSQL), not migrated."""
    eng = db.create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path):
    eng = db.create_engine(url_for(tmp_path / "t.db"))
    yield eng
    await eng.dispose()


async def pragma(engine, name):
    async with engine.connect() as conn:
        return (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()


async def test_engine_sets_wal_foreign_keys_and_busy_timeout(sqlite_engine):
    assert str(await pragma(sqlite_engine, "journal_mode")).lower() == "wal"
    assert await pragma(sqlite_engine, "foreign_keys") == 1
    assert await pragma(sqlite_engine, "busy_timeout") == 5000
    assert await pragma(sqlite_engine, "synchronous") == 1  # NORMAL


async def test_plain_sqlite_connection_has_no_foreign_keys(tmp_path):
    # control: the pragmas above come from create_engine, not from SQLite defaults
    con = sqlite3.connect(tmp_path / "plain.db")
    try:
        assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 0
    finally:
        con.close()


async def test_foreign_keys_are_enforced(engine):
    await db.upgrade(engine)
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO interactions (team_id, account_id, kind, occurred_at,"
                    " logged_by, note, source, created_at) VALUES"
                    " ('T1', 999, 'call', '2026-01-01', 'U1', '', 'slash_command', '2026-01-01')"
                )
            )


def table_names(sync_conn):
    return set(inspect(sync_conn).get_table_names())


async def test_blank_database_upgrades_to_head(engine):
    assert await db.current_revision(engine) is None
    await db.upgrade(engine)
    assert await db.current_revision(engine) == db.head_revision()
    async with engine.connect() as conn:
        tables = await conn.run_sync(table_names)
    for name in ("accounts", "interactions", "checkins", "slack_users", "away_periods", "drafts"):
        assert name in tables


async def test_upgrade_twice_is_a_no_op(engine):
    await db.upgrade(engine)
    await db.upgrade(engine)
    assert await db.current_revision(engine) == db.head_revision()


def test_head_revision_is_the_newest_script():
    scripts = sorted(p.name.split("_", 1)[0] for p in (db.MIGRATIONS / "versions").glob("*.py"))
    assert "0002" in scripts
    assert db.head_revision() == scripts[-1]


async def test_upgrade_from_0001_keeps_data(engine):
    await db.upgrade(engine, "0001")
    assert await db.current_revision(engine) == "0001"
    async with engine.connect() as conn:
        tables = await conn.run_sync(table_names)
    assert "accounts" in tables
    assert "away_periods" not in tables
    # what the code of revision 0001 wrote, in that schema's own SQL; timestamps as
    # parameters so that each backend stores them its own way (naive UTC text on SQLite)
    stamps = {"t0": utc(20, 9), "t1": utc(20, 10), "t3": utc(23, 10)}
    params = [bindparam(name, type_=UTCDateTime()) for name in stamps]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, team_id, name, name_key, tier, created_by, created_at)"
                " VALUES (1, 'T1', 'Acme Oy', 'acme oy', 'A', 'U1', :t1)"
            ).bindparams(params[1]),
            stamps,
        )
        await conn.execute(
            text(
                "INSERT INTO interactions (id, team_id, account_id, kind, occurred_at,"
                " logged_by, note, source, created_at) VALUES (1, 'T1', 1, 'call',"
                " :t0, 'U1', 'kickoff', 'slash_command', :t1)"
            ).bindparams(params[0], params[1]),
            stamps,
        )
        await conn.execute(
            text(
                "INSERT INTO checkins (id, team_id, interaction_id, user_id, status, created_at,"
                " expires_at, rating, delivery_attempts) VALUES (1, 'T1', 1, 'U2', 'answered',"
                " :t1, :t3, 4, 0)"
            ).bindparams(params[1], params[2]),
            stamps,
        )
    await db.upgrade(engine)
    assert await db.current_revision(engine) == db.head_revision()
    async with engine.connect() as conn:
        account = await queries.find_account(conn, team_id="T1", name="ACME OY")
        assert account is not None
        assert account.name == "Acme Oy"
        assert account.tier == "A"
        assert account.created_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        detail = await queries.get_checkin(conn, team_id="T1", checkin_id=1)
        assert detail is not None
        assert detail.account_name == "Acme Oy"
        assert detail.note == "kickoff"
        assert detail.checkin.rating == 4
        assert detail.checkin.status == "answered"
        # the new tables work on the upgraded database
        assert await queries.current_away(conn, team_id="T1", user_id="U2", now=NOW) is None


def _downgrade(connection, revision: str) -> None:
    cfg = db.alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def downgrade(engine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, revision)


async def test_migrations_go_down_to_blank_and_up_again(engine):
    await db.upgrade(engine)
    await downgrade(engine, "base")
    assert await db.current_revision(engine) is None
    async with engine.connect() as conn:
        assert await conn.run_sync(table_names) <= {"alembic_version"}
    await db.upgrade(engine)
    assert await db.current_revision(engine) == db.head_revision()


async def test_each_migration_downgrades_one_step(engine):
    revisions = [
        s.revision for s in ScriptDirectory.from_config(db.alembic_config()).walk_revisions()
    ]
    await db.upgrade(engine)
    for revision, previous in zip(revisions, [*revisions[1:], "base"], strict=True):
        await downgrade(engine, previous)
        assert await db.current_revision(engine) == (None if previous == "base" else previous)
        await db.upgrade(engine, revision)
        await downgrade(engine, previous)


def schema_differences(sync_conn, server_defaults: bool) -> list[Any]:
    context = MigrationContext.configure(
        sync_conn, opts={"compare_type": True, "compare_server_default": server_defaults}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_tables_module(engine):
    """Migrations and storage/tables.py describe the same schema: types, nulls, indexes."""
    await db.upgrade(engine)
    # Alembic misreads SQLite's reflected '' defaults; PostgreSQL's compare reliably.
    server_defaults = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        assert await conn.run_sync(schema_differences, server_defaults) == []


async def test_processes_starting_at_once_migrate_once(database_url):
    """Several bot processes may start together on a blank database: all come up at head."""
    engines = [db.create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(db.upgrade(e) for e in engines))
        for e in engines:
            assert await db.current_revision(e) == db.head_revision()
    finally:
        for e in engines:
            await e.dispose()


async def test_backup_copies_live_database(tmp_path):
    url = url_for(tmp_path / "live.db")
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        async with engine.begin() as conn:
            await queries.create_account(
                conn,
                team_id="T1",
                name="Acme Oy",
                tier="A",
                yearly_value=None,
                owner_id=None,
                created_by="U1",
                now=NOW,
            )
        # keep a connection open while backing up (WAL has uncheckpointed data)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            target = tmp_path / "copy.db"
            await db.backup(url, target)
    finally:
        await engine.dispose()
    assert target.exists()
    copy = db.create_engine(url_for(target))
    try:
        assert await db.current_revision(copy) == db.head_revision()
        async with copy.connect() as conn:
            accounts = await queries.list_accounts(conn, team_id="T1")
        assert [a.name for a in accounts] == ["Acme Oy"]
    finally:
        await copy.dispose()


async def test_backup_of_missing_database(tmp_path):
    with pytest.raises(FileNotFoundError):
        await db.backup(url_for(tmp_path / "nope.db"), tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "postgresql+asyncpg://h/db"]
)
async def test_backup_refuses_non_file_databases(url, tmp_path):
    with pytest.raises(ValueError):
        await db.backup(url, tmp_path / "copy.db")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:///trustloop.db", Path("trustloop.db")),
        ("sqlite+aiosqlite:////var/data/t.db", Path("/var/data/t.db")),
        ("sqlite:///rel/x.db", Path("rel/x.db")),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite://", None),
        ("postgresql+asyncpg://user@host/db", None),
    ],
)
def test_sqlite_path(url, expected):
    assert db.sqlite_path(url) == expected


async def test_upgrade_to_0007_keeps_weekly_snapshots(engine):
    await db.upgrade(engine, "0006")
    stamp = bindparam("at", type_=UTCDateTime())
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO risk_snapshots (team_id, week, at_risk, watch, healthy, unknown,"
                " avg_trust, computed_at) VALUES ('T1', '2026-11-16', 4, 3, 2, 1, 3.25, :at)"
            ).bindparams(stamp),
            {"at": NOW},
        )
    await db.upgrade(engine)
    async with engine.connect() as conn:
        stored = await digests.snapshots(conn, team_id="T1", since=date(2026, 11, 16), ids=True)
    assert stored == {
        date(2026, 11, 16): Snapshot(
            week=date(2026, 11, 16), at_risk=4, watch=3, healthy=2, unknown=1, avg_trust=3.25
        )
    }


async def test_upgrade_to_0006_keeps_cached_users_and_remembers_dms(engine):
    await db.upgrade(engine, "0005")
    stamp = bindparam("at", type_=UTCDateTime())
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO slack_users (team_id, user_id, name, tz, is_bot, deleted, is_admin,"
                " fetched_at) VALUES ('T1', 'U1', 'alice', 'Europe/Helsinki', 0, 0, 1, :at)"
            ).bindparams(stamp),
            {"at": NOW},
        )
    await db.upgrade(engine, "0006")
    async with engine.begin() as conn:
        users = await queries.get_users(conn, team_id="T1", user_ids=["U1"])
        assert (users["U1"].name, users["U1"].tz, users["U1"].is_admin) == (
            "alice",
            "Europe/Helsinki",
            True,
        )
        assert users["U1"].fetched_at == NOW
        assert await queries.get_dm_channel(conn, team_id="T1", user_id="U1") is None
        await queries.remember_dm_channels(conn, team_id="T1", channels={"U1": "D1", "U9": "D9"})
    async with engine.connect() as conn:
        assert await queries.get_dm_channel(conn, team_id="T1", user_id="U1") == "D1"
        # No row is made up for a user the cache does not know.
        assert await queries.get_dm_channel(conn, team_id="T1", user_id="U9") is None
    await downgrade(engine, "0005")
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT user_id, name FROM slack_users"))).all()
    assert [tuple(r) for r in names] == [("U1", "alice")]
