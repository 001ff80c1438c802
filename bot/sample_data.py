"""Seeded sample data: a workspace with accounts, interactions, check-ins and promises.

One generator serves the demo (about 30 accounts, 12 weeks) and benchmarks (10,000
accounts, a year). It writes straight into the tables with bulk `insert()` executemany
(no ORM, no per-row round trips) and gives back a `SampleSummary` of what it wrote::

    engine = storage.db.create_engine(url)
    await storage.db.upgrade(engine)
    summary = await generate(engine, team_id="T0SAMPLE", accounts=30, now=now)

or, for a fresh database file, `await create_sample_database(url, team_id=..., ...)`.

**Deterministic.** The same `seed`, `now` and sizes give identical rows, ids included
(ids continue after the highest id already in each table). Every account draws from its
own random stream, so the data does not depend on how it is batched.

**Chronological.** History is produced week by week across all accounts, so ids follow
time as in a database the bot filled over the year (interactions, check-ins and promises
by creation, promise events by when they happened), and the time indexes fill by
appending, which keeps big sizes fast.

**What it writes** (all rows carry `team_id`; all times are aware UTC and `<= now`):

- `slack_users`: the team (`team_size` people, ids `U0SAMPLE1`, `U0SAMPLE2`, …, names,
  timezones Europe/Helsinki, America/New_York, Europe/London, …; the first is an admin),
  or the people passed as `users` (e.g. the demo's own stand-in workspace). Users already
  cached for the team are left as they are.
- `accounts`: unique company-like names from word lists (a number is appended when a name
  is taken); tiers A/B/C about 20/30/50 %; yearly values from a Pareto distribution
  (alpha 1.16: about 20 % of the accounts hold 80 % of the value), the tiers following the
  values with some noise so tier A holds the biggest accounts; a few tier C accounts
  without a value and a few without an owner; owners among the team. About 2 % are new
  (created in the last two weeks, little or no history).
- `interactions` over the `weeks` weeks before `now`, on working days and hours. Each tier
  is contacted at least as often as the risk model expects (A weekly, B every two weeks,
  C monthly): gaps average about 0.45 × that cadence, with randomness and an occasional
  longer gap. About 8 % of the accounts go silent for 1.5–4 cadences before `now`. Kinds
  meeting/call/email/qbr/demo/support/complaint/other; accounts losing trust get more
  complaints. Sources mostly `slash_command`, some `shortcut`, `webhook`, `import`.
- `checkins`: one per participant (1–3 per interaction, about 1.9 on average), created
  when the interaction was logged, reminder after 4 h, expiry after 72 h (the bot's
  defaults). Per person response rates: most are `answered` (a rating 1–5 around the
  account's trust level, which drifts: about 15 % of the accounts lose 1.5–2.5 points
  over the later part of the window, 10 % gain), some `expired` (reminded first),
  `skipped` or `away`; the most recent ones are still `pending`. Some answers carry a
  direction (better/same/worse, following the drift), a relationship stage
  (calculative … institutional, following the level) or a concern. No Slack message
  references (`dm_channel`, `dm_ts`): there are no messages behind sample data.
- `promises`: about 0.3 per check-in, most linked to their interaction, due 1–30 days after
  they were made in the owner's timezone. Outcomes depend on the account's reliability
  (lower for accounts losing trust): kept on time, kept late (`kept_on_time` set), broken,
  cancelled with a reason, renegotiated once or twice (`renegotiations`, then resolved or
  open again), open, and open past their due date (some for weeks, until marked broken).
  Reminder counters (`reminder_seq`, `last_reminded_at`) follow the bot's reminder
  schedule, so the bot does not send them again.
- `promise_events`: exactly the rows `storage.promises` writes: `created`, then
  `renegotiated` (old/new due date, customer told, in time), and `kept` / `broken` /
  `cancelled` (old due date, in time for kept, a note for cancelled).

Sizes at 52 weeks, per 1,000 accounts: about 52k interactions, 100k check-ins, 30k
promises and 62k promise events (10,000 accounts: a million check-ins, 300k promises).
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.checkin_rules import CheckinPolicy
from bot.promise_rules import PromisePolicy, reminder_schedule
from storage import tables as t
from storage.queries import name_key

DEFAULT_TEAM_ID = "T0SAMPLE"
TIMEZONES: tuple[str, ...] = (
    "Europe/Helsinki",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Europe/Stockholm",
)
CADENCE_DAYS: dict[str, int] = {"A": 7, "B": 14, "C": 30}

_FIRST = (
    "Aino", "James", "Emma", "Mikko", "Olivia", "Noah", "Sofia", "Lucas", "Ella", "Daniel",
    "Maya", "Elias", "Grace", "Oskar", "Chloe", "Leo", "Hanna", "Ethan", "Isla", "Ville",
)  # fmt: skip
_LAST = (
    "Virtanen", "Smith", "Korhonen", "Johnson", "Nieminen", "Brown", "Mäkinen", "Taylor",
    "Lehtonen", "Wilson", "Heikkinen", "Davies", "Laine", "Evans", "Koskinen", "Clarke",
)  # fmt: skip
_PREFIX = (
    "Northwind", "Blue Harbor", "Nordic", "Acme", "Polar", "Granite", "Silverline",
    "Aurora", "Baltic", "Helix", "Kestrel", "Lumen", "Meridian", "Oakridge", "Pinecrest",
    "Quantum", "Redwood", "Summit", "Tundra", "Vantage", "Birch", "Cobalt", "Delta",
    "Evergreen", "Fjord", "Glacier", "Harbor", "Ironwood", "Juniper", "Lakeside",
    "Müller", "O'Brien", "Ström", "Åland", "Keski", "Suomen", "Pohjola", "Riverside",
    "Westbrook", "Crescent", "Brightwater", "Stonebridge", "Falcon", "Orion", "Sampo",
)  # fmt: skip
_NOUN = (
    "Logistics", "Foods", "Systems", "Health", "Energy", "Analytics", "Freight", "Retail",
    "Software", "Media", "Bank", "Insurance", "Robotics", "Pharma", "Textiles", "Paper",
    "Telecom", "Mobility", "Labs", "Networks", "Consulting", "Shipping", "Dairy", "Steel",
    "Capital", "Builders", "Clinics", "Learning", "Travel", "Water",
)  # fmt: skip
_SUFFIX = ("Oy", "Oyj", "AB", "Ltd", "Inc", "GmbH", "LLC", "plc", "& Co", "Group", "", "")
_NOTES: dict[str, tuple[str, ...]] = {
    "meeting": (
        "Weekly sync", "Roadmap walk-through, they liked the reporting part",
        "Renewal discussion, pricing ok", "Met the new head of procurement",
        'Workshop on "phase 2", scope still open', "Onsite visit ☕",
    ),
    "call": (
        "Quick check on the rollout", "Call with their CTO, questions on SSO",
        "Follow-up on the invoice, sorted", "Budget call: next year's plans",
    ),
    "email": ("Sent the summary", "Answered questions on the contract, 3 open points", ""),
    "qbr": (
        "QBR: adoption up, two new teams onboarded", "QBR — usage flat; agreed an action plan",
        'QBR with "exec sponsor" present 🎯',
    ),
    "demo": ("Demoed the new insights view", "Demo for the finance team", "Demo of the API"),
    "support": (
        "Ticket about exports, fixed", "Helped with user provisioning", "Support: slow reports",
    ),
    "complaint": (
        "Outage on Tuesday hit their month-end close",
        "Unhappy with response times, escalated",
        'Invoice errors again; "this has to stop" <!channel>',
        "Missed the promised delivery date",
    ),
    "other": ("", "Lunch with the team", "Conference chat, interested in the beta"),
}  # fmt: skip
_PROMISES = (
    "send the updated pricing proposal",
    "share the SSO roadmap",
    "fix the invoice for last month",
    "book the next QBR",
    "follow up on ticket #{n}",
    "introduce our solutions architect",
    "deliver the security questionnaire",
    'send the "Getting started" deck',
    "check the API rate limits, and report back",
    "get a quote for {n} more seats",
    "confirm the go-live date with the project team",
    "share the case study from the Nordics",
    "arrange training for their new hires",
    "send minutes & action points",
)
_CONCERNS = (
    "Budget cuts next year, renewal at risk",
    "Their new CTO prefers a competitor",
    "Support response times are hurting us",
    "We missed the promised date, again",
    "Champion is leaving the company 😟",
    'They asked "why should we stay?"',
    "Usage is dropping in two departments",
    "Legal is slow; the contract, the DPA and the SLA are all open",
)
_CANCEL_REASONS = (
    "no longer applies",
    "customer changed plans",
    "handled by their own team",
    "duplicate of another promise",
)
_STAGES = ("calculative", "knowledge-based", "identification-based", "affective", "institutional")
_KIND_WEIGHTS: dict[str, tuple[int, ...]] = {
    # meeting, call, email, qbr, demo, support, complaint, other
    "A": (28, 24, 16, 6, 5, 12, 3, 6),
    "B": (24, 26, 20, 3, 6, 12, 3, 6),
    "C": (18, 26, 26, 1, 6, 14, 3, 6),
}
_KINDS = ("meeting", "call", "email", "qbr", "demo", "support", "complaint", "other")
_SOURCES = ("slash_command", "shortcut", "webhook", "import")
_SOURCE_CUM = tuple(itertools.accumulate((72, 18, 5, 5)))
_PARTICIPANTS_CUM = tuple(itertools.accumulate((35, 40, 25)))  # 1, 2 or 3 people

_CHECKIN_POLICY = CheckinPolicy()
_PROMISE_POLICY = PromisePolicy()
_REMIND_AFTER = _CHECKIN_POLICY.remind_after
_EXPIRE_AFTER = _CHECKIN_POLICY.expire_after
_PROMISE_RATE = 0.3  # promises per check-in
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class SampleUser:
    """A member of the sample team, as cached in `slack_users`."""

    user_id: str
    name: str
    real_name: str
    tz: str
    is_admin: bool = False


@dataclass(frozen=True)
class SampleSummary:
    """What `generate` wrote."""

    team_id: str
    users: int
    accounts: int
    interactions: int
    checkins: int
    promises: int
    promise_events: int
    accounts_by_tier: dict[str, int] = field(default_factory=dict)
    checkins_by_status: dict[str, int] = field(default_factory=dict)
    promises_by_status: dict[str, int] = field(default_factory=dict)
    promises_open_overdue: int = 0
    promises_renegotiated: int = 0


def sample_team(size: int = 6) -> list[SampleUser]:
    """`size` people with ids U0SAMPLE1… , names and a spread of timezones."""
    people = []
    for i in range(size):
        first = _FIRST[i % len(_FIRST)]
        last = _LAST[(i * 7) % len(_LAST)]
        handle = first.lower() if i < len(_FIRST) else f"{first.lower()}{i // len(_FIRST) + 1}"
        people.append(
            SampleUser(
                user_id=f"U0SAMPLE{i + 1}",
                name=handle,
                real_name=f"{first} {last}",
                tz=TIMEZONES[i % len(TIMEZONES)],
                is_admin=i == 0,
            )
        )
    return people


async def create_sample_database(url: str, **kwargs: Any) -> SampleSummary:
    """Migrate the database at `url` to the newest schema and `generate` into it."""
    from storage import db

    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        return await generate(engine, **kwargs)
    finally:
        await engine.dispose()


async def generate(
    engine: AsyncEngine,
    *,
    team_id: str = DEFAULT_TEAM_ID,
    accounts: int,
    weeks: int = 12,
    seed: int = 7,
    now: datetime,
    team_size: int = 6,
    users: Sequence[SampleUser] | None = None,
    weeks_per_transaction: int = 4,
    fast_sqlite: bool = True,
) -> SampleSummary:
    """Write a seeded sample workspace (see the module docstring) and summarise it.

    The schema must be current (`storage.db.upgrade`) and the team must have no accounts
    yet. Users and accounts are written in one transaction; then history is generated week
    by week across all accounts and written as one bulk executemany per table and week,
    `weeks_per_transaction` weeks per transaction (memory stays flat whatever the size).
    Ids continue after the highest id in each table, so do not run it against a database
    the bot is writing to at the same time. `fast_sqlite=False` uses typed `insert()` on
    SQLite too (what other databases get).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if accounts < 0 or weeks < 1:
        raise ValueError("accounts must be >= 0 and weeks >= 1")
    team = list(users) if users is not None else sample_team(team_size)
    if not team:
        raise ValueError("the sample team needs at least one user")
    now = now.astimezone(UTC)
    gen = _Generator(team_id=team_id, seed=seed, now=now, weeks=weeks, team=team)
    plans = gen.plan_accounts(accounts)

    async with engine.begin() as conn:
        taken = await conn.scalar(
            select(func.count()).select_from(t.accounts).where(t.accounts.c.team_id == team_id)
        )
        if taken:
            raise ValueError(f"team {team_id} already has accounts; use an empty workspace")
        gen.ids = {
            name: int(await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)
            for name, table in _ID_TABLES.items()
        }
        for plan in plans:
            plan.id = gen.next_id("accounts")
        await _insert_users(conn, team_id=team_id, team=team, now=now)
        await _bulk(conn, t.accounts, [gen.account_row(p) for p in plans])

    windows = gen.windows(plans)
    # Millions of short-lived, acyclic rows: reference counting frees them; the cycle
    # collector would only rescan the long-lived streams over and over (~15 % of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        await _write_history(engine, windows, weeks_per_transaction, fast_sqlite)
    finally:
        if collecting:
            gc.enable()
    return gen.summary(plans)


async def _write_history(
    engine: AsyncEngine, windows: Iterator[_Rows], weeks_per_transaction: int, fast: bool
) -> None:
    """Write each week's rows, `weeks_per_transaction` weeks per transaction."""
    done = False
    while not done:
        async with engine.begin() as conn:
            writer = _Writer(conn, fast=fast)
            await writer.prepare()
            try:
                for _ in range(max(1, weeks_per_transaction)):
                    rows = next(windows, None)
                    if rows is None:
                        done = True
                        break
                    await writer.write(t.interactions, rows.interactions)
                    await writer.write(t.checkins, rows.checkins)
                    await writer.write(t.promises, rows.promises)
                    await writer.write(t.promise_events, rows.events)
                await writer.fix_sequences()
            finally:
                await writer.restore()


# --- internals -------------------------------------------------------------------------

_ID_TABLES = {
    "accounts": t.accounts,
    "interactions": t.interactions,
    "checkins": t.checkins,
    "promises": t.promises,
    "promise_events": t.promise_events,
}
_SQLITE_CACHE_KIB = -65536  # 64 MiB page cache while writing (index upkeep); restored after


async def _bulk(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(table), rows)


class _Writer:
    """Bulk inserts of generated rows: one executemany per table and batch.

    Elsewhere a typed `insert(table)`. On SQLite the rows are rendered to exactly what the
    column types store (naive UTC `YYYY-MM-DD HH:MM:SS.ffffff` datetimes, ISO dates) and
    sent as positional parameters to the same compiled INSERT, which skips SQLAlchemy's
    per-value type processing (about a third of the time at large sizes); a test checks
    that both paths store identical rows.
    """

    def __init__(self, conn: AsyncConnection, *, fast: bool) -> None:
        self.conn = conn
        self.sqlite = fast and conn.dialect.name == "sqlite"
        self._plans: dict[str, tuple[str, Any, list[int], list[int]]] = {}
        self._cache: int | None = None

    async def prepare(self) -> None:
        if self.sqlite:  # a bigger page cache for index maintenance, this connection only
            self._cache = await self.conn.scalar(text("PRAGMA cache_size"))
            await self.conn.exec_driver_sql(f"PRAGMA cache_size={_SQLITE_CACHE_KIB}")

    async def restore(self) -> None:
        if self._cache is not None:
            await self.conn.exec_driver_sql(f"PRAGMA cache_size={int(self._cache)}")

    async def fix_sequences(self) -> None:
        if self.conn.dialect.name == "postgresql":
            # Explicit ids bypass the sequences; move them past the rows written.
            for name in _ID_TABLES:
                await self.conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
                    )
                )

    async def write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if not self.sqlite:
            await self.conn.execute(insert(table), rows)
            return
        sql, get, stamps, days = self._plan(table, tuple(rows[0]))
        params = []
        for row in rows:
            values = list(get(row))
            for i in stamps:
                value = values[i]
                if value is None:
                    continue
                if value.tzinfo is UTC:  # all generated instants: one C call
                    values[i] = value.isoformat(" ", "microseconds")[:-6]
                else:
                    values[i] = _sqlite_datetime(value)
            for i in days:
                if values[i] is not None:
                    values[i] = values[i].isoformat()
            params.append(tuple(values))
        await self.conn.exec_driver_sql(sql, params)

    def _plan(self, table: Any, names: tuple[str, ...]) -> tuple[str, Any, list[int], list[int]]:
        """The INSERT for these columns (others get their defaults), and how to fill it."""
        key = f"{table.name}:{','.join(names)}"
        if key not in self._plans:
            compiled = insert(table).compile(dialect=self.conn.dialect, column_keys=list(names))
            order = list(compiled.positiontup or ())
            assert sorted(order) == sorted(names), "one positional parameter per column"
            types = {c.name: c.type for c in table.columns}
            self._plans[key] = (
                str(compiled),
                itemgetter(*order),
                [i for i, n in enumerate(order) if isinstance(types[n], t.UTCDateTime)],
                [i for i, n in enumerate(order) if isinstance(types[n], Date)],
            )
        return self._plans[key]


def _sqlite_datetime(value: datetime) -> str:
    """What UTCDateTime stores on SQLite: naive UTC with microseconds."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


async def _insert_users(
    conn: AsyncConnection, *, team_id: str, team: Sequence[SampleUser], now: datetime
) -> None:
    su = t.slack_users
    cached = set(
        (await conn.execute(select(su.c.user_id).where(su.c.team_id == team_id))).scalars()
    )
    rows = [
        {
            "team_id": team_id,
            "user_id": u.user_id,
            "name": u.name,
            "tz": u.tz,
            "is_bot": 0,
            "deleted": 0,
            "is_admin": int(u.is_admin),
            "fetched_at": now,
        }
        for u in team
        if u.user_id not in cached
    ]
    await _bulk(conn, su, rows)


@dataclass
class _Plan:
    """One account and the traits its history is drawn from."""

    index: int
    name: str
    tier: str
    value: Decimal | None
    owner: str | None
    created_by: str
    created_at: datetime
    id: int = 0
    interactions: int = 0


@dataclass
class _Rows:
    interactions: list[dict[str, Any]] = field(default_factory=list)
    checkins: list[dict[str, Any]] = field(default_factory=list)
    promises: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Bundle:
    """One interaction with its check-ins and promises (and their events), ids not yet set."""

    moment: datetime  # where the account's schedule put it; picks the week it is written in
    interaction: dict[str, Any]
    checkins: list[dict[str, Any]]
    promises: list[tuple[dict[str, Any], list[dict[str, Any]]]]


@dataclass(frozen=True)
class _Person:
    user_id: str
    tz: ZoneInfo
    answer_rate: float  # share of check-ins answered (the rest expire)
    bias: float  # how much higher or lower this person rates


class _Generator:
    def __init__(
        self, *, team_id: str, seed: int, now: datetime, weeks: int, team: Sequence[SampleUser]
    ) -> None:
        self.team_id = team_id
        self.seed = seed
        self.now = now
        self.start = now - timedelta(weeks=weeks)
        self.span = (now - self.start).total_seconds()
        rng = random.Random(f"trustloop-sample/{seed}/team")
        self.people = [
            _Person(
                user_id=u.user_id,
                tz=ZoneInfo(u.tz),
                answer_rate=rng.uniform(0.72, 0.95),
                bias=rng.gauss(0, 0.25),
            )
            for u in team
        ]
        self.by_id = {p.user_id: p for p in self.people}
        self.team_rng = rng
        self.ids: dict[str, int] = {}
        self.counts: Counter[str] = Counter()
        self.checkin_status: Counter[str] = Counter()
        self.promise_status: Counter[str] = Counter()

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    # --- accounts ---------------------------------------------------------------------

    def plan_accounts(self, n: int) -> list[_Plan]:
        rng = self.team_rng
        raw = [min(8000 * rng.paretovariate(1.16), 4_000_000.0) for _ in range(n)]
        # Tiers follow value with noise: sort by a blurred value, top 20 % A, next 30 % B.
        order = sorted(range(n), key=lambda i: -raw[i] * rng.lognormvariate(0, 0.35))
        tiers = [""] * n
        for rank, i in enumerate(order):
            tiers[i] = "A" if rank < round(n * 0.2) else "B" if rank < round(n * 0.5) else "C"
        names: set[str] = set()
        plans = []
        owners = [p.user_id for p in self.people]
        for i in range(n):
            name = self._name(rng, names)
            tier = tiers[i]
            value: Decimal | None = Decimal(round(raw[i], -3 if tier != "C" else -2)).quantize(
                Decimal("0.01")
            )
            if tier == "C" and rng.random() < 0.04:
                value = None
            owner = rng.choice(owners) if rng.random() > 0.02 else None
            if rng.random() < 0.02:  # new account: created in the last two weeks
                created = self.now - timedelta(seconds=rng.uniform(3600, 14 * 86400))
            else:
                created = self.start - timedelta(seconds=rng.uniform(86400, 400 * 86400))
            plans.append(
                _Plan(
                    index=i,
                    name=name,
                    tier=tier,
                    value=value,
                    owner=owner,
                    created_by=owner or owners[0],
                    created_at=created.replace(microsecond=0),
                )
            )
        return plans

    @staticmethod
    def _name(rng: random.Random, taken: set[str]) -> str:
        prefix, noun, suffix = rng.choice(_PREFIX), rng.choice(_NOUN), rng.choice(_SUFFIX)
        style = rng.random()
        base = f"{prefix} {suffix}" if style < 0.2 else f"{prefix} {noun} {suffix}"
        base = " ".join(base.split())
        name, n = base, 1
        while name_key(name) in taken:
            n += 1
            name = f"{base} {n}"
        taken.add(name_key(name))
        return name

    def windows(self, plans: Sequence[_Plan]) -> Iterator[_Rows]:
        """All history, one week at a time, with ids in the order things happened.

        Every account's history is a lazy stream; each week takes what the streams hold
        for it, sorts it by time and numbers it, as the bot would have. Promise events wait
        in a heap until their week, so event ids follow time too. Appending in time order
        also keeps the database's time indexes cheap to fill.
        """
        streams: list[Iterator[_Bundle] | None] = [self.history(p) for p in plans]
        held: list[_Bundle | None] = [None] * len(plans)
        later: list[tuple[datetime, int, dict[str, Any]]] = []
        order = itertools.count()
        weeks = round((self.now - self.start) / timedelta(weeks=1))
        for week in range(1, weeks + 1):
            limit = self.start + timedelta(weeks=week) if week < weeks else None
            bundles: list[_Bundle] = []
            for k, stream in enumerate(streams):
                if stream is None:
                    continue
                bundle = held[k]
                while True:
                    if bundle is None:
                        bundle = next(stream, None)
                        if bundle is None:
                            streams[k] = None
                            break
                    if limit is not None and bundle.moment >= limit:
                        break
                    bundles.append(bundle)
                    bundle = None
                held[k] = bundle
            rows = _Rows()
            made = []
            bundles.sort(key=lambda b: b.interaction["created_at"])
            for bundle in bundles:
                interaction_id = self.next_id("interactions")
                bundle.interaction["id"] = interaction_id
                rows.interactions.append(bundle.interaction)
                for checkin in bundle.checkins:
                    checkin["id"] = self.next_id("checkins")
                    checkin["interaction_id"] = interaction_id
                    rows.checkins.append(checkin)
                for promise, events in bundle.promises:
                    promise["interaction_id"] = interaction_id if promise.pop("linked") else None
                    made.append((promise, events))
            made.sort(key=lambda m: m[0]["created_at"])
            for promise, events in made:
                promise["id"] = self.next_id("promises")
                rows.promises.append(promise)
                for event in events:
                    event["promise_id"] = promise["id"]
                    heapq.heappush(later, (event["at"], next(order), event))
            while later and (limit is None or later[0][0] < limit):
                event = heapq.heappop(later)[2]
                event["id"] = self.next_id("promise_events")
                rows.events.append(event)
            yield rows

    def account_row(self, plan: _Plan) -> dict[str, Any]:
        return {
            "id": plan.id,
            "team_id": self.team_id,
            "name": plan.name,
            "name_key": name_key(plan.name),
            "tier": plan.tier,
            "yearly_value": plan.value,
            "owner_id": plan.owner,
            "created_by": plan.created_by,
            "created_at": plan.created_at,
        }

    # --- history ----------------------------------------------------------------------

    def history(self, plan: _Plan) -> Iterator[_Bundle]:
        """One account's interactions, in schedule order, with what came of them."""
        rng = random.Random(f"trustloop-sample/{self.seed}/account/{plan.index}")
        now = self.now
        cadence = CADENCE_DAYS[plan.tier] * 86400.0
        base = min(4.7, max(2.3, rng.gauss(3.9, 0.45)))
        trend = rng.random()
        drop = rng.uniform(1.5, 2.5) if trend < 0.15 else 0.0
        rise = rng.uniform(0.5, 1.3) if 0.15 <= trend < 0.25 else 0.0
        onset = rng.uniform(0.35, 0.75)
        reliability = rng.uniform(0.6, 0.9) - (0.25 if drop else 0.0)
        stage_shift = rng.choice((-1, 0, 0, 0, 1))
        end = now
        if rng.random() < 0.08:  # goes silent
            end = now - timedelta(seconds=rng.uniform(1.5, 4.0) * cadence)
        weights = _KIND_WEIGHTS[plan.tier]
        complaints = (*weights[:6], weights[6] * 5, weights[7])  # five times the complaints
        kinds = tuple(tuple(itertools.accumulate(w)) for w in (weights, complaints))
        first = max(self.start, plan.created_at)

        def level(at: datetime) -> float:
            p = (at - self.start).total_seconds() / self.span
            value = base + rise * p
            if drop and p > onset:
                x = (p - onset) / (1 - onset)
                value -= drop * x * x * (3 - 2 * x)  # smoothstep
            return value

        moment = first + timedelta(seconds=rng.uniform(0, 0.6) * cadence)
        while moment <= end:
            occurred = _working_hours(moment, rng)
            if first <= occurred <= now:
                lvl = level(occurred)
                declining = drop and (occurred - self.start).total_seconds() > onset * self.span
                kind = _pick(rng, _KINDS, kinds[bool(declining)])
                interaction, checkins, chosen = self._interaction(
                    plan, rng, occurred, kind, lvl, level(occurred - timedelta(weeks=3)),
                    stage_shift,
                )  # fmt: skip
                promises = self._promises(plan, rng, reliability, occurred, chosen)
                yield _Bundle(moment, interaction, checkins, promises)
            gap = rng.uniform(0.12, 0.62) if rng.random() < 0.9 else rng.uniform(0.8, 1.5)
            moment += timedelta(seconds=gap * cadence)

    def _interaction(
        self,
        plan: _Plan,
        rng: random.Random,
        occurred: datetime,
        kind: str,
        lvl: float,
        earlier: float,
        stage_shift: int,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[_Person]]:
        now, people = self.now, self.people
        k = _pick(rng, (1, 2, 3), _PARTICIPANTS_CUM)
        k = min(k, len(people))
        chosen: list[_Person] = []
        if plan.owner is not None and rng.random() < 0.7:
            chosen.append(self.by_id[plan.owner])
        while len(chosen) < k:
            person = rng.choice(people)
            if person not in chosen:
                chosen.append(person)
        source = _pick(rng, _SOURCES, _SOURCE_CUM)
        created = occurred
        if source in ("webhook", "import"):
            created = min(now, occurred + timedelta(minutes=rng.uniform(1, 600)))
        note = rng.choice(_NOTES[kind])
        interaction = {
            "id": 0,
            "team_id": self.team_id,
            "account_id": plan.id,
            "kind": kind,
            "occurred_at": occurred,
            "logged_by": chosen[0].user_id,
            "note": note,
            "source": source,
            "created_at": created,
        }
        plan.interactions += 1
        checkins = [
            self._checkin(rng, person, created, lvl, earlier, stage_shift) for person in chosen
        ]
        return interaction, checkins, chosen

    def _checkin(
        self,
        rng: random.Random,
        person: _Person,
        created: datetime,
        lvl: float,
        earlier: float,
        stage_shift: int,
    ) -> dict[str, Any]:
        now = self.now
        remind = created + _REMIND_AFTER
        expires = created + _EXPIRE_AFTER
        row: dict[str, Any] = {
            "id": 0,
            "team_id": self.team_id,
            "interaction_id": 0,
            "user_id": person.user_id,
            "status": "pending",
            "created_at": created,
            "remind_at": remind,
            "expires_at": expires,
            "rating": None,
            "direction": None,
            "stage": None,
            "concern": None,
            "answered_at": None,
            "reminded_at": None,
            "closed_at": None,
            "dm_channel": None,
            "dm_ts": None,
            "reminder_ts": None,
            "delivery_error": None,
            "delivery_attempts": 0,
        }
        roll = rng.random()
        if roll < 0.02:
            row.update(status="away", closed_at=created)
            self.checkin_status["away"] += 1
            return row
        status, closed = "pending", None
        if roll < 0.06:
            closed = created + timedelta(minutes=rng.expovariate(1 / 60))
            status = "skipped"
        elif roll < 0.06 + 0.94 * person.answer_rate:
            delay = min(rng.expovariate(1 / 150), 71 * 60)  # minutes, mean 2.5 h
            closed = created + timedelta(minutes=delay)
            status = "answered"
        else:
            closed = expires + timedelta(seconds=rng.uniform(0, 60))
            status = "expired"
        if closed > expires:
            closed = expires
        if closed > now:
            status, closed = "pending", None
        reminded = status != "skipped" and (closed is None or closed > remind) and remind <= now
        if reminded:
            row["reminded_at"] = remind
        row["status"] = status
        row["closed_at"] = closed
        self.checkin_status[status] += 1
        if status == "answered":
            rating = round(lvl + person.bias + rng.gauss(0, 0.55))
            rating = min(5, max(1, rating))
            row.update(rating=rating, answered_at=closed)
            if rng.random() < 0.35:
                diff = lvl - earlier
                direction = "worse" if diff < -0.25 else "better" if diff > 0.25 else "same"
                if rng.random() < 0.2:
                    direction = rng.choice(("better", "same", "worse"))
                row["direction"] = direction
            if rng.random() < 0.25:
                stage = min(4, max(0, int((lvl - 2.2) / 0.6) + stage_shift))
                row["stage"] = _STAGES[stage]
            if rng.random() < (0.3 if rating <= 2 else 0.05):
                row["concern"] = rng.choice(_CONCERNS)
        return row

    # --- promises ---------------------------------------------------------------------

    def _promises(
        self,
        plan: _Plan,
        rng: random.Random,
        reliability: float,
        occurred: datetime,
        chosen: list[_Person],
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """About `_PROMISE_RATE` promises per participant of an interaction."""
        made = []
        for person in chosen:
            if rng.random() >= _PROMISE_RATE:
                continue
            owner = person if plan.owner is None or rng.random() < 0.9 else self.by_id[plan.owner]
            created = min(self.now, occurred + timedelta(minutes=rng.uniform(5, 180)))
            created = created.replace(microsecond=0)
            made.append(
                self._promise(
                    plan,
                    rng,
                    reliability,
                    owner=owner,
                    created_by=person.user_id,
                    created=created,
                    linked=rng.random() < 0.75,
                )
            )
        return made

    def _promise(
        self,
        plan: _Plan,
        rng: random.Random,
        reliability: float,
        *,
        owner: _Person,
        created_by: str,
        created: datetime,
        linked: bool,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A promise row (its final state) and its events; ids are set when written."""
        now, tz = self.now, owner.tz
        due = created.astimezone(tz).date() + timedelta(
            days=rng.choice((1, 2, 3, 5, 7, 7, 7, 10, 14, 14, 21, 30))
        )
        what = rng.choice(_PROMISES).format(n=rng.randint(2, 9999))
        events: list[dict[str, Any]] = [
            self._event(created_by, created, "created", new_status="open", new_due=due)
        ]
        since, renegotiations = created, 0
        status, closed, kept_on_time = "open", None, None
        actor = owner.user_id if plan.owner is None or rng.random() < 0.85 else plan.owner
        while True:
            deadline = _day_end(due, tz)
            roll = rng.random()
            if roll < 0.03:  # cancelled, with a reason
                latest = min(now, deadline + timedelta(days=3))
                at = since + (latest - since) * rng.random()
                status, closed = "cancelled", at
                events.append(
                    self._event(
                        actor,
                        at,
                        "cancelled",
                        old_status="open",
                        new_status="cancelled",
                        old_due=due,
                        note=rng.choice(_CANCEL_REASONS),
                    )
                )
                break
            if roll < 0.13 and renegotiations < 2:
                in_time = rng.random() < 0.7
                if in_time:
                    earliest = max(since, deadline - timedelta(days=3))
                    at = earliest + (deadline - earliest) * rng.uniform(0.0, 0.98)
                else:
                    at = deadline + timedelta(days=min(rng.expovariate(0.5), 20))
                if at > now:
                    break  # not renegotiated yet: still open
                new_due = max(at.astimezone(tz).date(), due) + timedelta(days=rng.randint(3, 21))
                events.append(
                    self._event(
                        actor,
                        at,
                        "renegotiated",
                        old_status="open",
                        new_status="open",
                        old_due=due,
                        new_due=new_due,
                        customer_told=rng.random() < (0.85 if in_time else 0.5),
                        in_time=in_time,
                    )
                )
                since, due, renegotiations = at, new_due, renegotiations + 1
                continue
            outcome = rng.random()
            late = 1 - reliability
            if outcome < reliability:
                at = since + (deadline - since) * rng.uniform(0.3, 0.99)
                kind, on_time = "kept", True
            elif outcome < reliability + late * 0.5:
                at = deadline + timedelta(days=min(rng.expovariate(1 / 3), 30))
                kind, on_time = "kept", False
            elif outcome < reliability + late * 0.9:
                at = deadline + timedelta(days=rng.uniform(0.05, 14))
                kind, on_time = "broken", False
            else:  # left open long past its date, until someone finally marks it broken
                at = deadline + timedelta(days=rng.uniform(20, 75))
                kind, on_time = "broken", False
            if at > now:
                break  # not resolved yet
            status, closed = kind, at
            kept_on_time = int(on_time) if kind == "kept" else None
            events.append(
                self._event(
                    actor,
                    at,
                    kind,
                    old_status="open",
                    new_status=kind,
                    old_due=due,
                    in_time=on_time if kind == "kept" else None,
                )
            )
            break
        seq, last = _reminders_sent(due, tz, since, closed or now)
        promise = {
            "id": 0,
            "team_id": self.team_id,
            "account_id": plan.id,
            "interaction_id": None,
            "linked": linked,
            "text": what,
            "owner_id": owner.user_id,
            "created_by": created_by,
            "due_date": due,
            "status": status,
            "created_at": created,
            "since_at": since,
            "closed_at": closed,
            "kept_on_time": kept_on_time,
            "renegotiations": renegotiations,
            "reminder_seq": seq,
            "last_reminded_at": last,
        }
        self.promise_status[status] += 1
        if renegotiations:
            self.counts["renegotiated"] += 1
        if status == "open" and now >= _day_end(due, tz):
            self.counts["open_overdue"] += 1
        return promise, events

    def _event(
        self,
        actor: str,
        at: datetime,
        kind: str,
        *,
        old_status: str | None = None,
        new_status: str | None = None,
        old_due: date | None = None,
        new_due: date | None = None,
        customer_told: bool | None = None,
        in_time: bool | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        # The same fields, with the same encodings, as storage.promises._event writes.
        self.counts["events"] += 1
        return {
            "id": 0,
            "team_id": self.team_id,
            "promise_id": 0,
            "actor_id": actor,
            "at": at,
            "kind": kind,
            "old_status": old_status,
            "new_status": new_status,
            "old_due_date": old_due,
            "new_due_date": new_due,
            "customer_told": None if customer_told is None else int(customer_told),
            "in_time": None if in_time is None else int(in_time),
            "note": note,
        }

    def summary(self, plans: list[_Plan]) -> SampleSummary:
        return SampleSummary(
            team_id=self.team_id,
            users=len(self.people),
            accounts=len(plans),
            interactions=sum(p.interactions for p in plans),
            checkins=sum(self.checkin_status.values()),
            promises=sum(self.promise_status.values()),
            promise_events=self.counts["events"],
            accounts_by_tier=dict(sorted(Counter(p.tier for p in plans).items())),
            checkins_by_status=dict(sorted(self.checkin_status.items())),
            promises_by_status=dict(sorted(self.promise_status.items())),
            promises_open_overdue=self.counts["open_overdue"],
            promises_renegotiated=self.counts["renegotiated"],
        )


def _pick(rng: random.Random, items: Sequence[Any], cumulative: Sequence[float]) -> Any:
    """`rng.choices(items, cum_weights=cumulative)[0]`, the same draw, without the list."""
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1], 0, len(items) - 1)]


def _working_hours(moment: datetime, rng: random.Random) -> datetime:
    """The instant moved to 07:00-16:45 UTC on a weekday, at a quarter hour."""
    day = moment.date()
    if day.weekday() >= 5:
        day -= timedelta(days=day.weekday() - 4)  # back to Friday
    return datetime.combine(day, time(rng.randint(7, 16), rng.choice((0, 15, 30, 45))), tzinfo=UTC)


def _day_end(due: date, tz: ZoneInfo) -> datetime:
    """The instant the due day ends in `tz` (a promise is overdue from then on)."""
    return datetime.combine(due + _DAY, time(0), tzinfo=tz).astimezone(UTC)


def _reminders_sent(
    due: date, tz: ZoneInfo, since: datetime, until: datetime
) -> tuple[int, datetime | None]:
    """The last reminder the bot would have sent between `since` and `until`."""
    last = None
    for reminder in reminder_schedule(due, tz, _PROMISE_POLICY, until=until):
        if reminder.at >= since:
            last = reminder
    return (last.seq, last.at) if last else (0, None)
