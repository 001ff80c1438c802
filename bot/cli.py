"""The `trustloop` command line: run, demo, tick, digest preview, db upgrade, db backup, export."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings, SettingsError, load_settings
from bot.runner import StartupError


def _parse_now(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--now wants an ISO-8601 instant such as 2026-11-23T09:00:00Z, not {raw!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="trustloop",
        description="trustloop: trust check-ins, promises and weekly at-risk digests in Slack.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run the bot (applies pending database migrations first)")
    demo = sub.add_parser("demo", help="the whole product offline, on a local stand-in workspace")
    demo.add_argument("--script", action="store_true", help="print a scripted transcript and exit")
    tick = sub.add_parser("tick", help="do all time-based work due at an instant, then exit")
    tick.add_argument(
        "--now", type=_parse_now, default=None, help="ISO-8601 instant (default: now)"
    )
    digest = sub.add_parser("digest", help="the weekly digest")
    dsub = digest.add_subparsers(dest="digest_command", required=True, metavar="DIGEST_COMMAND")
    preview = dsub.add_parser("preview", help="print a digest without posting it")
    preview.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="C",
        help="a subscribed channel id: its digest, with its tier filter (repeatable)",
    )
    preview.add_argument("--json", action="store_true", help="print the Block Kit JSON")
    preview.add_argument("--team", default=None, help="workspace id when the database has several")
    preview.add_argument(
        "--now", type=_parse_now, default=None, help="ISO-8601 instant (default: now)"
    )
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    dbsub.add_parser("upgrade", help="apply pending migrations")
    backup = dbsub.add_parser("backup", help="online backup of the SQLite database to PATH")
    backup.add_argument("path", type=Path)
    export = sub.add_parser(
        "export",
        help="write a workspace's data as CSV files (one per kind) into the directory PATH",
    )
    export.add_argument("path", type=Path, help="directory for the CSV files (created if missing)")
    export.add_argument(
        "--team",
        metavar="TEAM_ID",
        default=None,
        help="the workspace, when the database holds several",
    )
    return parser


async def _run(settings: Settings) -> None:
    from bot.lifecycle import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


async def _tick(settings: Settings, now: datetime | None) -> str:
    from bot.lifecycle import open_services

    async with open_services(settings) as svc:
        report = await svc.run_due_work(now or svc.now())
    return f"tick at {(now or datetime.now(UTC)).isoformat()}: {report}"


async def _digest_preview(
    settings: Settings,
    *,
    channels: list[str],
    as_json: bool,
    team: str | None,
    now: datetime | None,
) -> str:
    import json

    from bot.health_blocks import build_digest, digest_fallback, digest_text
    from bot.lifecycle import open_services
    from storage.risk import team_ids

    async with open_services(settings) as svc:
        async with svc.engine.connect() as conn:
            teams = await team_ids(conn)
        if team is None:
            if len(teams) > 1:
                raise ValueError(
                    f"the database holds several workspaces ({', '.join(teams)}); pick one "
                    "with --team"
                )
            if not teams:
                return "Nothing to report yet: the database has no accounts."
            team = teams[0]
        at = now or svc.now()
        targets: list[tuple[str | None, tuple[str, ...]]] = [(None, ())]
        if channels:
            targets = []
            for wanted in channels:
                sub = await svc.digests.subscription(team_id=team, channel_id=wanted)
                if sub is None:
                    raise ValueError(f"channel {wanted} has no digest subscription in {team}")
                targets.append((wanted, sub.tiers))
        out = []
        for channel, tiers in targets:
            digest = await svc.digests.build(team_id=team, now=at, tiers=tiers, chart=False)
            if as_json:
                out.append(
                    json.dumps(
                        {
                            "team": team,
                            "channel": channel,
                            "text": digest_fallback(digest),
                            "blocks": build_digest(digest),
                        },
                        ensure_ascii=False,
                        indent=2,
                    )
                )
            else:
                head = f"# {channel}\n" if channel else ""
                out.append(head + digest_text(digest))
        return "\n\n".join(out)


async def _db_upgrade(settings: Settings) -> str:
    from storage import db

    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        return f"database at revision {await db.current_revision(engine)}"
    finally:
        await engine.dispose()


async def _db_backup(settings: Settings, path: Path) -> str:
    from storage import db

    await db.backup(settings.database_url, path)
    return f"backed up to {path}"


async def _export(settings: Settings, path: Path, team: str | None) -> str:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # read-only: no migration chatter
    from storage import db
    from storage.export import ExportError, export_team

    source = db.sqlite_path(settings.database_url)
    if source is not None and not source.exists():
        raise FileNotFoundError(f"no database at {source}")
    engine = db.create_engine(settings.database_url)
    try:
        revision, head = await db.current_revision(engine), db.head_revision()
        if revision != head:
            raise ExportError(
                "the database has no trustloop tables yet; run `trustloop db upgrade` first"
                if revision is None
                else f"the database is at revision {revision}, this trustloop expects {head}; "
                "run `trustloop db upgrade` first"
            )
        result = await export_team(engine, directory=path, team_id=team)
    finally:
        await engine.dispose()
    lines = [f"{f.path}: {f.rows} rows" for f in result.files]
    if result.team_id is None:
        lines.append("the database holds no data yet: wrote the header rows only")
    else:
        lines.insert(0, f"exported workspace {result.team_id} to {path}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `trustloop` command."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        from bot.logs import setup_logging

        secrets = tuple(
            s.get_secret_value()
            for s in (
                settings.slack_bot_token,
                settings.slack_signing_secret,
                settings.slack_app_token,
            )
            if s is not None
        )
        setup_logging(settings.log_level, secrets)
        from bot.lifecycle import tune_gc

        tune_gc()
        if args.command == "run":
            settings.require_run()
            asyncio.run(_run(settings))
        elif args.command == "demo":
            from bot.demo import run_demo

            return run_demo(settings, script=args.script)
        elif args.command == "tick":
            if settings.slack_bot_token is None:
                raise SettingsError(
                    "SLACK_BOT_TOKEN is required for `trustloop tick` (it sends DMs)."
                )
            print(asyncio.run(_tick(settings, args.now)))
        elif args.command == "digest" and args.digest_command == "preview":
            print(
                asyncio.run(
                    _digest_preview(
                        settings,
                        channels=args.channel,
                        as_json=args.json,
                        team=args.team,
                        now=args.now,
                    )
                )
            )
        elif args.command == "db" and args.db_command == "upgrade":
            print(asyncio.run(_db_upgrade(settings)))
        elif args.command == "db" and args.db_command == "backup":
            print(asyncio.run(_db_backup(settings, args.path)))
        elif args.command == "export":
            print(asyncio.run(_export(settings, args.path, args.team)))
    except SettingsError as exc:
        print(f"trustloop: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"trustloop: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"trustloop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
