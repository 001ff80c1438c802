"""Ack benchmark: the real trustloop bot against a bare Bolt app, side by side, one run.

    .venv/bin/python bench/ack_bench.py          # full run: about 3 minutes on 2 idle cores
    .venv/bin/python bench/ack_bench.py --n1 300 --n50 2000 --modes ack-signal  # bigger, longer
    .venv/bin/python bench/ack_bench.py --experiment fifo-writes  # see bench/experiments.py
    make bench                 # part 1 of bench/run_all.py, then the other parts and digests

It prints progress on stderr and one Markdown report on stdout (the table, memory, checks).

What it measures. Slack waits 3 seconds for an app to acknowledge a slash command or a
button click (the HTTP response to its POST); trustloop's targets are throughput at least
0.8x a bare Bolt app's, p99 at most 1.5x the bare app's, and far under 3 s. For each
scenario, at 1 and at 50 concurrent clients, the same load generator posts Slack-signed
requests (built with `bot.localslack.requests`) over real HTTP on loopback to two servers:

- bare: a Bolt AsyncApp whose `/checkin` and `/promise` listeners and one `block_actions`
  listener (the rating buttons' action ids) only `ack()`, served by the same aiohttp shape
  as `bot.runner.build_web_app` (to_bolt_request -> async_dispatch -> to_aiohttp_response,
  no access log);
- bot: the real bot, `bot.app.build_app` + `bot.runner.HttpRunner` (`build_web_app`), on a
  migrated temporary SQLite file, with structured INFO logging as `trustloop run` has
  (written to a file), against the local Slack stub `bot.localslack.server.SlackStub`.

Scenarios: `/checkin Acme call <@UBOB|bob> note` (after the ack the bot logs the
interaction, opens the caller's check-in modal with the trigger id and DMs the teammate);
a click on a check-in's `4 · good` button, every click a first click on a real pending
check-in (the DMs the /checkin runs sent, taken from the stub; the bare app gets the very
same payloads); and `/promise Acme send the deck by friday`. Latency is the time from
sending the request to reading the whole HTTP response, i.e. Slack's ack; throughput is
requests / wall time of the run. Every ack is checked: HTTP 200 with an empty body (the
happy path of all three), anything else is counted in the "bad acks" column (an HTTP 404 is
Bolt giving up after 3 s without an ack, which Slack shows the user as a failure).

Sizes: by default 150 requests per scenario at c=1 and 300 at c=50 (`--n1`, `--n50`). The
bot's follow-up work costs tens of ms of CPU per /checkin or click and is waited for
before the next run, so 2,000 a scenario at c=50 takes minutes; with 150 samples p99 is
the second-worst one.

The bot keeps working after the ack; "done (s)" is when the stub has seen the last piece
of follow-up work of the run (the summary to the response_url, or the DM updated to
show the answer after a click), from the start of the run, and "CPU ms/req" is the server
process's CPU time over the run and that follow-up, per request. Each mode ends with
checks: the rows in the database against the requests acknowledged (interactions,
answers, promises), the stub's failed Web API calls (an `expired_trigger_id` is a modal
that opened more than 3 s after the command) and Block Kit violations, and the errors and
warnings in the bot's log.

Ack modes (each a fresh set of processes and a fresh database; both apps the same way):

- ack-signal: how the bot ships. `bot.runner.AckSignallingRunner` (installed by
  `bot.app.build_app`, and here on the bare app too) hands each listener an ack that signals
  the runner, which returns the HTTP response the moment ack() is called; the listener runs
  on after it exactly as under Bolt's runner, so nothing more runs before the ack.
- bolt-default: Bolt's own AsyncioListenerRunner (`process_before_response=False`), put
  back on the bot for comparison: it starts the listener as a task and polls `ack.response`
  every 10 ms (`await asyncio.sleep(0.01)`), so no ack can leave before ~10 ms, and the
  polls of 50 requests in flight cost event-loop time. (Plain `process_before_response=True`
  would hold the ack until the DMs and modal were done, which is not honest.)

Processes: the stub, the bare app and the bot each run in their own subprocess
(`--serve stub|bare|bot PORT`, started by this script), so each server's RSS (VmRSS from
/proc/<pid>/status, idle before the first request and after the runs, and the peak VmHWM)
and CPU time are its own; the load generator is this process. The stub accepts the
benchmark's trigger ids (issued at send time, and still expiring 3 s after it, as Slack's
do) and response_urls without a round trip. The machine is shared: the load average
before and after is printed with the table; rerun when it is high.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
TEAM = "T0001"
ALICE, BOB = "UALICE", "UBOB"
CHANNEL = "C1"
ACCOUNTS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli")
CHECKIN_TEXT = f"Acme call <@{BOB}|bob> note"
PROMISE_TEXT = "Acme send the deck by friday"
RATE_ACTION = "checkin_rate_4"
RATE_PATTERN = re.compile(r"^checkin_rate_[1-5]$")
EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024
ACK_LIMIT_S = 3.0
FAR_UNDER_MS = 300.0  # "far under 3 s": at most a tenth of Slack's limit
MODES = ("ack-signal", "bolt-default")
WARMUP = 20
DRAIN_LIMIT_S = 120.0
QUIET_S = 6.0
SCRIPT = str(Path(__file__).resolve())


# ---------------------------------------------------------------------------- ack modes


def use_polling_runner(app: Any) -> None:
    """Put Bolt's own AsyncioListenerRunner back (it polls for ack() every 10 ms)."""
    from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner

    current = app.listener_runner
    app._async_listener_runner = AsyncioListenerRunner(
        logger=current.logger,
        process_before_response=current.process_before_response,
        listener_error_handler=current.listener_error_handler,
        listener_start_handler=current.listener_start_handler,
        listener_completion_handler=current.listener_completion_handler,
        lazy_listener_runner=current.lazy_listener_runner,
    )


def set_ack_mode(app: Any, mode: str) -> None:
    """Both apps get the same runner: Bolt's polling one, or the bot's AckSignallingRunner."""
    from bot.runner import AckSignallingRunner, use_ack_signal

    if mode == "ack-signal" and not isinstance(app.listener_runner, AckSignallingRunner):
        use_ack_signal(app)
    elif mode == "bolt-default":
        use_polling_runner(app)


# ---------------------------------------------------------------------------- servers


def _web_shape(app: Any) -> web.Application:
    """The same aiohttp shape as bot.runner.build_web_app, for the bare app."""
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_post(EVENTS_PATH, slack_events)
    return web_app


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _ready(**info: Any) -> None:
    print(json.dumps({"pid": os.getpid(), **info}), flush=True)


async def serve_bare(port: int, mode: str, api_url: str) -> None:
    """A Bolt AsyncApp whose listeners only ack, served like the bot."""
    import logging

    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=api_url),
        signing_secret=SECRET,
        process_before_response=False,
    )

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    app.command("/checkin")(only_ack)
    app.command("/promise")(only_ack)
    app.action(RATE_PATTERN)(only_ack)
    set_ack_mode(app, mode)
    runner = web.AppRunner(_web_shape(app), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    _ready(url=f"http://127.0.0.1:{runner.addresses[0][1]}{EVENTS_PATH}")
    await _until_stopped()
    await runner.cleanup()


async def serve_bot(
    port: int, mode: str, api_url: str, db_path: str, experiment: str = "none"
) -> None:
    """The real bot over HTTP on a migrated SQLite file, against the stub."""
    import experiments

    from bot.app import build_app
    from bot.config import Settings
    from bot.logs import setup_logging
    from bot.runner import HttpRunner
    from bot.services import Services
    from bot.slack import build_client
    from storage import db

    experiments.apply(experiment)
    setup_logging("INFO", (TOKEN, SECRET))
    url = f"sqlite+aiosqlite:///{db_path}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=SECRET,  # type: ignore[arg-type]
        slack_app_token=None,
        slack_api_url=api_url,
        database_url=url,
    )
    engine = db.create_engine(url)
    await db.upgrade(engine)
    svc = Services(engine=engine, client=build_client(TOKEN, api_url), settings=settings)
    app = build_app(svc, signing_secret=SECRET)
    set_ack_mode(app, mode)
    runner = HttpRunner(app, engine, host="127.0.0.1", port=port)
    await runner.start()
    bound = runner.runner.addresses[0][1]
    _ready(url=f"http://127.0.0.1:{bound}{EVENTS_PATH}")
    await _until_stopped()
    await runner.close()
    await engine.dispose()


def _bench_stub_class() -> Any:
    from aiohttp.web import Request, Response

    from bot.localslack.server import SlackError, SlackStub

    class BenchStub(SlackStub):
        """The local Slack stub, taking the load generator's trigger ids and response_urls.

        A trigger id `b<ms since epoch>.<n>.<hex>` counts as issued at that instant (so it
        still expires 3 s later); a response_url token starting `bench-` is accepted. Calls
        are also counted as they come, for cheap progress polling.
        """

        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.ok: Counter[str] = Counter()
            self.failed: Counter[str] = Counter()

        def _consume_trigger(self, trigger_id: Any) -> None:
            if (
                isinstance(trigger_id, str)
                and trigger_id not in self._triggers
                and (found := re.match(r"^b(\d{13})\.\d+\.[0-9a-f]+$", trigger_id))
            ):
                age = max(0.0, time.time() - int(found.group(1)) / 1000)
                self._triggers[trigger_id] = self._clock() - age
            if not isinstance(trigger_id, str) or trigger_id not in self._triggers:
                raise SlackError("invalid_trigger_id")
            super()._consume_trigger(trigger_id)

        async def _handle_response_url(self, request: Request) -> Response:
            token = request.match_info["token"]
            if token.startswith("bench-"):
                self._response_tokens.add(token)
            return await super()._handle_response_url(request)

        def _reply(
            self,
            method: str,
            args: dict[str, Any],
            body: dict[str, Any],
            status: int = 200,
            headers: dict[str, str] | None = None,
        ) -> Response:
            if body.get("ok") is True:
                self.ok[method] += 1
            else:
                self.failed[f"{method}: {body.get('error')}"] += 1
            return super()._reply(method, args, body, status, headers)

    return BenchStub


async def serve_stub(port: int) -> None:
    """The Slack stub, plus a small control app for the load generator."""
    stub = _bench_stub_class()(bot_token=TOKEN, team_id=TEAM, bot_user_id="UBOT")
    stub.add_user(ALICE, name="alice", tz="Europe/Helsinki")
    stub.add_user(BOB, name="bob", tz="America/New_York")
    stub.add_channel(CHANNEL, name="general", members=[ALICE, BOB])
    await stub.start()

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": dict(stub.ok),
                "failed": dict(stub.failed),
                "responses": len(stub.responses),
                "violations": len(stub.violations),
            }
        )

    async def pending(request: web.Request) -> web.Response:
        user = request.query["user"]
        channel = stub.dm_channel_for(user)
        found = [
            {**m, "channel": channel}
            for m in stub.messages(channel)
            if any(b.get("type") == "actions" for b in m["blocks"])
        ]
        return web.json_response(found)

    control = web.Application()
    control.router.add_get("/stats", stats)
    control.router.add_get("/pending", pending)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    _ready(
        base=stub.base_url,
        api=stub.api_url,
        control=f"http://127.0.0.1:{runner.addresses[0][1]}",
    )
    await _until_stopped()
    await runner.cleanup()
    await stub.stop()


# ---------------------------------------------------------------------------- processes


def _proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB (from /proc/<pid>/status)."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


@dataclass
class Server:
    """A server subprocess started by this script."""

    kind: str
    proc: asyncio.subprocess.Process
    info: dict[str, Any]
    log: Path

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def rss(self) -> dict[str, float]:
        return _proc_status(self.pid)

    def cpu(self) -> float:
        return _cpu_seconds(self.pid)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def spawn(kind: str, extra: list[str], log: Path) -> Server:
    """Start `--serve kind 0 ...` and wait for its ready line."""
    err = log.open("wb")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            SCRIPT,
            "--serve",
            kind,
            "0",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    finally:
        err.close()
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
    except TimeoutError:
        line = b""
    if not line:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise SystemExit(f"{kind} server did not start; its log was {log}")
    return Server(kind=kind, proc=proc, info=json.loads(line), log=log)


# ---------------------------------------------------------------------------- load


@dataclass
class Run:
    """One scenario on one app at one concurrency."""

    n: int
    c: int
    latencies_ms: list[float]
    wall_s: float
    bad: Counter[str]
    cpu_s: float = 0.0
    done_s: float | None = None
    missing: int = 0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    @property
    def rps(self) -> float:
        return self.n / self.wall_s


Build = Callable[[int], tuple[bytes, str]]


async def load(url: str, n: int, c: int, build: Build) -> Run:
    """N requests from c clients (each its own keep-alive connection), timed send-to-ack."""
    from bot.localslack.requests import sign

    latencies = [0.0] * n
    bad: Counter[str] = Counter()
    indices = iter(range(n))
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(c)]

    async def client(session: aiohttp.ClientSession) -> None:
        for i in indices:
            body, content_type = build(i)
            headers = {"Content-Type": content_type, **sign(body, SECRET, int(time.time()))}
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    status = resp.status
            except aiohttp.ClientError as exc:
                latencies[i] = (time.perf_counter() - started) * 1000
                bad[type(exc).__name__] += 1
                continue
            latencies[i] = (time.perf_counter() - started) * 1000
            if status != 200:
                bad[f"HTTP {status}"] += 1
            elif answer.strip():
                bad["ack with a body"] += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(s) for s in sessions))
    finally:
        wall = time.perf_counter() - started
        for session in sessions:
            await session.close()
    return Run(n=n, c=c, latencies_ms=latencies, wall_s=wall, bad=bad)


class Requests:
    """Slack-signed request bodies, built at send time (trigger ids are fresh)."""

    def __init__(self, stub_base: str) -> None:
        self.stub_base = stub_base
        self.serial = 0

    def _trigger(self) -> str:
        self.serial += 1
        return f"b{int(time.time() * 1000)}.{self.serial}.{secrets.token_hex(8)}"

    def _response_url(self) -> str:
        return f"{self.stub_base}/response/bench-{secrets.token_urlsafe(9)}"

    def command(self, command: str, text: str) -> Build:
        from bot.localslack.requests import slash_command_form

        def build(_i: int) -> tuple[bytes, str]:
            body = slash_command_form(
                command,
                text,
                team_id=TEAM,
                user_id=ALICE,
                user_name="alice",
                channel_id=CHANNEL,
                trigger_id=self._trigger(),
                response_url=self._response_url(),
            )
            return body, "application/x-www-form-urlencoded"

        return build

    def clicks(self, messages: list[dict[str, Any]]) -> Build:
        from bot.localslack.requests import block_actions_payload

        def build(i: int) -> tuple[bytes, str]:
            message = messages[i]
            actions = next(b for b in message["blocks"] if b.get("type") == "actions")
            button = next(e for e in actions["elements"] if e.get("action_id") == RATE_ACTION)
            payload = block_actions_payload(
                team_id=TEAM,
                user_id=BOB,
                user_name="bob",
                action_id=RATE_ACTION,
                block_id=actions["block_id"],
                value=button["value"],
                trigger_id=self._trigger(),
                response_url=self._response_url(),
                container={
                    "type": "message",
                    "message_ts": message["ts"],
                    "channel_id": message["channel"],
                    "is_ephemeral": False,
                },
                message={k: v for k, v in message.items() if k != "channel"},
                channel_id=message["channel"],
            )
            body = urlencode({"payload": json.dumps(payload)}).encode()
            return body, "application/x-www-form-urlencoded"

        return build


# ---------------------------------------------------------------------------- the run


@dataclass
class Row:
    mode: str
    scenario: str
    c: int
    bare: Run
    bot: Run


@dataclass
class Phase:
    """One ack mode: its rows, memory figures and checks."""

    mode: str
    rows: list[Row] = field(default_factory=list)
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Bench:
    def __init__(
        self,
        workdir: Path,
        n1: int,
        n50: int,
        concurrency: tuple[int, int],
        experiment: str = "none",
    ) -> None:
        self.experiment = experiment
        self.workdir = workdir
        self.sizes = {concurrency[0]: n1, concurrency[1]: n50}
        self.concurrency = concurrency
        self.control = ""

    async def stats(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.control}/stats") as resp,
        ):
            data: dict[str, Any] = await resp.json()
            return data

    async def pending(self, user: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.control}/pending", params={"user": user}) as resp,
        ):
            data: list[dict[str, Any]] = await resp.json()
            return data

    async def progress(self, metric: str) -> int:
        data = await self.stats()
        if metric == "responses":
            return int(data["responses"])
        return int(data["ok"].get(metric, 0))

    async def wait_for(self, metric: str, target: int, started: float) -> tuple[float, int]:
        """Seconds from `started` until the stub's `metric` reached `target`, and the shortfall.

        Gives up when nothing has moved for QUIET_S (longer than the bot's 5 s SQLite busy
        timeout): work that failed never arrives, and the run says how much is missing.
        """
        deadline = time.perf_counter() + DRAIN_LIMIT_S
        seen, moved = -1, time.perf_counter()
        while True:
            now_seen = await self.progress(metric)
            now = time.perf_counter()
            if now_seen >= target:
                return now - started, 0
            if now_seen != seen:
                seen, moved = now_seen, now
            if now - moved > QUIET_S or now > deadline:
                return moved - started, target - now_seen
            await asyncio.sleep(0.02)

    async def measure(self, server: Server, n: int, c: int, build: Build, metric: str) -> Run:
        """One run; for the bot also wait until its follow-up work is done."""
        before = await self.progress(metric) if server.kind == "bot" else 0
        cpu = server.cpu()
        started = time.perf_counter()
        run = await load(server.url, n, c, build)
        if server.kind == "bot":
            run.done_s, run.missing = await self.wait_for(metric, before + n, started)
        run.cpu_s = server.cpu() - cpu
        return run

    async def phase(self, mode: str) -> Phase:
        result = Phase(mode=mode)
        folder = self.workdir / mode
        folder.mkdir()
        stub = await spawn("stub", [], folder / "stub.log")
        servers: list[Server] = [stub]
        try:
            self.control = str(stub.info["control"])
            api = str(stub.info["api"])
            bare = await spawn("bare", ["--mode", mode, "--slack-api", api], folder / "bare.log")
            servers.append(bare)
            db_path = folder / "trustloop.db"
            options = ["--mode", mode, "--slack-api", api, "--db", str(db_path)]
            options += ["--experiment", self.experiment]
            bot = await spawn("bot", options, folder / "bot.log")
            servers.append(bot)
            await asyncio.sleep(0.5)
            idle = {s.kind: s.rss()["VmRSS"] for s in (bare, bot)}
            sent = await self.run_phase(result, bare, bot, Requests(str(stub.info["base"])))
            for s in (bare, bot):
                now = s.rss()
                result.memory[s.kind] = {
                    "idle": idle[s.kind],
                    "after": now["VmRSS"],
                    "peak": now["VmHWM"],
                    "cpu": s.cpu(),
                }
            stats = await self.stats()
            failed = {k: v for k, v in stats["failed"].items() if not k.startswith("auth.test")}
            result.notes.append(
                f"stub: {sum(stats['ok'].values()):,} Web API calls ok, "
                + (
                    "failed: " + ", ".join(f"{k} x{v}" for k, v in sorted(failed.items()))
                    if failed
                    else "none failed"
                )
                + f"; {stats['violations']} Block Kit limit violations"
            )
            await bot.stop()
            result.notes.append(self.check_database(db_path, sent))
            result.notes.append(self.check_log(bot.log))
        finally:
            for s in reversed(servers):
                await s.stop()
        return result

    async def run_phase(
        self, result: Phase, bare: Server, bot: Server, requests: Requests
    ) -> dict[str, int]:
        """Set up accounts, warm up, then every scenario x concurrency on both apps."""
        sent = {"checkin": 0, "click": 0, "promise": 0}
        setup = Counter[str]()
        for name in ACCOUNTS:
            build = requests.command("/trust", f"account add {name} tier A value 120k")
            run = await load(bot.url, 1, 1, build)
            setup.update(run.bad)
        await self.wait_for("responses", len(ACCOUNTS), time.perf_counter())
        if setup:
            result.notes.append(f"account set-up answers: {dict(setup)}")
        # Warm-up: both apps see every kind of request before anything is measured.
        for server in (bare, bot):
            await self.measure(
                server, WARMUP, 4, requests.command("/checkin", CHECKIN_TEXT), "responses"
            )
            if server is bot:
                sent["checkin"] += WARMUP
            clicks = (await self.pending(BOB))[:WARMUP]
            await self.measure(server, len(clicks), 4, requests.clicks(clicks), "chat.update")
            if server is bot:
                sent["click"] += len(clicks)
            await self.measure(
                server, WARMUP, 4, requests.command("/promise", PROMISE_TEXT), "responses"
            )
            if server is bot:
                sent["promise"] += WARMUP
        for c in self.concurrency:
            n = self.sizes[c]
            for scenario in ("checkin", "click", "promise"):
                if scenario == "checkin":
                    label, metric = "`/checkin` (modal + DM after the ack)", "responses"
                    build = requests.command("/checkin", CHECKIN_TEXT)
                    count = n
                elif scenario == "click":
                    label, metric = "rating click, first click", "chat.update"
                    messages = await self.pending(BOB)
                    if len(messages) < n:
                        result.notes.append(
                            f"only {len(messages)} pending check-ins for {n} clicks at c={c}"
                        )
                    messages = messages[:n]
                    build, count = requests.clicks(messages), len(messages)
                else:
                    label, metric = "`/promise`", "responses"
                    build = requests.command("/promise", PROMISE_TEXT)
                    count = n
                runs = {}
                for server in (bare, bot):
                    runs[server.kind] = await self.measure(server, count, c, build, metric)
                    print(
                        f"  {result.mode:12} c={c:<3} {scenario:8} {server.kind:4} "
                        f"p50 {runs[server.kind].pct(0.5):7.1f} ms  "
                        f"p99 {runs[server.kind].pct(0.99):7.1f} ms  "
                        f"{runs[server.kind].rps:7.0f} req/s",
                        file=sys.stderr,
                        flush=True,
                    )
                sent[scenario] += count
                result.rows.append(Row(result.mode, label, c, runs["bare"], runs["bot"]))
        return sent

    @staticmethod
    def check_database(db_path: Path, sent: dict[str, int]) -> str:
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            interactions = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]
            answered = conn.execute(
                "SELECT count(*) FROM checkins WHERE status = 'answered' AND user_id = ?", (BOB,)
            ).fetchone()[0]
            promises = conn.execute("SELECT count(*) FROM promises").fetchone()[0]
        ok = (interactions, answered, promises) == (sent["checkin"], sent["click"], sent["promise"])
        return (
            f"database {'complete' if ok else 'INCOMPLETE'}: interactions {interactions:,}/"
            f"{sent['checkin']:,}, answers {answered:,}/{sent['click']:,}, "
            f"promises {promises:,}/{sent['promise']:,} (stored/acknowledged, warm-up included)"
        )

    @staticmethod
    def check_log(log: Path) -> str:
        levels: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        for line in log.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                levels["unparsed"] += 1
                continue
            level = str(record.get("level"))
            levels[level] += 1
            if level in ("warning", "error", "critical"):
                cause = [
                    line
                    for line in str(record.get("exc") or "").splitlines()
                    if re.match(r"^[\w.]+(Error|Exception)\b.*:", line)
                ][-1:]
                msg = (str(record.get("msg")).splitlines() or [""])[0][:100]
                messages[f"{level}: {msg}" + (f" [{cause[0][:160]}]" if cause else "")] += 1
        worst = "; ".join(f"{m} x{k}" for m, k in messages.most_common(3))
        return (
            f"bot log: {levels['error'] + levels['critical']} errors, "
            f"{levels['warning']} warnings" + (f" ({worst})" if worst else "")
        )


# ---------------------------------------------------------------------------- report


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _verdict(row: Row) -> str:
    throughput = row.bot.rps / row.bare.rps
    p99 = row.bot.pct(0.99) / row.bare.pct(0.99)
    marks = [
        ("thr", throughput >= 0.8),
        ("p99", p99 <= 1.5),
        ("≪3s", row.bot.pct(0.99) <= FAR_UNDER_MS),
    ]
    return " ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in marks)


def report(phases: list[Phase], header: list[str]) -> str:
    lines = [*header, ""]
    lines.append(
        "| ack mode | scenario | c | n | bare p50 | bare p99 | bare req/s | bot p50 | bot p99 "
        "| bot req/s | req/s bot/bare | p99 bot/bare | targets | bad acks bare/bot "
        "| bot done (s) | CPU ms/req bare/bot |"
    )
    lines.append("|" + " --- |" * 16)
    for phase in phases:
        for row in phase.rows:
            bad = f"{sum(row.bare.bad.values())}/{sum(row.bot.bad.values())}"
            done = f"{row.bot.done_s or 0:.1f}"
            if row.bot.missing:
                done += f" ({row.bot.missing} never)"
            cpu = f"{row.bare.cpu_s * 1000 / row.bare.n:.1f}/{row.bot.cpu_s * 1000 / row.bot.n:.1f}"
            lines.append(
                f"| {row.mode} | {row.scenario} | {row.c} | {row.bot.n:,} "
                f"| {_ms(row.bare.pct(0.5))} | {_ms(row.bare.pct(0.99))} | {row.bare.rps:,.0f} "
                f"| {_ms(row.bot.pct(0.5))} | {_ms(row.bot.pct(0.99))} | {row.bot.rps:,.0f} "
                f"| {row.bot.rps / row.bare.rps:.2f} "
                f"| {row.bot.pct(0.99) / row.bare.pct(0.99):.2f} "
                f"| {_verdict(row)} | {bad} | {done} | {cpu} |"
            )
    lines += [
        "",
        "Latency in ms, send to HTTP response (Slack's ack). Targets: throughput ≥ 0.8x bare,",
        f"p99 ≤ 1.5x bare, p99 ≤ {FAR_UNDER_MS:.0f} ms (a tenth of Slack's 3 s).",
        "bot done: seconds from the start of the run until the stub saw the bot's last",
        "follow-up (response_url summary, or the DM updated after a click); never: follow-ups",
        "that did not come. CPU: the server process's CPU time over the run (for the bot with",
        "its follow-up) per request.",
        "",
        "| ack mode | process | RSS idle (MiB) | RSS after the runs (MiB) | peak RSS (MiB) "
        "| CPU total (s) |",
        "|" + " --- |" * 6,
    ]
    for phase in phases:
        for kind, m in phase.memory.items():
            lines.append(
                f"| {phase.mode} | {kind} | {m['idle']:.1f} | {m['after']:.1f} | {m['peak']:.1f} "
                f"| {m['cpu']:.1f} |"
            )
    lines.append("")
    for phase in phases:
        for note in phase.notes:
            lines.append(f"- {phase.mode}: {note}")
    bad_kinds: Counter[str] = Counter()
    for phase in phases:
        for row in phase.rows:
            bad_kinds.update({f"bare {k}": v for k, v in row.bare.bad.items()})
            bad_kinds.update({f"bot {k}": v for k, v in row.bot.bad.items()})
    if bad_kinds:
        lines.append("- bad acks: " + ", ".join(f"{k} x{v}" for k, v in bad_kinds.items()))
    return "\n".join(lines)


async def bench(args: argparse.Namespace) -> int:
    import slack_bolt.version

    load_before = _load_average()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ack-bench-") as tmp:
        runner = Bench(Path(tmp), args.n1, args.n50, (1, 50), args.experiment)
        phases = [await runner.phase(mode) for mode in args.modes]
    header = [
        f"ack benchmark · {time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.node()} · "
        f"{os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"slack_bolt {slack_bolt.version.__version__} · aiohttp {aiohttp.__version__}",
        f"load average (1/5/15 min) before: {load_before} · after: {_load_average()} · "
        f"run took {time.perf_counter() - started:.0f} s"
        + (f" · experiment on the bot: {args.experiment}" if args.experiment != "none" else ""),
    ]
    print(report(phases, header))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"))
    parser.add_argument("--mode", choices=MODES, default="bolt-default")
    parser.add_argument("--slack-api", default="")
    parser.add_argument("--db", default="")
    parser.add_argument("--n1", type=int, default=150, help="requests per scenario at c=1")
    parser.add_argument("--n50", type=int, default=300, help="requests per scenario at c=50")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--experiment",
        choices=("none", "fifo-writes"),
        default="none",
        help="a change tried on the bot from the outside (see bench/experiments.py)",
    )
    args = parser.parse_args(argv)
    if args.serve:
        kind, port = args.serve[0], int(args.serve[1])
        if kind == "stub":
            asyncio.run(serve_stub(port))
        elif kind == "bare":
            asyncio.run(serve_bare(port, args.mode, args.slack_api))
        elif kind == "bot":
            asyncio.run(serve_bot(port, args.mode, args.slack_api, args.db, args.experiment))
        else:
            parser.error("--serve takes stub, bare or bot")
        return 0
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
