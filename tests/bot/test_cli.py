"""The `trustloop` command line, run as a user would (subprocesses against the stub)."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import socket
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from bot.localslack.requests import sign, slash_command_form
from bot.localslack.server import SlackStub
from bot.sample_data import generate
from storage import db
from storage.db import head_revision
from tests.conftest import TOKEN, Bot
from tests.handlers.test_actions import log_checkin

TRUSTLOOP = str(Path(sys.executable).parent / "trustloop")
SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Slack settings from the machine and no .env in the working directory."""
    for name in (*SLACK_VARS, "DATABASE_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def env_for(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*SLACK_VARS, "DATABASE_URL", "PORT")}
    env.update(values)
    return env


async def run(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        TRUSTLOOP,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def test_run_without_token_says_so_in_one_line(clean_env: Path, capsys) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "SLACK_BOT_TOKEN" in err and "Traceback" not in err


def test_http_mode_needs_the_signing_secret(clean_env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert main(["run"]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err


def test_malformed_setting_names_the_variable(clean_env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PORT", "abc")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trustloop: PORT") and "\n" not in err


def test_settings_come_from_dotenv(clean_env: Path, capsys) -> None:
    (clean_env / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nSLACK_APP_TOKEN=bogus\n")
    assert main(["run"]) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err


def test_bad_now_is_refused(clean_env: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["tick", "--now", "yesterday-ish"])
    assert "ISO-8601" in capsys.readouterr().err


def test_db_upgrade_and_backup(clean_env: Path, capsys) -> None:
    db_file = clean_env / "t.db"
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{db_file}"
    try:
        assert main(["db", "upgrade"]) == 0
        assert f"revision {head_revision()}" in capsys.readouterr().out
        assert main(["db", "backup", str(clean_env / "copy.db")]) == 0
    finally:
        del os.environ["DATABASE_URL"]
    copy = sqlite3.connect(clean_env / "copy.db")
    tables = {r[0] for r in copy.execute("select name from sqlite_master where type='table'")}
    assert {"accounts", "checkins", "interactions", "alembic_version"} <= tables


async def test_tick_does_due_work_once(bot: Bot, tmp_path: Path) -> None:
    await log_checkin(bot)
    env = env_for(SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=bot.stub.api_url, DATABASE_URL=bot.db_url)
    now = "2026-11-23T15:00:00Z"  # five hours after the check-in, daytime for both users
    code, out, err = await run("tick", "--now", now, env=env, cwd=tmp_path)
    assert code == 0, err
    assert "reminded 2" in out
    code, out, _ = await run("tick", "--now", now, env=env, cwd=tmp_path)
    assert code == 0 and "reminded 0" in out
    code, out, _ = await run("tick", "--now", "2026-11-27T00:00:00+00:00", env=env, cwd=tmp_path)
    assert "expired 2" in out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_run_serves_http_and_stops_cleanly(stub: SlackStub, tmp_path: Path) -> None:
    port = free_port()
    env = env_for(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET="s3cret",
        SLACK_API_URL=stub.api_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        PORT=str(port),
    )
    proc = await asyncio.create_subprocess_exec(
        TRUSTLOOP, "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            body = slash_command_form(
                "/trust",
                "help",
                team_id="T0001",
                user_id="UALICE",
                trigger_id=stub.issue_trigger_id(),
                response_url=stub.new_response_url(),
            )
            headers = {
                **sign(body, "s3cret", int(time.time())),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            url = f"http://127.0.0.1:{port}/slack/events"
            async with session.post(url, data=body, headers=headers) as resp:
                assert resp.status == 200
                assert "/checkin" in await resp.text()
            async with session.post(url, data=body, headers={}) as resp:
                assert resp.status == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert TOKEN not in err.decode() and "s3cret" not in err.decode()
    assert (tmp_path / "run.db").exists()


async def test_export_picks_the_workspace_and_writes_one_csv_per_kind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    engine = db.create_engine(url)
    await db.upgrade(engine)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    first = await generate(engine, team_id="T0ONE", accounts=4, weeks=3, now=now)
    await generate(engine, team_id="T0TWO", accounts=2, weeks=3, now=now, seed=2)
    await engine.dispose()
    env = env_for(DATABASE_URL=url)  # no Slack token: export only needs the database
    code, out, err = await run("export", "out", env=env, cwd=tmp_path)
    assert code != 0 and out == ""
    assert err.strip().count("\n") == 0, err
    assert "T0ONE, T0TWO" in err and "--team" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()

    code, out, err = await run("export", "out", "--team", "T0ONE", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines == [
        "exported workspace T0ONE to out",
        "out/accounts.csv: 4 rows",
        f"out/interactions.csv: {first.interactions} rows",
        f"out/checkins.csv: {first.checkins} rows",
        f"out/promises.csv: {first.promises} rows",
        f"out/promise_events.csv: {first.promise_events} rows",
    ]
    with (tmp_path / "out" / "checkins.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == first.checkins and {r["team_id"] for r in rows} == {"T0ONE"}

    code, _, err = await run("export", "out", "--team", "T0NONE", env=env, cwd=tmp_path)
    assert code != 0 and "T0NONE" in err and "T0ONE, T0TWO" in err


def test_export_of_an_empty_or_missing_database(clean_env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{clean_env / 'missing.db'}")
    assert main(["export", "out"]) == 1
    assert "no database at" in capsys.readouterr().err
    assert not (clean_env / "missing.db").exists()

    sqlite3.connect(clean_env / "blank.db").close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{clean_env / 'blank.db'}")
    assert main(["export", "out"]) == 1
    assert "trustloop db upgrade" in capsys.readouterr().err

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{clean_env / 'empty.db'}")
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["export", "out"]) == 0
    out = capsys.readouterr().out
    assert "header rows only" in out
    for kind in ("accounts", "interactions", "checkins", "promises", "promise_events"):
        assert f"out/{kind}.csv: 0 rows" in out
        with (clean_env / "out" / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
            assert len(list(csv.reader(f))) == 1  # the header row
