"""CSV export of one workspace: one file per kind, streamed, with UTC ISO-8601 timestamps.

`export_team` writes `accounts.csv`, `interactions.csv`, `checkins.csv`, `promises.csv`
and `promise_events.csv` into a directory. Each file has a header row with the table's
column names (every column except the derived `accounts.name_key`; `checkins.csv` also
carries the interaction's `account_id`), one row per record in id order, and:

- timestamps as UTC ISO-8601 (`2026-11-23T10:00:00+00:00`), dates as `2026-11-23`;
- empty cells for missing values, `0`/`1` for yes/no columns, values as stored;
- text exactly as stored: the `csv` module quotes commas, quotes and newlines, the files
  are UTF-8 (no BOM), so everything round-trips through `csv.reader`.

Rows are streamed from the database in chunks (a server-side cursor) and written as they
come, so memory stays flat for millions of rows; each file is written under a temporary
name and renamed when complete. All five files are read in one transaction, so they agree
with each other even while the bot keeps writing.
"""

from __future__ import annotations

import asyncio
import csv
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table, and_, select, union
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import tables as t

KINDS: tuple[str, ...] = ("accounts", "interactions", "checkins", "promises", "promise_events")
CHUNK_ROWS = 2000

_TABLES: dict[str, Table] = {
    "accounts": t.accounts,
    "interactions": t.interactions,
    "checkins": t.checkins,
    "promises": t.promises,
    "promise_events": t.promise_events,
}
_SKIPPED = {"accounts": {"name_key"}}


class ExportError(ValueError):
    """The export cannot run as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class ExportedFile:
    """One CSV file written."""

    kind: str
    path: Path
    rows: int


@dataclass(frozen=True)
class ExportResult:
    """What `export_team` wrote, for which workspace (None: the database holds none)."""

    team_id: str | None
    files: tuple[ExportedFile, ...]


def _columns(kind: str) -> list[Any]:
    table = _TABLES[kind]
    columns = [c for c in table.columns if c.name not in _SKIPPED.get(kind, set())]
    if kind == "checkins":
        at = [c.name for c in columns].index("interaction_id") + 1
        columns.insert(at, t.interactions.c.account_id)
    return columns


def header(kind: str) -> list[str]:
    """The header row of one kind's file."""
    return [c.name for c in _columns(kind)]


def _query(kind: str, team_id: str) -> Any:
    table = _TABLES[kind]
    # `team_id || ''` keeps SQLite off the team_id indexes: a scan in id order needs no
    # sort (an index lookup would sort the whole table before the first row comes out).
    query = select(*_columns(kind)).where(table.c.team_id + "" == team_id).order_by(table.c.id)
    if kind == "checkins":
        i, c = t.interactions, t.checkins
        query = query.join_from(
            c, i, and_(i.c.id == c.c.interaction_id, i.c.team_id == c.c.team_id)
        )
    return query


async def team_ids(conn: AsyncConnection) -> list[str]:
    """The workspaces that have anything to export, sorted."""
    query = union(*(select(table.c.team_id) for table in _TABLES.values()))
    return sorted((await conn.execute(query)).scalars())


def choose_team(teams: Sequence[str], requested: str | None) -> str | None:
    """The workspace to export: the one asked for, or the only one (None: nothing stored)."""
    listed = ", ".join(teams)
    if not teams:
        return None
    if requested is not None:
        if requested not in teams:
            raise ExportError(
                f"no workspace {requested} in this database; it holds {listed} (use --team)"
            )
        return requested
    if len(teams) > 1:
        raise ExportError(
            f"the database holds {len(teams)} workspaces ({listed}); pick one with --team"
        )
    return teams[0]


async def stream_rows(
    conn: AsyncConnection, *, team_id: str, kind: str, chunk: int = CHUNK_ROWS
) -> AsyncIterator[list[list[Any]]]:
    """One kind's rows of a workspace as CSV-ready lists, `chunk` rows at a time."""
    columns = _columns(kind)
    stamps = [n for n, c in enumerate(columns) if isinstance(c.type, t.UTCDateTime)]
    result = await conn.stream(_query(kind, team_id).execution_options(yield_per=chunk))
    async for partition in result.partitions(chunk):
        rows = []
        for row in partition:
            values = list(row)
            for n in stamps:
                if values[n] is not None:
                    values[n] = values[n].isoformat()  # aware UTC: ...T10:00:00+00:00
            rows.append(values)
        yield rows


async def export_team(
    engine: AsyncEngine, *, directory: Path, team_id: str | None = None
) -> ExportResult:
    """Write one CSV per kind for a workspace into `directory` (created if missing).

    With several workspaces stored, `team_id` must name one (ExportError otherwise). With
    none stored, the files get their header row only and the result's `team_id` is None.
    """
    async with engine.connect() as conn:
        await _snapshot(conn)
        team = choose_team(await team_ids(conn), team_id)
        try:
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        except FileExistsError:
            raise ExportError(f"{directory} exists and is not a directory") from None
        files = []
        for kind in KINDS:
            path = directory / f"{kind}.csv"
            rows = await _write(conn, path, kind, team)
            files.append(ExportedFile(kind=kind, path=path, rows=rows))
    return ExportResult(team_id=team, files=tuple(files))


async def _snapshot(conn: AsyncConnection) -> None:
    """Read every file from one snapshot of the database."""
    if conn.dialect.name == "sqlite":
        # storage.db begins every transaction itself; a read on `engine.connect()` is a
        # deferred one whose first read fixes one snapshot for every file.
        return
    if conn.dialect.name == "postgresql":
        await conn.execution_options(isolation_level="REPEATABLE READ")


async def _write(conn: AsyncConnection, path: Path, kind: str, team_id: str | None) -> int:
    partial = path.with_name(path.name + ".partial")
    handle: IO[str] = await asyncio.to_thread(partial.open, "w", encoding="utf-8", newline="")
    count = 0
    try:
        writer = csv.writer(handle)
        await asyncio.to_thread(writer.writerow, header(kind))
        if team_id is not None:
            async for rows in stream_rows(conn, team_id=team_id, kind=kind):
                await asyncio.to_thread(writer.writerows, rows)
                count += len(rows)
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(os.replace, partial, path)
    except BaseException:
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise
    return count
