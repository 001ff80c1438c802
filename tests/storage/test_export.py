"""CSV export: tricky text round-trips, workspaces never mix, UTC ISO timestamps, streaming."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Date, select

from bot.sample_data import generate
from storage import db, export, queries
from storage import promises as pq
from storage import tables as t
from storage.queries import NewCheckIn

T1, T2 = "T1", "T2"
ALICE, BOB = "UALICE", "UBOB"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TRICKY = (
    'Acme "the best", Oy',
    "line one\nline two\r\nline three\rend",
    "emoji 🎉👍🏽 and 日本語 and ÅÄÖ",
    "<!channel> <@U123|bob> & <#C1|general>",
    "=SUM(A1:A2) ,leading comma",
    "  spaces kept  ",
    "tab\there; semicolon",
    "",
)
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def tricky_workspace(conn: Any, team: str = T1) -> dict[str, Any]:
    """An account per tricky text, each with an interaction, check-in, promise, events."""
    made: dict[str, Any] = {"accounts": [], "promises": []}
    helsinki = datetime(2026, 11, 23, 11, 30, tzinfo=ZoneInfo("Europe/Helsinki"))
    for n, text in enumerate(TRICKY):
        account = await queries.create_account(
            conn,
            team_id=team,
            name=text or "(empty)",
            tier="A",
            yearly_value=Decimal("1234567.89"),
            owner_id=ALICE,
            created_by=ALICE,
            now=NOW + timedelta(minutes=n),
        )
        interaction, checkins = await queries.create_interaction(
            conn,
            team_id=team,
            account_id=account.id,
            kind="meeting",
            occurred_at=helsinki,
            logged_by=ALICE,
            note=text,
            source="slash_command",
            now=NOW,
            checkins=[
                NewCheckIn(ALICE, "pending", NOW + timedelta(hours=4), NOW + timedelta(days=3))
            ],
        )
        await queries.answer_checkin(
            conn,
            team_id=team,
            checkin_id=checkins[0].id,
            user_id=ALICE,
            rating=2,
            direction="worse",
            stage="knowledge-based",
            concern=text,
            now=NOW + timedelta(hours=1, microseconds=123456),
        )
        promise = await pq.create_promise(
            conn,
            team_id=team,
            account_id=account.id,
            text=text or "(empty)",
            owner_id=BOB,
            created_by=ALICE,
            due_date=date(2026, 11, 30),
            interaction_id=interaction.id,
            now=NOW,
        )
        await pq.resolve_promise(
            conn,
            team_id=team,
            promise_id=promise.id,
            actor_id=BOB,
            status="cancelled",
            in_time=None,
            note=text,
            now=NOW + timedelta(days=1),
        )
        made["accounts"].append(account)
        made["promises"].append(promise)
    return made


# --- content ------------------------------------------------------------------------------------


async def test_tricky_text_round_trips_through_csv_reader(engine, tmp_path: Path) -> None:
    async with engine.begin() as conn:
        await tricky_workspace(conn)
    out = tmp_path / "out" / "nested"
    result = await export.export_team(engine, directory=out)
    assert result.team_id == T1
    assert [(f.kind, f.rows) for f in result.files] == [
        ("accounts", len(TRICKY)),
        ("interactions", len(TRICKY)),
        ("checkins", len(TRICKY)),
        ("promises", len(TRICKY)),
        ("promise_events", 2 * len(TRICKY)),
    ]
    names = [r["name"] for r in read(out / "accounts.csv")]
    assert names == [text or "(empty)" for text in TRICKY]
    interactions = read(out / "interactions.csv")
    assert [r["note"] for r in interactions] == list(TRICKY)
    assert interactions[0]["occurred_at"] == "2026-11-23T09:30:00+00:00"  # from 11:30 Helsinki
    concerns = [r["concern"] for r in read(out / "checkins.csv")]
    assert concerns == [text or "" for text in TRICKY]
    texts = [r["text"] for r in read(out / "promises.csv")]
    assert texts == [text or "(empty)" for text in TRICKY]
    notes = [r["note"] for r in read(out / "promise_events.csv") if r["kind"] == "cancelled"]
    assert notes == list(TRICKY)
    account = read(out / "accounts.csv")[0]
    assert account["yearly_value"] == "1234567.89" and account["tier"] == "A"
    assert "name_key" not in account
    assert not list(out.glob("*.partial"))
    raw = (out / "interactions.csv").read_bytes()
    assert "🎉".encode() in raw and not raw.startswith(b"\xef\xbb\xbf")  # UTF-8, no BOM


async def test_headers_are_the_columns_and_values_are_as_stored(engine, tmp_path: Path) -> None:
    async with engine.begin() as conn:
        made = await tricky_workspace(conn)
    await export.export_team(engine, directory=tmp_path)
    for kind in export.KINDS:
        with (tmp_path / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
            assert next(csv.reader(f)) == export.header(kind)
    checkins = read(tmp_path / "checkins.csv")
    assert export.header("checkins")[:4] == ["id", "team_id", "interaction_id", "account_id"]
    assert [int(c["account_id"]) for c in checkins] == [a.id for a in made["accounts"]]
    first = checkins[0]
    assert (first["status"], first["rating"], first["direction"]) == ("answered", "2", "worse")
    assert first["stage"] == "knowledge-based" and first["remind_at"] == "2026-11-23T14:00:00+00:00"
    assert first["answered_at"] == "2026-11-23T11:00:00.123456+00:00"
    promise = read(tmp_path / "promises.csv")[0]
    assert promise["status"] == "cancelled" and promise["due_date"] == "2026-11-30"
    assert promise["kept_on_time"] == "" and promise["renegotiations"] == "0"
    events = read(tmp_path / "promise_events.csv")
    assert [(e["kind"], e["old_status"], e["new_status"]) for e in events[:2]] == [
        ("created", "", "open"),
        ("cancelled", "open", "cancelled"),
    ]


async def test_timestamps_are_utc_iso_and_dates_iso(engine, tmp_path: Path) -> None:
    await generate(engine, team_id=T1, accounts=8, weeks=6, now=NOW)
    await export.export_team(engine, directory=tmp_path)
    checked = 0
    for kind in export.KINDS:
        table = getattr(t, kind)
        stamps = {c.name for c in table.columns if isinstance(c.type, t.UTCDateTime)}
        days = {c.name for c in table.columns if isinstance(c.type, Date)}
        assert stamps
        for row in read(tmp_path / f"{kind}.csv"):
            for name in stamps:
                if row[name]:
                    assert STAMP.match(row[name]), (kind, name, row[name])
                    assert datetime.fromisoformat(row[name]).utcoffset() == timedelta(0)
                    checked += 1
            for name in days:
                if row[name]:
                    assert DAY.match(row[name]), (kind, name, row[name])
    assert checked > 500
    # a non-UTC instant is stored and exported as the same instant in UTC
    rows = read(tmp_path / "interactions.csv")
    async with engine.connect() as conn:
        first = (await conn.execute(select(t.interactions).order_by(t.interactions.c.id))).first()
    assert first is not None
    assert datetime.fromisoformat(rows[0]["occurred_at"]) == first.occurred_at


async def test_local_times_are_exported_as_utc(engine, tmp_path: Path) -> None:
    async with engine.begin() as conn:
        account = await queries.create_account(
            conn,
            team_id=T1,
            name="Acme",
            tier="B",
            yearly_value=None,
            owner_id=None,
            created_by=ALICE,
            now=datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Helsinki")),
        )
    await export.export_team(engine, directory=tmp_path)
    (row,) = read(tmp_path / "accounts.csv")
    assert row["created_at"] == "2026-07-01T09:00:00+00:00"
    assert row["id"] == str(account.id) and row["yearly_value"] == "" and row["owner_id"] == ""


# --- workspaces -----------------------------------------------------------------------------------


async def test_two_teams_never_mix(engine, tmp_path: Path) -> None:
    await generate(engine, team_id=T1, accounts=6, weeks=4, now=NOW)
    await generate(engine, team_id=T2, accounts=5, weeks=4, now=NOW, seed=3)
    async with engine.connect() as conn:
        assert await export.team_ids(conn) == [T1, T2]
    for team in (T1, T2):
        out = tmp_path / team
        result = await export.export_team(engine, directory=out, team_id=team)
        assert result.team_id == team
        async with engine.connect() as conn:
            for f in result.files:
                table = getattr(t, f.kind)
                ids = list(
                    (
                        await conn.execute(
                            select(table.c.id).where(table.c.team_id == team).order_by(table.c.id)
                        )
                    ).scalars()
                )
                rows = read(f.path)
                assert f.rows == len(rows) == len(ids) > 0
                assert [int(r["id"]) for r in rows] == ids
                assert {r["team_id"] for r in rows} == {team}


async def test_several_teams_need_a_choice(engine, tmp_path: Path) -> None:
    async with engine.begin() as conn:
        for team in (T2, T1):
            await queries.create_account(
                conn,
                team_id=team,
                name="Acme",
                tier="B",
                yearly_value=None,
                owner_id=None,
                created_by=ALICE,
                now=NOW,
            )
    with pytest.raises(export.ExportError) as err:
        await export.export_team(engine, directory=tmp_path / "x")
    message = str(err.value)
    assert "T1, T2" in message and "--team" in message and "\n" not in message
    assert not (tmp_path / "x").exists()
    with pytest.raises(export.ExportError, match=r"no workspace T9.*T1, T2"):
        await export.export_team(engine, directory=tmp_path / "x", team_id="T9")


def test_choose_team() -> None:
    assert export.choose_team([], None) is None
    assert export.choose_team([], "T1") is None
    assert export.choose_team(["T1"], None) == "T1"
    assert export.choose_team(["T1", "T2"], "T2") == "T2"
    with pytest.raises(export.ExportError):
        export.choose_team(["T1", "T2"], None)
    with pytest.raises(export.ExportError):
        export.choose_team(["T1"], "T2")


async def test_empty_database_gives_headers_only(engine, tmp_path: Path) -> None:
    result = await export.export_team(engine, directory=tmp_path / "empty", team_id="T1")
    assert result.team_id is None
    for f in result.files:
        assert f.rows == 0
        assert f.path.read_bytes() == (",".join(export.header(f.kind)) + "\r\n").encode()


# --- streaming and files ----------------------------------------------------------------------------


async def test_rows_are_streamed_in_chunks(engine) -> None:
    summary = await generate(engine, team_id=T1, accounts=5, weeks=8, now=NOW)
    sizes = []
    async with engine.connect() as conn:
        async for chunk in export.stream_rows(conn, team_id=T1, kind="checkins", chunk=20):
            sizes.append(len(chunk))
    assert sum(sizes) == summary.checkins
    assert len(sizes) > 2 and max(sizes) == 20


async def test_a_file_in_the_way_is_reported(engine, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory")
    with pytest.raises(export.ExportError, match="not a directory"):
        await export.export_team(engine, directory=tmp_path / "taken")


async def test_files_are_replaced_whole(engine, tmp_path: Path) -> None:
    await generate(engine, team_id=T1, accounts=3, weeks=2, now=NOW)
    out = tmp_path / "out"
    out.mkdir()
    (out / "accounts.csv").write_text("old junk\n" * 1000)
    result = await export.export_team(engine, directory=out)
    assert len(read(out / "accounts.csv")) == result.files[0].rows == 3
    names = sorted(f.path.name for f in result.files)
    assert sorted(p.name for p in out.glob("*")) == names


async def test_all_files_come_from_one_snapshot(engine, tmp_path: Path, monkeypatch) -> None:
    """A promise committed while the export runs is in none of the files, not half of them."""
    await generate(engine, team_id=T1, accounts=3, weeks=2, now=NOW)
    writer = db.create_engine(engine.url.render_as_string(hide_password=False))
    write = export._write

    async def write_then_interfere(conn: Any, path: Path, kind: str, team: str | None) -> int:
        count = await write(conn, path, kind, team)
        if kind == "accounts":
            async with writer.begin() as other:
                await pq.create_promise(
                    other,
                    team_id=T1,
                    account_id=1,
                    text="sneaked in",
                    owner_id=ALICE,
                    created_by=ALICE,
                    due_date=date(2026, 12, 1),
                    interaction_id=None,
                    now=NOW,
                )
        return count

    monkeypatch.setattr(export, "_write", write_then_interfere)
    await export.export_team(engine, directory=tmp_path)
    await writer.dispose()
    assert "sneaked in" not in (tmp_path / "promises.csv").read_text(encoding="utf-8")
    created = [r for r in read(tmp_path / "promise_events.csv") if r["kind"] == "created"]
    assert len(created) == len(read(tmp_path / "promises.csv"))
