"""Digest benchmark: time and peak memory of computing the weekly digest at scale.

Generates a seeded sample workspace with a year of history (`bot.sample_data`, the same
generator the demo uses) at each size, then computes the digest exactly as the bot does
(`HealthService.digest`: every account assessed now and a week ago, promise figures, response
rate, wins) and builds its Block Kit. Each size runs in its own process so peak memory
(max RSS) is that size's alone.

    .venv/bin/python bench/digest_bench.py                 # 1k and 10k accounts
    .venv/bin/python bench/digest_bench.py 1000 10000 50000
    .venv/bin/python bench/digest_bench.py --keep /tmp/bench 10000   # reuse generated data

The process is tuned as `trustloop` tunes itself (`bot.lifecycle.tune_gc`).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEAM = "TSAMPLE"


async def one(accounts: int, workdir: Path) -> dict[str, float]:
    """Generate `accounts` accounts × 52 weeks and time the digest over them."""
    from sqlalchemy import text

    from bot.config import Settings
    from bot.health_blocks import build_digest
    from bot.lifecycle import tune_gc
    from bot.sample_data import create_sample_database
    from bot.services import Services
    from bot.slack import build_client
    from storage import db

    tune_gc()
    path = workdir / f"bench-{accounts}.db"
    url = f"sqlite+aiosqlite:///{path}"
    started = time.perf_counter()
    if path.exists():
        generated = float("nan")  # reused from an earlier run (--keep)
        reused = db.create_engine(url)
        await db.upgrade(reused)  # data from an older schema
        await reused.dispose()
    else:
        await create_sample_database(
            url, team_id=TEAM, accounts=accounts, weeks=52, seed=7, now=NOW
        )
        generated = time.perf_counter() - started
    engine = db.create_engine(url)
    async with engine.connect() as conn:
        counts = {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("checkins", "promises")
        }
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    svc = Services(
        engine=engine,
        client=build_client("xoxb-bench", "http://127.0.0.1:9/api/"),
        settings=settings,
        clock=lambda: NOW,
    )

    async def clear_snapshots() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM risk_snapshots"))

    try:
        # The week's first digest also assesses every account as of a week ago (and stores
        # that as last week's snapshot); later ones that week read it back.
        firsts, later = [], []
        for _ in range(3):
            await clear_snapshots()
            t0 = time.perf_counter()
            digest = await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
            blocks = build_digest(digest)
            firsts.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            digest = await svc.health.digest(team_id=TEAM, now=NOW, chart=False)
            blocks = build_digest(digest)
            later.append(time.perf_counter() - t0)
        await clear_snapshots()
        t0 = time.perf_counter()
        await svc.health.digest(team_id=TEAM, now=NOW, chart=True)
        first_chart = time.perf_counter() - t0
    finally:
        await engine.dispose()
    return {
        "accounts": accounts,
        "checkins": counts["checkins"],
        "promises": counts["promises"],
        "generate_s": round(generated, 1),
        "first_digest_s": round(min(firsts), 3),
        "digest_s": round(min(later), 3),
        "digest_blocks": len(blocks),
        "at_risk": len(digest.at_risk),
        "first_chart_backfill_s": round(first_chart, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str]) -> int:
    """Run each size in its own process and print a table."""
    if argv and argv[0] == "--one":
        if len(argv) > 2:
            print(json.dumps(asyncio.run(one(int(argv[1]), Path(argv[2])))))
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(asyncio.run(one(int(argv[1]), Path(tmp)))))
        return 0
    keep: list[str] = []
    if argv and argv[0] == "--keep":
        Path(argv[1]).mkdir(parents=True, exist_ok=True)
        keep, argv = [argv[1]], argv[2:]
    sizes = [int(a) for a in argv] or [1000, 10000]
    rows = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), *keep],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"done {size}", file=sys.stderr)
    head = (
        "| accounts | check-ins | promises | digest (s) | week's first digest (s) "
        "| first chart backfill (s) | peak RSS (MiB) | data generation (s) |"
    )
    print(head)
    print("|" + " --- |" * 8)
    for r in rows:
        print(
            f"| {r['accounts']:,} | {r['checkins']:,} | {r['promises']:,} | {r['digest_s']} "
            f"| {r['first_digest_s']} | {r['first_chart_backfill_s']} | {r['peak_rss_mib']} "
            f"| {r['generate_s']} |"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
