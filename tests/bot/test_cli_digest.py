"""`trustloop digest preview`, run as an operator would, against a real database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import insert

from storage import tables as t
from tests.bot.test_cli import env_for, run
from tests.conftest import CAROL, Bot, eventually


async def setup_workspace(bot: Bot) -> None:
    for text in ["account add Acme tier A", "account add Small tier C"]:
        before = len(bot.stub.responses)
        await bot.slack.command("/trust", text, user_id=CAROL)
        await eventually(lambda n=before: len(bot.stub.responses) > n)
    before = len(bot.stub.responses)
    await bot.slack.command("/promise", "Acme fix it by 2026-11-24", user_id=CAROL)
    await eventually(lambda: len(bot.stub.responses) > before)
    before = len(bot.stub.responses)
    await bot.slack.command("/promise", "Acme <!channel> send docs by 2026-11-24", user_id=CAROL)
    await eventually(lambda: len(bot.stub.responses) > before)


async def test_preview_prints_readable_text_and_json(bot: Bot, tmp_path: Path) -> None:
    await setup_workspace(bot)
    env = env_for(DATABASE_URL=bot.db_url)
    code, out, err = await run(
        "digest", "preview", "--now", "2026-12-03T09:00:00Z", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "Trust digest · 26 Nov – 3 Dec 2026" in out
    assert "1 at risk" in out and "Acme" in out and "2 promises overdue" in out
    code, out, err = await run(
        "digest", "preview", "--json", "--now", "2026-12-03T09:00:00Z", env=env, cwd=tmp_path
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["team"] == "T0001" and data["blocks"][0]["type"] == "header"
    assert "<!channel>" not in json.dumps(data["blocks"])


async def test_preview_for_a_channel_uses_its_tier_filter(bot: Bot, tmp_path: Path) -> None:
    await setup_workspace(bot)
    async with bot.svc.engine.begin() as conn:
        await conn.execute(
            insert(t.digest_subscriptions).values(
                team_id="T0001",
                channel_id="C9",
                weekday=0,
                hour=9,
                minute=0,
                tz="UTC",
                tiers="C",
                created_by=CAROL,
                created_at=bot.clock.now,
                updated_at=bot.clock.now,
            )
        )
    env = env_for(DATABASE_URL=bot.db_url)
    code, out, err = await run(
        "digest", "preview", "--channel", "C9", "--now", "2026-12-03T09:00Z", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert out.startswith("# C9") and "of 1 accounts" in out and "Acme" not in out
    code, out, err = await run("digest", "preview", "--channel", "C7", env=env, cwd=tmp_path)
    assert code == 1 and "C7 has no digest subscription" in err and "Traceback" not in err


async def test_preview_with_several_workspaces_needs_team(bot: Bot, tmp_path: Path) -> None:
    await setup_workspace(bot)
    async with bot.svc.engine.begin() as conn:
        await conn.execute(
            insert(t.accounts).values(
                team_id="T0002",
                name="Other",
                name_key="other",
                tier="B",
                created_by="U1",
                created_at=bot.clock.now,
            )
        )
    env = env_for(DATABASE_URL=bot.db_url)
    code, out, err = await run("digest", "preview", env=env, cwd=tmp_path)
    assert code == 1 and "T0001, T0002" in err and "--team" in err
    code, out, err = await run("digest", "preview", "--team", "T0002", env=env, cwd=tmp_path)
    assert code == 0 and "of 1 accounts" in out and "Acme" not in out


async def test_preview_of_an_empty_database(tmp_path: Path) -> None:
    env = env_for(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    code, out, err = await run("digest", "preview", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "Nothing to report yet" in out
