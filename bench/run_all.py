"""Every trustloop benchmark in one run, one table per part, the bare Bolt app alongside.

    .venv/bin/python bench/run_all.py            # the full set (about an hour, see below)
    .venv/bin/python bench/run_all.py --quick    # small sizes, a few minutes: checks it all works
    .venv/bin/python bench/run_all.py --parts ack sustained   # some parts only
    make bench                                   # this, then bench/digest_bench.py

Progress goes to stderr, the Markdown report to stdout. The machine may be shared, so
absolute figures are noisy: every part measures the bare app (a Bolt AsyncApp whose
listeners only ack, with the same listener runner as the bot) in the same run, and the
report gives ratios.

1. **ack**: `bench/ack_bench.py` (latency p50/p99 and throughput of `/checkin`, a rating
   click and `/promise` at 1 and 50 concurrent clients, bot vs bare, each with the bot's
   `AckSignallingRunner` and with Bolt's default polling runner).
2. **sustained**: 20,000 rating clicks, each the first click on a distinct pending check-in
   (seeded through `storage.queries`, its DM posted to the stub with the bot's own Block
   Kit), sent by 50 clients over HTTP to `trustloop run` on SQLite; every answer must be in
   the database at the end. Ack latency and throughput, and the time until the last answer
   was stored and the last follow-up (the DM updated to show the answer) was seen. The
   same clicks go to the bare app.
3. **fan-out** against the stub enforcing Slack's rate limits (`bot.localslack.ratelimit`:
   Tier 2/3/4 per method, chat.postMessage ≈1 a second per channel and a workspace
   ceiling, HTTP 429 with Retry-After): one `/checkin` mentioning 1,000 teammates; ten
   `/checkin`s of 20 teammates at once; the weekly digest to 50 subscribed channels
   (`trustloop tick`, sample data from `bot.sample_data`). Every DM or digest must arrive
   exactly once; the report gives the 429s per method, the total time and the rate-limit
   lower bound for the calls the bot made (each method's bucket alone, after its burst).
4. **memory**: resident memory (VmRSS) of the `trustloop run` process and of the bare app,
   idle and after parts 2 and 3 (part 1's processes are its own and reported with it).
5. **startup**: `trustloop run` from spawn to the first signed request answered 200, on a
   migrated database and on a blank one (migrations at start), and the bare app likewise.

Sizes (`--quick` in brackets): ack 150/300 requests at c=1/50 [40/150]; 20,000 [2,000]
answers; fan-out 1,000 [60] teammates, 10×20 [4×10], 50 [10] digests; startup 3 [1] times.
A check-in DM is one chat.postMessage to the teammate's user id and the teammates come
from users.list pages (users.info for ten or fewer), so the 1,000-teammate fan-out is bound
by chat.postMessage's workspace ceiling in the stub (300 a minute after a burst of 50):
about 3.2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import ack_bench as ab  # the sibling script; its helpers are shared

SCRIPT = str(Path(__file__).resolve())
TOKEN, SECRET, TEAM, ALICE = ab.TOKEN, ab.SECRET, ab.TEAM, ab.ALICE
ACCOUNT = "Acme"
RATE_ACTION = "checkin_rate_4"
PARTS = ("ack", "sustained", "fanout", "digest", "startup")
TZS = ("Europe/Helsinki", "America/New_York", "Europe/London", "Asia/Tokyo", "UTC")


@dataclass
class Sizes:
    """How big each part is."""

    ack_n1: int
    ack_n50: int
    answers: int
    clients: int
    fanout_one: int
    fanout_many: tuple[int, int]
    digests: int
    startups: int


FULL = Sizes(150, 300, 20_000, 50, 1_000, (10, 20), 50, 3)
QUICK = Sizes(40, 150, 2_000, 50, 60, (4, 10), 10, 1)


def log(message: str) -> None:
    """Progress, on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A free TCP port on loopback (for `trustloop run`, which takes PORT)."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else 0.0


def ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


# ---------------------------------------------------------------------------- the stub


async def serve_stub() -> None:
    """The Slack stub with control endpoints for seeding and checking (subprocess)."""
    from bot.localslack.ratelimit import RateLimiter

    stub = ab._bench_stub_class()(bot_token=TOKEN, team_id=TEAM, bot_user_id="UBOT")
    stub.add_user(ALICE, name="alice", tz="Europe/Helsinki", is_admin=True)
    stub.add_user(ab.BOB, name="bob", tz="America/New_York")
    stub.add_channel(ab.CHANNEL, name="general", members=[ALICE, ab.BOB, "UBOT"])
    await stub.start()
    routes = web.RouteTableDef()

    @routes.post("/users")
    async def users(request: web.Request) -> web.Response:
        for user_id, name, tz in (await request.json())["users"]:
            stub.add_user(user_id, name=name, tz=tz)
        return web.json_response({"ok": True})

    @routes.post("/channels")
    async def channels(request: web.Request) -> web.Response:
        for channel in (await request.json())["channels"]:
            stub.add_channel(channel, name=channel.lower(), members=["UBOT", ALICE])
        return web.json_response({"ok": True})

    @routes.post("/seed")
    async def seed(request: web.Request) -> web.Response:
        """Post DMs as the bot would have (the stub's own chat.postMessage, no HTTP)."""
        posted = []
        for m in (await request.json())["messages"]:
            reply = stub._chat_post_message(
                {"channel": m["user"], "text": m["text"], "blocks": m["blocks"]}
            )
            posted.append({"channel": reply["channel"], "ts": reply["ts"]})
        return web.json_response({"posted": posted})

    @routes.post("/ratelimit")
    async def ratelimit(request: web.Request) -> web.Response:
        if (await request.json())["on"]:
            stub.enable_rate_limits(RateLimiter())
        else:
            stub.rate_limiter = None
        return web.json_response({"ok": True})

    @routes.get("/stats")
    async def stats(_request: web.Request) -> web.Response:
        limiter = stub.rate_limiter
        return web.json_response(
            {
                "ok": dict(stub.ok),
                "failed": dict(stub.failed),
                "responses": len(stub.responses),
                "response_texts": [str(r.body)[:300] for r in stub.responses[-3:]],
                "violations": len(stub.violations),
                "violation_samples": stub.violations[:3],
                "bound_s": limiter.bound_seconds(stub.ok) if limiter else None,
            }
        )

    @routes.post("/bound")
    async def bound(request: web.Request) -> web.Response:
        calls = (await request.json())["calls"]
        return web.json_response({"bound_s": RateLimiter().bound_seconds(calls)})

    @routes.post("/dm_counts")
    async def dm_counts(request: web.Request) -> web.Response:
        counts = {}
        for user in (await request.json())["users"]:
            channel = stub._dms.get(user)
            counts[user] = len(stub.messages(channel)) if channel else 0
        return web.json_response({"counts": counts})

    @routes.post("/channel_counts")
    async def channel_counts(request: web.Request) -> web.Response:
        digests, files = {}, {}
        for channel in (await request.json())["channels"]:
            found = stub.messages(channel) if channel in stub._channels else []
            digests[channel] = sum(
                1
                for m in found
                if (m.get("metadata") or {}).get("event_type") == "trustloop_digest"
            )
            files[channel] = sum(1 for m in found if m.get("files"))
        return web.json_response({"digests": digests, "files": files})

    control = web.Application(client_max_size=256 * 1024 * 1024)
    control.add_routes(routes)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    ab._ready(
        base=stub.base_url,
        api=stub.api_url,
        control=f"http://127.0.0.1:{runner.addresses[0][1]}",
    )
    await ab._until_stopped()
    await runner.cleanup()
    await stub.stop()


class Control:
    """The load generator's handle on the stub's control endpoints."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        async with self.session.post(f"{self.base}{path}", json=payload) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base}/stats") as resp:
            data: dict[str, Any] = await resp.json()
            return data

    async def close(self) -> None:
        await self.session.close()


def diff(after: dict[str, int], before: dict[str, int]) -> Counter[str]:
    """Per-key increase between two counter snapshots."""
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def by_method(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "–"


def limited(failed: Counter[str]) -> Counter[str]:
    """The 429s per method, from the stub's failed-call counter."""
    return Counter({k.split(":")[0]: v for k, v in failed.items() if k.endswith(": ratelimited")})


# ---------------------------------------------------------------------------- processes


def bot_env(api_url: str, db_url: str, port: int) -> dict[str, str]:
    """The environment `trustloop run` reads (nothing else from the caller's Slack setup)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        DATABASE_URL=db_url,
        PORT=str(port),
        HOST="127.0.0.1",
        LOG_LEVEL="INFO",
    )
    return env


EXPERIMENT = "none"


def trustloop_command() -> list[str]:
    """The installed `trustloop` script next to this Python (with an experiment: via Python)."""
    if EXPERIMENT != "none":
        bench = str(Path(__file__).resolve().parent)
        code = (
            f"import sys; sys.path.insert(0, {bench!r}); import experiments; "
            f"experiments.apply({EXPERIMENT!r}); from bot.cli import main; "
            "sys.exit(main(sys.argv[1:]))"
        )
        return [sys.executable, "-c", code]
    script = Path(sys.executable).parent / "trustloop"
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import bot.cli as c; c.main()"]
    )


async def start_process(args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Any:
    out = log_path.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            *args, env=env, cwd=str(cwd), stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        out.close()


async def first_answer(url: str, proc: Any, stub_base: str, deadline_s: float = 120.0) -> float:
    """Seconds until a signed `/checkin` to `url` is answered 200 (polling every 10 ms)."""
    from bot.localslack.requests import sign

    requests = ab.Requests(stub_base)
    build = requests.command("/checkin", "Nowhere call")
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < deadline_s:
            if proc.returncode is not None:
                raise SystemExit(f"the server exited with {proc.returncode} before answering")
            body, content_type = build(0)
            headers = {"Content-Type": content_type, **sign(body, SECRET, int(time.time()))}
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.01)
    raise SystemExit(f"no answer from {url} within {deadline_s:.0f} s")


async def spawn_trustloop(
    workdir: Path, stub: ab.Server, db_url: str, log_path: Path
) -> tuple[ab.Server, float]:
    """`trustloop run` on a free port; returns it and the seconds to its first answer."""
    port = free_port()
    env = bot_env(str(stub.info["api"]), db_url, port)
    proc = await start_process([*trustloop_command(), "run"], env, workdir, log_path)
    url = f"http://127.0.0.1:{port}/slack/events"
    took = await first_answer(url, proc, str(stub.info["base"]))
    return ab.Server(kind="bot", proc=proc, info={"url": url}, log=log_path), took


async def spawn_bare(workdir: Path, stub: ab.Server, log_path: Path) -> tuple[ab.Server, float]:
    """The bare app (ack_bench's, with the bot's runner) on a free port, timed the same way."""
    port = free_port()
    command = [sys.executable, ab.SCRIPT, "--serve", "bare", str(port)]
    command += ["--mode", "ack-signal", "--slack-api", str(stub.info["api"])]
    proc = await start_process(
        command,
        dict(os.environ),
        workdir,
        log_path,
    )
    url = f"http://127.0.0.1:{port}{ab.EVENTS_PATH}"
    took = await first_answer(url, proc, str(stub.info["base"]))
    return ab.Server(kind="bare", proc=proc, info={"url": url}, log=log_path), took


async def spawn_stub(workdir: Path) -> tuple[ab.Server, Control]:
    log_path = workdir / "stub.log"
    err = log_path.open("wb")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, SCRIPT, "--serve-stub", stdout=asyncio.subprocess.PIPE, stderr=err
        )
    finally:
        err.close()
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not line:
        raise SystemExit(f"the stub did not start; see {log_path}")
    info = json.loads(line)
    return ab.Server(kind="stub", proc=proc, info=info, log=log_path), Control(info["control"])


def db_count(path: Path, sql: str, *args: Any) -> int:
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        return int(conn.execute(sql, args).fetchone()[0])


# ---------------------------------------------------------------------------- seeding


async def seed_pending(
    db_url: str, users: list[str], per_user: int, per_interaction: int = 5
) -> list[dict[str, Any]]:
    """Pending check-ins (per_user for each user), as `/checkin`s would have left them.

    Returns, per check-in, what the DM needs: the user, the bot's fallback text and blocks.
    """
    from bot import blocks
    from storage import db
    from storage import queries as q

    now = datetime.now(UTC)
    engine = db.create_engine(db_url)
    try:
        await db.upgrade(engine)
        async with engine.begin() as conn:
            account = await q.create_account(
                conn,
                team_id=TEAM,
                name=ACCOUNT,
                tier="A",
                yearly_value=Decimal(120_000),
                owner_id=ALICE,
                created_by=ALICE,
                now=now,
            )
        interactions = len(users) * per_user // per_interaction
        ids: list[int] = []
        for start in range(0, interactions, 250):
            async with engine.begin() as conn:
                for i in range(start, min(interactions, start + 250)):
                    group = [
                        users[(i * per_interaction + k) % len(users)]
                        for k in range(per_interaction)
                    ]
                    _, created = await q.create_interaction(
                        conn,
                        team_id=TEAM,
                        account_id=account.id,
                        kind="call",
                        occurred_at=now,
                        logged_by=ALICE,
                        note="benchmark",
                        source="slash_command",
                        now=now,
                        checkins=[
                            q.NewCheckIn(
                                user_id=u,
                                status=q.PENDING,
                                remind_at=now + timedelta(hours=4),
                                expires_at=now + timedelta(hours=72),
                            )
                            for u in group
                        ],
                    )
                    ids.extend(c.id for c in created)
        found = []
        async with engine.connect() as conn:
            for checkin_id in ids:
                detail = await q.get_checkin(conn, team_id=TEAM, checkin_id=checkin_id)
                assert detail is not None
                found.append(
                    {
                        "id": checkin_id,
                        "user": detail.checkin.user_id,
                        "text": blocks.checkin_fallback(detail),
                        "blocks": blocks.build_checkin_message(detail),
                    }
                )
        return found
    finally:
        await engine.dispose()


async def record_deliveries(db_url: str, delivered: list[dict[str, Any]]) -> None:
    """Store each seeded DM's channel and ts on its check-in, as `Services.deliver` does."""
    from storage import db
    from storage import queries as q

    engine = db.create_engine(db_url)
    try:
        for start in range(0, len(delivered), 500):
            async with engine.begin() as conn:
                for d in delivered[start : start + 500]:
                    await q.record_delivery(
                        conn,
                        team_id=TEAM,
                        checkin_id=d["id"],
                        dm_channel=d["channel"],
                        dm_ts=d["ts"],
                        error=None,
                    )
    finally:
        await engine.dispose()


def people(prefix: str, n: int) -> list[list[str]]:
    """`n` stub users: [id, name, tz]."""
    return [[f"U0{prefix}{i:05d}", f"{prefix.lower()}{i}", TZS[i % len(TZS)]] for i in range(n)]


def click_builder(requests: ab.Requests, messages: list[dict[str, Any]]) -> ab.Build:
    """The `4 · good` click on each seeded DM, by the user it was sent to."""
    from bot.localslack.requests import block_actions_payload

    def build(i: int) -> tuple[bytes, str]:
        m = messages[i]
        actions = next(b for b in m["blocks"] if b.get("type") == "actions")
        button = next(e for e in actions["elements"] if e.get("action_id") == RATE_ACTION)
        message = {
            "type": "message",
            "user": "UBOT",
            "ts": m["ts"],
            "text": m["text"],
            "blocks": m["blocks"],
        }
        payload = block_actions_payload(
            team_id=TEAM,
            user_id=m["user"],
            action_id=RATE_ACTION,
            block_id=actions["block_id"],
            value=button["value"],
            trigger_id=requests._trigger(),
            response_url=requests._response_url(),
            container={
                "type": "message",
                "message_ts": m["ts"],
                "channel_id": m["channel"],
                "is_ephemeral": False,
            },
            message=message,
            channel_id=m["channel"],
        )
        return urlencode({"payload": json.dumps(payload)}).encode(), (
            "application/x-www-form-urlencoded"
        )

    return build


# ---------------------------------------------------------------------------- the parts


@dataclass
class Report:
    """Everything measured, turned into Markdown at the end."""

    sections: list[str] = field(default_factory=list)

    def add(self, title: str, lines: list[str]) -> None:
        self.sections.append("\n".join([f"### {title}", "", *lines]))


async def part_ack(sizes: Sizes, report: Report) -> None:
    log("part 1: ack latency (bench/ack_bench.py)")
    with tempfile.TemporaryDirectory(prefix="ack-bench-") as tmp:
        runner = ab.Bench(Path(tmp), sizes.ack_n1, sizes.ack_n50, (1, 50), EXPERIMENT)
        phases = [await runner.phase(mode) for mode in ab.MODES]
    report.add("1. Ack latency: bot vs bare Bolt, same runner", [ab.report(phases, [])])


@dataclass
class Stage:
    """The long-running servers of parts 2–4."""

    workdir: Path
    stub: ab.Server
    control: Control
    bot: ab.Server
    bare: ab.Server
    db_path: Path
    memory: list[tuple[str, str, float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def snapshot(self, label: str) -> None:
        for server in (self.bot, self.bare):
            status = server.rss()
            self.memory.append((server.kind, label, status["VmRSS"], status["VmHWM"]))


async def open_stage(workdir: Path) -> Stage:
    """The stub; `part_sustained` seeds the database and starts the bot and the bare app."""
    stub, control = await spawn_stub(workdir)
    db_path = workdir / "trustloop.db"
    return Stage(workdir, stub, control, None, None, db_path)  # type: ignore[arg-type]


async def part_sustained(stage: Stage, sizes: Sizes, report: Report, clicks: bool = True) -> None:
    """Seed, start `trustloop run` and the bare app, then (`clicks`) the sustained answers."""
    n, c = (sizes.answers, sizes.clients) if clicks else (0, sizes.clients)
    per_user = 20 if clicks else 0  # without clicks: the account only
    users = people("ANS", max(1, n // max(1, per_user)))
    log(f"part 2: seeding {n:,} pending check-ins for {len(users):,} people")
    started = time.perf_counter()
    await stage.control.post("/users", {"users": users})
    pending = await seed_pending(
        f"sqlite+aiosqlite:///{stage.db_path}", [u[0] for u in users], per_user
    )
    for start in range(0, len(pending), 500):
        batch = pending[start : start + 500]
        posted = await stage.control.post(
            "/seed",
            {"messages": [{k: m[k] for k in ("user", "text", "blocks")} for m in batch]},
        )
        for m, p in zip(batch, posted["posted"], strict=True):
            m.update(p)
    await record_deliveries(f"sqlite+aiosqlite:///{stage.db_path}", pending)
    # Interleave people: consecutive clicks come from different users.
    order = sorted(range(len(pending)), key=lambda i: (i % len(users), i))
    messages = [pending[i] for i in order][:n]
    seeding = time.perf_counter() - started
    log(f"  seeded in {seeding:.0f} s; starting trustloop run and the bare app")

    stage.bot, bot_start = await spawn_trustloop(
        stage.workdir, stage.stub, f"sqlite+aiosqlite:///{stage.db_path}", stage.workdir / "bot.log"
    )
    stage.bare, _ = await spawn_bare(stage.workdir, stage.stub, stage.workdir / "bare.log")
    await asyncio.sleep(2)
    stage.snapshot("idle")
    if not clicks:
        return

    requests = ab.Requests(str(stage.stub.info["base"]))
    build = click_builder(requests, messages)
    answered_sql = "SELECT count(*) FROM checkins WHERE status = 'answered'"
    before = await stage.control.stats()
    cpu = stage.bot.cpu()
    log(f"  {n:,} clicks at c={c} to the bot")
    t0 = time.perf_counter()
    bot_run = await ab.load(stage.bot.url, n, c, build)
    acked_s = time.perf_counter() - t0
    stored_at, stored = None, 0
    seen, moved = -1, time.perf_counter()
    while True:
        stored = db_count(stage.db_path, answered_sql)
        now = time.perf_counter()
        if stored >= n:
            stored_at = now - t0
            break
        if stored != seen:
            seen, moved = stored, now
        if now - moved > 60:
            break
        await asyncio.sleep(0.5)
    # Follow-ups: one chat.update per first click (the DM shows the answer; the App Home
    # is redrawn when it is opened, not per answer). Given up on when none came for 60 s.
    follow_at = None
    shown, moved = -1, time.perf_counter()
    while time.perf_counter() - t0 < (stored_at or 0) + 600:
        stats = await stage.control.stats()
        done = diff(stats["ok"], before["ok"])
        if done["chat.update"] >= n:
            follow_at = time.perf_counter() - t0
            break
        if done["chat.update"] != shown:
            shown, moved = done["chat.update"], time.perf_counter()
        if time.perf_counter() - moved > 60:
            break
        await asyncio.sleep(0.5)
    bot_cpu = stage.bot.cpu() - cpu
    after = await stage.control.stats()
    calls = diff(after["ok"], before["ok"])
    failed = diff(after["failed"], before["failed"])
    stage.snapshot("after sustained")

    log(f"  the same {n:,} clicks at c={c} to the bare app")
    bare_cpu = stage.bare.cpu()
    bare_run = await ab.load(stage.bare.url, n, c, build)
    bare_cpu = stage.bare.cpu() - bare_cpu
    stage.snapshot("after sustained (bare)")

    rows = [
        "| app | answers | clients | ack p50 (ms) | ack p99 (ms) | acks/s | all acked (s) "
        "| all stored (s) | stored/s | follow-ups done (s) | bad acks | CPU ms/answer |",
        "|" + " --- |" * 12,
        f"| bare | {n:,} | {c} | {ms(bare_run.pct(0.5))} | {ms(bare_run.pct(0.99))} "
        f"| {bare_run.rps:,.0f} | {bare_run.wall_s:.1f} | – | – | – "
        f"| {sum(bare_run.bad.values())} | {bare_cpu * 1000 / n:.1f} |",
        f"| bot | {n:,} | {c} | {ms(bot_run.pct(0.5))} | {ms(bot_run.pct(0.99))} "
        f"| {bot_run.rps:,.0f} | {acked_s:.1f} "
        f"| {f'{stored_at:.1f}' if stored_at else f'never ({stored:,} by {moved - t0:.1f})'} "
        f"| {stored / (stored_at or moved - t0):,.0f} "
        f"| {f'{follow_at:.1f}' if follow_at else 'not all'} "
        f"| {sum(bot_run.bad.values())} | {bot_cpu * 1000 / n:.1f} |",
        "",
        f"- stored: {stored:,} of {n:,} answers in the database "
        f"({'all' if stored == n else 'MISSING ' + format(n - stored, ',')}); "
        f"ack p99 bot/bare {bot_run.pct(0.99) / max(bare_run.pct(0.99), 1e-9):.2f}, "
        f"acks/s bot/bare {bot_run.rps / bare_run.rps:.2f}; "
        f"`trustloop run` answered its first request {bot_start:.1f} s after spawn; "
        f"seeding took {seeding:.0f} s.",
        f"- Web API calls during the run: {dict(calls)}"
        + (f"; failed: {dict(failed)}" if failed else "; none failed"),
    ]
    if bot_run.bad or bare_run.bad:
        rows.append(f"- bad acks: bot {dict(bot_run.bad)}, bare {dict(bare_run.bad)}")
    rows.append(f"- bot log: {ab.Bench.check_log(stage.bot.log)}")
    report.add(f"2. Sustained answers: {n:,} rating clicks over HTTP, SQLite", rows)


STALL_S = 200.0  # no new DM for this long: the rest will not come (the tick retries each 60 s)


async def wait_delivered(
    control: Control, users: list[str], deadline_s: float, started: float, first_s: float
) -> tuple[float | None, dict[str, int]]:
    """Poll the stub until every user has a DM; seconds from `started` (None: gave up).

    Gives up at `deadline_s`, or STALL_S after the last new DM; the first DM may take up to
    `first_s` (the bot looks every teammate up before it sends any).
    """
    counts: dict[str, int] = {}
    last, moved = 0, time.perf_counter() + first_s
    while time.perf_counter() - started < deadline_s and time.perf_counter() - moved < STALL_S:
        counts = (await control.post("/dm_counts", {"users": users}))["counts"]
        arrived = sum(1 for v in counts.values() if v)
        if arrived != last:
            last, moved = arrived, time.perf_counter()
            log(f"    {arrived:,}/{len(users):,} DMs after {time.perf_counter() - started:.0f} s")
        if arrived == len(users):
            return time.perf_counter() - started, counts
        await asyncio.sleep(1.0)
    return None, counts


async def fanout_case(
    stage: Stage, label: str, commands: list[list[str]], report_rows: list[str]
) -> None:
    """Send the `/checkin`s (one per member list) at once; check every DM arrived once."""
    members = [u for group in commands for u in group]
    await stage.control.post("/ratelimit", {"on": True})
    before = await stage.control.stats()
    requests = ab.Requests(str(stage.stub.info["base"]))
    texts = [
        f"{ACCOUNT} call " + " ".join(f"<@{u}|{u.lower()}>" for u in group) + " fan-out"
        for group in commands
    ]
    builds = [requests.command("/checkin", text) for text in texts]

    def build(i: int) -> tuple[bytes, str]:
        return builds[i](i)

    log(f"  {label}: {len(commands)} /checkin for {len(members):,} teammates")
    started = time.perf_counter()
    run = await ab.load(stage.bot.url, len(commands), len(commands), build)
    # Calls these teammates need at the least: users.list pages naming them (200 a page) and
    # one chat.postMessage each (to the user id: no conversations.open).
    design = {"users.list": -(-len(members) // 200), "chat.postMessage": len(members)}
    bound = (await stage.control.post("/bound", {"calls": design}))["bound_s"]
    lookups = await stage.control.post("/bound", {"calls": {"users.list": design["users.list"]}})
    took, counts = await wait_delivered(
        stage.control, members, 3 * bound + 600, started, 1.5 * lookups["bound_s"] + 60
    )
    summaries_at = None
    # A /checkin naming many says first that its DMs are coming, then that they are out.
    from handlers.flows import PROGRESS_ABOVE

    answers = sum(2 if len(group) > PROGRESS_ABOVE else 1 for group in commands)
    while time.perf_counter() - started < (took or 0) + 120:
        stats = await stage.control.stats()
        if stats["responses"] - before["responses"] >= answers:
            summaries_at = time.perf_counter() - started
            break
        await asyncio.sleep(0.5)
    after = await stage.control.stats()
    await stage.control.post("/ratelimit", {"on": False})
    calls = diff(after["ok"], before["ok"])
    failed = diff(after["failed"], before["failed"])
    rate_limited = limited(failed)
    other_failed = {k: v for k, v in failed.items() if not k.endswith(": ratelimited")}
    shown = ("users.info", "users.list", "conversations.open", "chat.postMessage")
    made = {m: calls.get(m, 0) + rate_limited.get(m, 0) for m in shown}
    bound_made = (
        await stage.control.post("/bound", {"calls": {m: calls.get(m, 0) for m in shown}})
    )["bound_s"]
    missing = [u for u, v in counts.items() if v == 0]
    twice = [u for u, v in counts.items() if v > 1]
    with contextlib.closing(sqlite3.connect(stage.db_path, timeout=30)) as conn:
        placeholders = ",".join("?" * len(members))
        row = conn.execute(
            "SELECT count(*), sum(dm_ts IS NOT NULL), sum(delivery_error IS NOT NULL) "
            f"FROM checkins WHERE user_id IN ({placeholders})",
            members,
        ).fetchone()
    report_rows.append(
        f"| {label} | {len(members):,} | {ms(run.pct(0.99))} "
        f"| {f'{took:.0f}' if took else 'not all'} | {bound_made:.0f} "
        f"| {len(members) - len(missing):,} | {len(missing)} | {len(twice)} "
        f"| {sum(rate_limited.values()):,} "
        f"| {', '.join(f'{k} {v:,}' for k, v in sorted(rate_limited.items())) or '–'} "
        f"| {', '.join(f'{k} {v:,}' for k, v in sorted(made.items()))} "
        f"| {row[0]:,} / {row[1] or 0:,} / {row[2] or 0:,} "
        f"| {f'{summaries_at:.0f}' if summaries_at else 'no'} |"
    )
    notes = []
    if other_failed:
        notes.append(f"other failed calls: {dict(other_failed)}")
    if after["violations"] > before["violations"]:
        notes.append(
            f"{after['violations'] - before['violations']} Block Kit violations, e.g. "
            f"{after['violation_samples'][:1]}"
        )
    if run.bad:
        notes.append(f"bad acks: {dict(run.bad)}")
    if notes:
        stage.notes.append(f"{label}: {'; '.join(notes)}")


async def part_fanout(stage: Stage, sizes: Sizes, report: Report) -> None:
    log("part 3: fan-out against Slack's rate limits")
    one = [u[0] for u in people("FAN", sizes.fanout_one)]
    k, m = sizes.fanout_many
    many_people = people("FBN", k * m)
    await stage.control.post("/users", {"users": people("FAN", sizes.fanout_one)})
    await stage.control.post("/users", {"users": many_people})
    rows = [
        "| case | teammates | ack p99 (ms) | all DMs in (s) | rate-limit bound (s) | DMs "
        "arrived | missing | twice | 429s | 429s by method | calls made (incl. 429) "
        "| check-ins stored / delivered / failed | summary back (s) |",
        "|" + " --- |" * 13,
    ]
    await fanout_case(stage, f"one `/checkin` × {len(one):,}", [one], rows)
    groups = [[u[0] for u in many_people[i * m : (i + 1) * m]] for i in range(k)]
    await fanout_case(stage, f"{k} `/checkin`s × {m} at once", groups, rows)
    stage.snapshot("after fan-out")
    rows += [
        "",
        "Rate limits enforced by the stub (`bot.localslack.ratelimit`): users.info, views.* "
        "Tier 4 (100/min, burst 20), conversations.open and chat.update Tier 3 (50/min, "
        "burst 10), users.list Tier 2 (20/min, burst 5), chat.postMessage 1/s per channel "
        "(burst 3) and 300/min per workspace (burst 50). Bound: the least time the calls "
        "made can take, each method's bucket alone after its burst (the fan-out's "
        "sequential steps add up, so the real floor is higher). Check-ins "
        "stored/delivered/failed: rows in the bot's database for these teammates, with a "
        "DM ts, with a delivery error.",
    ]
    rows += [f"- {n}" for n in stage.notes]
    rows.append(f"- bot log: {ab.Bench.check_log(stage.bot.log)}")
    report.add("3. Fan-out under Slack's rate limits: check-ins", rows)


async def part_digest(workdir: Path, sizes: Sizes, report: Report) -> None:
    """The weekly digest to N channels: `trustloop tick` against the rate-limited stub."""
    from bot.sample_data import create_sample_database
    from storage import db
    from storage import digests as dq

    log(f"part 3b: the digest to {sizes.digests} channels")
    folder = workdir / "digest"
    folder.mkdir()
    stub, control = await spawn_stub(folder)
    try:
        url = f"sqlite+aiosqlite:///{folder / 'digest.db'}"
        now = datetime.now(UTC)
        summary = await create_sample_database(
            url, team_id=TEAM, accounts=200, weeks=12, team_size=20, now=now
        )
        channels = [f"C0DIG{i:04d}" for i in range(sizes.digests)]
        await control.post("/channels", {"channels": channels})
        engine = db.create_engine(url)
        try:
            async with engine.begin() as conn:
                for channel in channels:
                    await dq.save_subscription(
                        conn,
                        team_id=TEAM,
                        channel_id=channel,
                        weekday=0,
                        hour=0,
                        minute=0,
                        tz="UTC",
                        tiers=(),
                        user_id=ALICE,
                        now=now,
                    )
        finally:
            await engine.dispose()
        await control.post("/ratelimit", {"on": True})
        env = bot_env(str(stub.info["api"]), url, free_port())
        rows = [
            "| run | digests posted | channels with exactly one | missing | twice | charts "
            "| 429s (by method) | calls made (incl. 429) | took (s) | rate-limit bound (s) |",
            "|" + " --- |" * 10,
        ]
        for label in ("first tick", "second tick, same instant"):
            before = await control.stats()
            started = time.perf_counter()
            proc = await start_process(
                [*trustloop_command(), "tick", "--now", now.isoformat()],
                env,
                folder,
                folder / "tick.log",
            )
            await proc.wait()
            took = time.perf_counter() - started
            after = await control.stats()
            counts = await control.post("/channel_counts", {"channels": channels})
            calls = diff(after["ok"], before["ok"])
            failed = diff(after["failed"], before["failed"])
            rl = limited(failed)
            made = {k: calls.get(k, 0) + rl.get(k, 0) for k in set(calls) | set(rl)}
            bound = (await control.post("/bound", {"calls": dict(calls)}))["bound_s"]
            digests = counts["digests"]
            rows.append(
                f"| {label} | {calls.get('chat.postMessage', 0)} "
                f"| {sum(1 for v in digests.values() if v == 1)} "
                f"| {sum(1 for v in digests.values() if v == 0)} "
                f"| {sum(1 for v in digests.values() if v > 1)} "
                f"| {sum(counts['files'].values())} "
                f"| {sum(rl.values())} ({by_method(rl)}) "
                f"| {', '.join(f'{k} {v}' for k, v in sorted(made.items()))} "
                f"| {took:.1f} | {bound:.0f} |"
            )
        with contextlib.closing(sqlite3.connect(folder / "digest.db")) as conn:
            statuses = dict(
                conn.execute("SELECT status, count(*) FROM digest_posts GROUP BY status").fetchall()
            )
        rows += [
            "",
            f"- sample workspace: {summary.accounts} accounts, {summary.checkins:,} check-ins, "
            f"{summary.promises:,} promises over 12 weeks; digest_posts rows by status: "
            f"{statuses}. `took` includes starting `trustloop tick` (imports, migrations check).",
        ]
        report.add(
            f"3b. Fan-out under Slack's rate limits: the digest to {sizes.digests} channels", rows
        )
    finally:
        await control.close()
        await stub.stop()


async def part_startup(workdir: Path, sizes: Sizes, report: Report) -> None:
    log("part 5: startup to the first answered request")
    folder = workdir / "startup"
    folder.mkdir()
    stub, control = await spawn_stub(folder)
    results: dict[str, list[float]] = {"migrated": [], "blank": [], "bare": []}
    try:
        from storage import db

        migrated = folder / "migrated.db"
        engine = db.create_engine(f"sqlite+aiosqlite:///{migrated}")
        await db.upgrade(engine)
        await engine.dispose()
        for i in range(sizes.startups):
            copy = folder / f"m{i}.db"
            shutil.copy(migrated, copy)
            for kind, path in (("migrated", copy), ("blank", folder / f"b{i}.db")):
                server, took = await spawn_trustloop(
                    folder, stub, f"sqlite+aiosqlite:///{path}", folder / f"{kind}{i}.log"
                )
                results[kind].append(took)
                await server.stop()
            server, took = await spawn_bare(folder, stub, folder / f"bare{i}.log")
            results["bare"].append(took)
            await server.stop()
    finally:
        await control.close()
        await stub.stop()
    rows = [
        "| process | database | runs | median (s) | min (s) | max (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, label, dbl in (
        ("migrated", "`trustloop run`", "migrated"),
        ("blank", "`trustloop run`", "blank (migrations run first)"),
        ("bare", "bare Bolt app", "–"),
    ):
        v = results[kind]
        rows.append(
            f"| {label} | {dbl} | {len(v)} | {statistics.median(v):.2f} | {min(v):.2f} "
            f"| {max(v):.2f} |"
        )
    rows += [
        "",
        "From spawning the process to the first signed `/checkin` answered 200 (polled every "
        "10 ms): interpreter start, imports, settings, database (migrations), scheduler, "
        "listening, then Bolt's first request (which calls auth.test).",
    ]
    report.add("5. Startup: `trustloop run` to the first answered request", rows)


def memory_table(stage: Stage) -> list[str]:
    rows = [
        "| process | when | RSS (MiB) | peak RSS so far (MiB) |",
        "| --- | --- | --- | --- |",
    ]
    for kind, label, rss, peak in stage.memory:
        name = "`trustloop run`" if kind == "bot" else "bare Bolt app"
        rows.append(f"| {name} | {label} | {rss:.1f} | {peak:.1f} |")
    return rows


# ---------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    import slack_bolt.version

    global EXPERIMENT
    EXPERIMENT = args.experiment
    sizes = QUICK if args.quick else FULL
    if args.answers:
        sizes.answers = args.answers
    if args.fanout:
        sizes.fanout_one = args.fanout
    if args.fanout_many:
        sizes.fanout_many = (args.fanout_many[0], args.fanout_many[1])
    load_before = ab._load_average()
    started = time.perf_counter()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="trustloop-bench-") as tmp:
        workdir = Path(tmp)
        if "ack" in args.parts:
            await part_ack(sizes, report)
        if {"sustained", "fanout"} & set(args.parts):  # fan-out reuses sustained's bot
            stage = await open_stage(workdir)
            try:
                await part_sustained(stage, sizes, report, clicks="sustained" in args.parts)
                if "fanout" in args.parts:
                    await part_fanout(stage, sizes, report)
                report.add(
                    "4. Memory: resident set of `trustloop run` and the bare app",
                    [
                        *memory_table(stage),
                        "",
                        "VmRSS from /proc; idle is 2 s after the first answer. The bare app "
                        "serves the same clicks (part 2) and nothing else. The bot's peak "
                        "follows the answers acknowledged but not yet stored (each holds its "
                        "parsed request and listener, tens of KiB), and what the allocators "
                        "keep afterwards is not given back to the system; "
                        "`bench/memory_probe.py` breaks it down.",
                    ],
                )
            finally:
                for server in (stage.bare, stage.bot):
                    if server is not None:
                        await server.stop()
                await stage.control.close()
                await stage.stub.stop()
        if "digest" in args.parts:
            await part_digest(workdir, sizes, report)
        if "startup" in args.parts:
            await part_startup(workdir, sizes, report)
    header = [
        f"## trustloop benchmarks{' (quick)' if args.quick else ''}",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.node()} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()} · slack_bolt {slack_bolt.version.__version__} · "
        f"aiohttp {aiohttp.__version__} · load average before {load_before}, after "
        f"{ab._load_average()} · took {(time.perf_counter() - started) / 60:.0f} min · "
        f"`{' '.join(['bench/run_all.py', *sys.argv[1:]])}`",
    ]
    print("\n\n".join(["\n".join(header), *report.sections]))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve-stub", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="which parts (fanout runs after sustained, which starts its servers)",
    )
    parser.add_argument("--answers", type=int, default=0, help="sustained answers (part 2)")
    parser.add_argument("--fanout", type=int, default=0, help="teammates of the big /checkin")
    parser.add_argument(
        "--experiment",
        choices=("none", "fifo-writes"),
        default="none",
        help="a change tried on the bot from the outside (see bench/experiments.py)",
    )
    parser.add_argument(
        "--fanout-many", type=int, nargs=2, metavar=("K", "M"), help="K /checkins of M at once"
    )
    args = parser.parse_args(argv)
    if args.serve_stub:
        asyncio.run(serve_stub())
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
