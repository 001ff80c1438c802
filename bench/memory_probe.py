"""Memory probe: where the bot's resident memory goes while it answers rating clicks.

    .venv/bin/python bench/memory_probe.py --steps 2000 5000 10000   # RSS per checkpoint
    .venv/bin/python bench/memory_probe.py --steps 20000 --in-flight 8000   # + mid-burst
    .venv/bin/python bench/memory_probe.py --steps 3000 --tracemalloc  # + allocations (slow)
    .venv/bin/python bench/memory_probe.py --steps 10000 --wait 620  # + after ids expire
    .venv/bin/python bench/memory_probe.py --steps 20000 --gc default   # CPython's thresholds
    .venv/bin/python bench/memory_probe.py --steps 20000 --pool 5 0 300 --experiment fifo-writes

The same clicks as part 2 of `bench/run_all.py` (the first click on distinct pending
check-ins, seeded through `storage.queries`, their DMs in the stub), sent by 50 clients over
HTTP. The bot runs in a child process of this script, built as `trustloop run` builds itself
(`setup_logging`, `tune_gc`, `bot.lifecycle.serve` with explicit Settings), plus a second,
private HTTP port answering `/probe`: VmRSS/VmHWM; Python's small-object allocator
(`sys._debugmallocstats`: 1 MiB arenas held, bytes in live blocks, bytes free inside them);
glibc's heap (`mallinfo2`: in use, freed but kept); objects tracked by the collector, by
type; the collector's counts; what the bot itself holds (re-delivery ids, listener tasks
in flight, the database pool); and with `--tracemalloc`, the allocations grown since idle,
by file and by traceback.

Each checkpoint is taken once every click so far is stored and its chat.update seen, so
nothing is in flight; while the clicks go, the peak RSS and listener tasks are sampled every
0.5 s (`--in-flight N`: one full measurement once N listeners are in flight). After the last
checkpoint (and `--wait` seconds idle, then one request, which lets the re-delivery memory
forget its old ids) a full collection runs, then `malloc_trim(0)`: what comes back then was
free already (allocator high-water, not a leak). `--gc`, `--pool` and `--experiment` try
the bot with CPython's collector thresholds, other pool settings, or a change from
`bench/experiments.py`; `--code DIR` runs another checkout's bot (e.g. a `git archive`).
Progress on stderr, a Markdown report on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import ack_bench as ab  # the sibling scripts; their helpers are shared
import run_all as ra

SCRIPT = str(Path(__file__).resolve())
MiB = 1024 * 1024
QUIET_S = 15.0


# ---------------------------------------------------------------------------- in the bot


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc() -> Any:
    with contextlib.suppress(OSError):
        return ctypes.CDLL("libc.so.6")
    return None


def malloc_stats() -> dict[str, float]:
    """glibc's heap, in MiB: in use, free but kept, mmapped (empty off glibc)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return {}
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {
        "heap": info.arena / MiB,
        "in_use": info.uordblks / MiB,
        "free_kept": info.fordblks / MiB,
        "mmapped": info.hblkhd / MiB,
    }


def pymalloc_stats() -> dict[str, float]:
    """Python's small-object allocator: arenas now and at most, blocks in use and free (MiB)."""
    fields = {
        "# arenas allocated current": "arenas",
        "# arenas highwater mark": "arenas_peak",
        "# bytes in allocated blocks": "in_use",
        "# bytes in available blocks": "free_blocks",
    }
    found: dict[str, float] = {}
    with tempfile.TemporaryFile(mode="w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)  # it writes to the C-level stderr only
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        for line in out:
            key, _, value = line.partition("=")
            if key.strip() in fields:
                number = int(value.strip().replace(",", ""))
                name = fields[key.strip()]
                found[name] = number if name.startswith("arenas") else number / MiB
            elif "unused pools" in key:
                found["unused_pools"] = int(value.strip().replace(",", "")) / MiB
    return found


def proc_status() -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile (MiB) and Threads of this process."""
    found: dict[str, float] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                found[key] = int(value.split()[0]) / 1024
            elif key == "Threads":
                found[key] = int(value)
    return found


def bot_state(pool: bool = True) -> dict[str, Any]:
    """What the bot itself remembers: re-delivery ids, listener tasks, database pool."""
    from bot import redelivery
    from bot.services import Services

    state: dict[str, Any] = {"asyncio_tasks": len(asyncio.all_tasks())}
    for app, red in list(redelivery._installed.items()):
        state["redelivery_seen"] = len(red._seen)
        state["redelivery_unsaved"] = len(red._unsaved)
        state["listener_tasks"] = len(getattr(app.listener_runner, "tasks", ()))
    for obj in gc.get_objects() if pool else ():
        if isinstance(obj, Services):
            state["pool"] = obj.engine.pool.status()
            break
    return state


def objects_by_type() -> Counter[str]:
    """Objects the cyclic collector tracks, by type name (frozen ones excluded)."""
    return Counter(type(o).__qualname__ for o in gc.get_objects())


class Probe:
    """The bot process's measurement endpoint."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.baseline: Any = None
        self.types: Counter[str] | None = None

    def measure(self) -> dict[str, Any]:
        return {
            **proc_status(),
            "malloc": malloc_stats(),
            "pymalloc": pymalloc_stats(),
            "py_blocks": sys.getallocatedblocks(),
            "gc_count": list(gc.get_count()),
            "gc_stats": gc.get_stats(),
            "gc_threshold": list(gc.get_threshold()),
            "bot": bot_state(),
        }

    async def handle(self, request: web.Request) -> web.Response:
        action = request.query.get("action", "measure")
        result: dict[str, Any] = {}
        if action == "light":  # cheap enough to poll under load
            state = bot_state(pool=False)
            return web.json_response({**proc_status(), **state})
        if action == "collect":
            started = time.perf_counter()
            result["collected"] = gc.collect()
            result["collect_s"] = time.perf_counter() - started
        elif action == "trim":
            libc = _libc()
            result["trimmed"] = bool(libc.malloc_trim(0)) if libc is not None else None
        result.update(self.measure())
        types = objects_by_type()
        if self.types is None:
            self.types = types
        grown = Counter({k: v - self.types.get(k, 0) for k, v in types.items()})
        result["types_total"] = sum(types.values())
        result["types_grown"] = grown.most_common(12)
        if self.trace:
            import tracemalloc

            snapshot = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__),)
            )
            result["traced_mib"] = tracemalloc.get_traced_memory()[0] / MiB
            if self.baseline is None:
                self.baseline = snapshot
            else:
                result["grown"] = [
                    {
                        "kib": s.size_diff / 1024,
                        "count": s.count_diff,
                        "where": [f"{f.filename}:{f.lineno}" for f in s.traceback[-6:]],
                    }
                    for s in snapshot.compare_to(self.baseline, "traceback")[:15]
                ]
                result["grown_by_file"] = [
                    (str(s.traceback[0].filename), s.size_diff / 1024, s.count_diff)
                    for s in snapshot.compare_to(self.baseline, "filename")[:12]
                ]
        return web.json_response(result, dumps=lambda o: json.dumps(o, default=str))


async def _serve_bot(args: argparse.Namespace) -> None:
    from bot.config import Settings
    from bot.lifecycle import serve

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=ab.TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=ab.SECRET,  # type: ignore[arg-type]
        slack_app_token=None,
        slack_api_url=args.api,
        database_url=args.db,
        host="127.0.0.1",
        port=args.port,
    )
    probe = Probe(args.tracemalloc)
    control = web.Application()
    control.router.add_get("/probe", probe.handle)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.probe_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(settings, stop)
    finally:
        await runner.cleanup()


def use_pool(size: str, overflow: str, timeout: str) -> None:
    """Try other pool settings on the bot's engine (`--pool 5 10 30`; timeout `none`)."""
    from storage import db

    original = db.create_async_engine

    def create(url: str, **options: Any) -> Any:
        options.update(pool_size=int(size), max_overflow=int(overflow))
        options["pool_timeout"] = None if timeout == "none" else float(timeout)
        return original(url, **options)

    db.create_async_engine = create  # type: ignore[assignment]


def serve_bot(args: argparse.Namespace) -> None:
    """The bot, as `trustloop run` starts it, with the probe beside it."""
    from bot.lifecycle import tune_gc
    from bot.logs import setup_logging

    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(12)
    if args.pool:
        use_pool(*args.pool)
    if args.experiment != "none":
        import experiments

        experiments.apply(args.experiment)
    setup_logging("INFO", (ab.TOKEN, ab.SECRET))
    if args.gc == "tuned":
        tune_gc()
    asyncio.run(_serve_bot(args))


# ---------------------------------------------------------------------------- the driver


async def probe(session: aiohttp.ClientSession, url: str, action: str = "measure") -> Any:
    async with session.get(url, params={"action": action}) as resp:
        resp.raise_for_status()
        return await resp.json()


async def wait_done(
    stage: Any, db_path: Path, total: int, before: dict[str, Any]
) -> tuple[float, int]:
    """Seconds until `total` answers are stored and as many chat.updates seen; the shortfall.

    Gives up when neither count moved for QUIET_S (a failed answer never arrives).
    """
    started = moved = time.perf_counter()
    last: tuple[int, int] = (-1, -1)
    while True:
        stored = ra.db_count(db_path, "SELECT count(*) FROM checkins WHERE status = 'answered'")
        shown = ra.diff((await stage.stats())["ok"], before["ok"])["chat.update"]
        now = time.perf_counter()
        if stored >= total and shown >= total:
            return now - started, 0
        if (stored, shown) != last:
            last, moved = (stored, shown), now
        if now - moved > QUIET_S:
            return moved - started, total - stored
        await asyncio.sleep(0.3)


async def sample(
    session: aiohttp.ClientSession,
    url: str,
    peaks: dict[str, float],
    at: int = 0,
    taken: list[tuple[str, Any]] | None = None,
) -> None:
    """Every 0.5 s until cancelled: the highest RSS and work in flight seen.

    With `at`, also one full measurement (appended to `taken`) the first time at least
    that many listeners are in flight.
    """
    while True:
        m = await probe(session, url, "light")
        for key in ("VmRSS", "listener_tasks", "asyncio_tasks"):
            peaks[key] = max(peaks.get(key, 0), float(m.get(key) or 0))
        if at and taken is not None and not taken and (m.get("listener_tasks") or 0) >= at:
            full = await probe(session, url)
            taken.append((f"{full['bot'].get('listener_tasks')} in flight", full))
        await asyncio.sleep(0.5)


def row(label: str, m: dict[str, Any]) -> str:
    malloc = m.get("malloc") or {}
    py = m.get("pymalloc") or {}
    bot = m["bot"]
    free_py = py.get("free_blocks", 0) + py.get("unused_pools", 0)
    return (
        f"| {label} | {m['VmRSS']:.1f} | {m['VmHWM']:.1f} | {m['RssAnon']:.1f} "
        f"| {py.get('arenas', 0):.0f} ({py.get('arenas_peak', 0):.0f}) "
        f"| {py.get('in_use', 0):.1f} | {free_py:.1f} "
        f"| {malloc.get('in_use', 0):.1f} | {malloc.get('free_kept', 0):.1f} "
        f"| {malloc.get('mmapped', 0):.1f} | {m['py_blocks']:,} | {m['types_total']:,} "
        f"| {int(m['Threads'])} | {bot.get('redelivery_seen', '–')} "
        f"| {bot.get('listener_tasks', '–')} | {bot.get('asyncio_tasks', '–')} |"
    )


async def drive(args: argparse.Namespace) -> int:
    steps = sorted(args.steps)
    n = steps[-1]
    load_before = ab._load_average()
    with tempfile.TemporaryDirectory(prefix="memory-probe-") as tmp:
        workdir = Path(args.keep or tmp)
        os.makedirs(workdir, exist_ok=True)
        stub, control = await ra.spawn_stub(workdir)
        bot: Any = None
        try:
            db_path = workdir / "trustloop.db"
            db_url = f"sqlite+aiosqlite:///{db_path}"
            users = ra.people("ANS", max(1, n // 20))
            ra.log(f"seeding {n:,} pending check-ins for {len(users):,} people")
            await control.post("/users", {"users": users})
            pending = await ra.seed_pending(db_url, [u[0] for u in users], 20)
            for start in range(0, len(pending), 500):
                batch = pending[start : start + 500]
                posted = await control.post(
                    "/seed",
                    {"messages": [{k: m[k] for k in ("user", "text", "blocks")} for m in batch]},
                )
                for m, p in zip(batch, posted["posted"], strict=True):
                    m.update(p)
            await ra.record_deliveries(db_url, pending)
            order = sorted(range(len(pending)), key=lambda i: (i % len(users), i))
            messages = [pending[i] for i in order][:n]

            port, probe_port = ra.free_port(), ra.free_port()
            command = [sys.executable, SCRIPT, "--serve-bot", "--api", str(stub.info["api"])]
            command += ["--db", db_url, "--port", str(port), "--probe-port", str(probe_port)]
            command += ["--gc", args.gc] + (["--tracemalloc"] if args.tracemalloc else [])
            command += ["--code", args.code] if args.code else []
            command += ["--pool", *args.pool] if args.pool else []
            command += ["--experiment", args.experiment]
            proc = await ra.start_process(command, dict(os.environ), workdir, workdir / "bot.log")
            url = f"http://127.0.0.1:{port}/slack/events"
            await ra.first_answer(url, proc, str(stub.info["base"]))
            bot = ab.Server(kind="bot", proc=proc, info={"url": url}, log=workdir / "bot.log")
            probe_url = f"http://127.0.0.1:{probe_port}/probe"
            await asyncio.sleep(2)
            results: list[tuple[str, dict[str, Any]]] = []
            async with aiohttp.ClientSession() as session:
                results.append(("idle", await probe(session, probe_url)))
                requests = ab.Requests(str(stub.info["base"]))
                sent = 0
                before = await control.stats()
                for step in steps:
                    part = messages[sent:step]
                    ra.log(f"  clicks {sent + 1:,}..{step:,} at c={args.clients}")
                    peaks: dict[str, float] = {}
                    taken: list[tuple[str, Any]] = []
                    sampler = asyncio.create_task(
                        sample(session, probe_url, peaks, args.in_flight, taken)
                    )
                    t0 = time.perf_counter()
                    run = await ab.load(
                        url, len(part), args.clients, ra.click_builder(requests, part)
                    )
                    sent = step
                    _, missing = await wait_done(control, db_path, sent, before)
                    sampler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sampler
                    await asyncio.sleep(1)
                    m = await probe(session, probe_url)
                    m["ack"] = (run.pct(0.5), run.pct(0.99), run.rps, sum(run.bad.values()))
                    m["done"] = (run.wall_s, time.perf_counter() - t0 - 1, missing)
                    m["peaks"] = peaks
                    results.extend(taken)
                    results.append((f"after {step:,}", m))
                    ra.log(f"    RSS {m['VmRSS']:.1f} MiB, heap in use {m['malloc']}")
                if args.wait:
                    ra.log(f"  idle {args.wait:.0f} s (re-delivery memory expires after 600 s)")
                    await asyncio.sleep(args.wait)
                    # The re-delivery memory forgets old ids when a request comes in.
                    await ra.first_answer(url, proc, str(stub.info["base"]))
                    await asyncio.sleep(1)
                    results.append(
                        (f"+{args.wait:.0f} s idle, 1 request", await probe(session, probe_url))
                    )
                results.append(("gc.collect()", await probe(session, probe_url, "collect")))
                results.append(("malloc_trim(0)", await probe(session, probe_url, "trim")))
            lost = ab.Bench.check_log(workdir / "bot.log")
            print(report(args, results, load_before) + f"\n\n- {lost}")
        finally:
            if bot is not None:
                await bot.stop()
            await control.close()
            await stub.stop()
    return 0


def report(args: argparse.Namespace, results: list[tuple[str, dict[str, Any]]], load: str) -> str:
    lines = [
        f"## memory probe · {time.strftime('%Y-%m-%d %H:%M %Z')} · gc {args.gc}"
        f"{' · pool ' + ' '.join(args.pool) if args.pool else ''}"
        f"{' · experiment ' + args.experiment if args.experiment != 'none' else ''}"
        f"{' · tracemalloc on' if args.tracemalloc else ''} · {args.clients} clients · "
        f"load average before {load}, after {ab._load_average()}",
        "",
        "| when | VmRSS | VmHWM | RssAnon | pymalloc arenas (peak) | pymalloc in use "
        "| pymalloc free | malloc in use | malloc free kept | mmapped "
        "| Python blocks | gc objects | threads | re-delivery ids | listener tasks "
        "| asyncio tasks |",
        "|" + " --- |" * 16,
    ]
    lines += [row(label, m) for label, m in results]
    lines += [
        "",
        "MiB unless counted. pymalloc: Python's allocator for objects up to 512 bytes, in "
        "1 MiB arenas (an arena goes back to the system only when all of it is free); "
        "malloc: glibc's heap (larger objects, SQLite, OpenSSL), free kept = freed but not "
        "returned. Per step: ack p50/p99, acks/s, bad acks, and the most in flight:",
    ]
    for label, m in results:
        if "ack" in m:
            p50, p99, rps, bad = m["ack"]
            acked, done, missing = m["done"]
            peaks = m["peaks"]
            lines.append(
                f"- {label}: ack {p50:.1f} / {p99:.1f} ms, {rps:.0f}/s, {bad} bad; acked in "
                f"{acked:.1f} s, stored and shown in {done:.1f} s"
                + (f", {missing} NOT STORED" if missing else "")
                + f"; during the step at most {peaks.get('VmRSS', 0):.1f} MiB RSS, "
                f"{peaks.get('listener_tasks', 0):.0f} listener tasks, "
                f"{peaks.get('asyncio_tasks', 0):.0f} asyncio tasks"
            )
    for label, m in results:
        extra = []
        if "collected" in m:
            extra.append(f"collected {m['collected']:,} objects in {m['collect_s']:.2f} s")
        extra.append(f"gc counts {m['gc_count']}, stats {m['gc_stats']}")
        extra.append(f"pool {m['bot'].get('pool')}")
        grown = ", ".join(f"{k} {v:+,}" for k, v in m["types_grown"])
        extra.append(f"objects grown since idle: {grown}")
        if "traced_mib" in m:
            extra.append(f"tracemalloc traced {m['traced_mib']:.1f} MiB")
        lines.append(f"- {label}: " + "; ".join(extra))
    for label, m in results:
        if not m.get("grown"):
            continue
        lines += ["", f"Allocations grown from idle to {label!r}, by file (KiB, blocks):"]
        lines += [f"- {f}: {k:,.0f} KiB, {c:+,}" for f, k, c in m["grown_by_file"]]
        lines += ["", f"... and by traceback (innermost first), to {label!r}:"]
        for g in m["grown"]:
            where = " <- ".join(reversed(g["where"]))
            lines.append(f"- {g['kib']:,.0f} KiB, {g['count']:+,} blocks: {where}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve-bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--in-flight",
        type=int,
        default=0,
        metavar="N",
        help="also measure (and compare allocations) once N listeners are in flight",
    )
    parser.add_argument("--wait", type=float, default=0.0, help="idle seconds after the clicks")
    parser.add_argument(
        "--code", default="", help="the bot's code from this folder (e.g. an older `git archive`)"
    )
    parser.add_argument(
        "--pool",
        nargs=3,
        metavar=("SIZE", "OVERFLOW", "TIMEOUT"),
        help="other pool settings for the bot's engine (TIMEOUT may be `none`)",
    )
    parser.add_argument(
        "--experiment",
        choices=("none", "fifo-writes"),
        default="none",
        help="a change tried on the bot from the outside (see bench/experiments.py)",
    )
    parser.add_argument("--keep", default="", help="work in this folder and keep it (logs, db)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace allocations (slow)")
    parser.add_argument(
        "--gc", choices=("tuned", "default"), default="tuned", help="tune_gc() or CPython's"
    )
    args = parser.parse_args(argv)
    if args.code:  # before anything imports the bot
        sys.path.insert(0, str(Path(args.code).resolve()))
    if args.serve_bot:
        serve_bot(args)
        return 0
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
