"""The `trustloop` command line: run, demo, tick, db upgrade, db backup."""

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
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    dbsub.add_parser("upgrade", help="apply pending migrations")
    backup = dbsub.add_parser("backup", help="online backup of the SQLite database to PATH")
    backup.add_argument("path", type=Path)
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
        elif args.command == "db" and args.db_command == "upgrade":
            print(asyncio.run(_db_upgrade(settings)))
        elif args.command == "db" and args.db_command == "backup":
            print(asyncio.run(_db_backup(settings, args.path)))
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
