"""Relationship health: account cards, ranked accounts and the weekly digest's figures.

Reads signals through storage's windowed queries, scores them with the pure risk model and
hands typed results to the Block Kit builders. Shared by the slash commands, the scheduler
and `trustloop digest preview`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.risk import (
    AT_RISK,
    HEALTHY,
    UNKNOWN,
    WATCH,
    Assessment,
    RiskRules,
    assess_ranked,
)
from storage import promises as pq
from storage import risk as rq
from storage.digests import save_snapshot, snapshots
from storage.models import Account, Interaction, PromiseDetail, Snapshot

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

CHART_WEEKS = 12
RECENT_PARTICIPATION_WEEKS = 8


@dataclass(frozen=True)
class AccountCard:
    """Everything `/trust account <name>` shows."""

    assessment: Assessment
    open_promises: list[PromiseDetail]
    open_count: int
    interactions: list[Interaction]
    team: list[str]


@dataclass(frozen=True)
class WeekFigures:
    """The team's promise figures for one week."""

    kept_on_time: int
    broken: int
    overdue: int


@dataclass(frozen=True)
class Digest:
    """One digest: the week it covers, its counts, the ranked at-risk accounts and the wins."""

    team_id: str
    start: datetime
    end: datetime
    tiers: tuple[str, ...]
    accounts: int
    at_risk: list[Assessment]
    watch: int
    new_at_risk: frozenset[int]
    recovered: list[Assessment]
    this_week: WeekFigures
    last_week: WeekFigures
    asked: int
    answered: int
    kept: list[tuple[str, str, str]]
    overdue: dict[int, list[PromiseDetail]] = field(default_factory=dict)
    chart: list[Snapshot] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        """Share of this week's check-ins that were answered."""
        return self.answered / self.asked if self.asked else None


@dataclass(frozen=True)
class MyAccounts:
    """The accounts on a user's App Home, ranked by risk.

    `owned` is True when they are the accounts the user owns; False when the user owns none
    and these are the accounts they took part in over the last eight weeks.
    """

    accounts: list[Assessment]
    owned: bool


def rules_from(settings: object) -> RiskRules:
    """The risk rules with the configured contact cadences."""
    return RiskRules(
        cadence_days={
            "A": getattr(settings, "cadence_a_days", 7),
            "B": getattr(settings, "cadence_b_days", 14),
            "C": getattr(settings, "cadence_c_days", 30),
        }
    )


def week_monday(moment: datetime) -> date:
    """The Monday (UTC) of the week containing `moment`: the key of weekly snapshots."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


class HealthService:
    """Risk assessments over the database."""

    def __init__(self, svc: Services):
        self.svc = svc
        self.rules = rules_from(svc.settings)

    async def assess_all(
        self, *, team_id: str, now: datetime, tiers: tuple[str, ...] = ()
    ) -> list[Assessment]:
        """Every account (of the tiers) assessed as of `now`, ranked by weighted risk."""
        async with self.svc.engine.connect() as conn:
            return await self._assess(conn, team_id=team_id, now=now, tiers=tiers)

    async def assess_accounts(
        self, *, team_id: str, now: datetime, account_ids: Sequence[int]
    ) -> list[Assessment]:
        """Only these accounts (of the workspace) assessed as of `now`, ranked by weighted risk."""
        if not account_ids:
            return []
        async with self.svc.engine.connect() as conn:
            accounts = await rq.load_accounts(conn, team_id=team_id, account_ids=account_ids)
            return await self._assess_loaded(conn, team_id=team_id, now=now, accounts=accounts)

    async def my_accounts(self, *, team_id: str, user_id: str, now: datetime) -> MyAccounts:
        """The accounts a user owns or, owning none, took part in recently; ranked by risk."""
        async with self.svc.engine.connect() as conn:
            ids = await rq.owned_account_ids(conn, team_id=team_id, user_id=user_id)
            owned = bool(ids)
            if not owned:
                ids = await rq.participated_account_ids(
                    conn,
                    team_id=team_id,
                    user_id=user_id,
                    since=now - timedelta(weeks=RECENT_PARTICIPATION_WEEKS),
                    until=now,
                )
        assessed = await self.assess_accounts(team_id=team_id, now=now, account_ids=ids)
        return MyAccounts(accounts=assessed, owned=owned)

    async def _assess(
        self, conn: AsyncConnection, *, team_id: str, now: datetime, tiers: tuple[str, ...]
    ) -> list[Assessment]:
        accounts = await rq.load_accounts(conn, team_id=team_id, tiers=tiers, created_before=now)
        return await self._assess_loaded(conn, team_id=team_id, now=now, accounts=accounts)

    async def _assess_loaded(
        self, conn: AsyncConnection, *, team_id: str, now: datetime, accounts: list[Account]
    ) -> list[Assessment]:
        signals = await rq.account_signals(
            conn,
            team_id=team_id,
            now=now,
            accounts=accounts,
            window_weeks=self.rules.window_weeks,
            recent_days=self.rules.recent_days,
        )
        return assess_ranked(signals, now=now, rules=self.rules)

    async def _assess_weekly(
        self,
        *,
        team_id: str,
        now: datetime,
        tiers: tuple[str, ...],
        weeks_back: int,
    ) -> list[list[Assessment]]:
        """Assessments as of `now` and each of the `weeks_back` weeks before, in one pass.

        Holds no connection of its own while the queries (each on its own) run.
        """
        series = await rq.account_signals_weekly(
            None,
            team_id=team_id,
            now=now,
            weeks_back=weeks_back,
            tiers=tiers,
            window_weeks=self.rules.window_weeks,
            recent_days=self.rules.recent_days,
            engine=self.svc.engine,
        )
        instants = [now - timedelta(weeks=k) for k in range(weeks_back + 1)]
        return [
            assess_ranked(signals, now=at, rules=self.rules)
            for at, signals in zip(instants, series, strict=True)
        ]

    async def card(self, *, account: Account, now: datetime) -> AccountCard:
        """The account card: assessment, open promises, last interactions, team."""
        team_id = account.team_id
        async with self.svc.engine.connect() as conn:
            signals = await rq.account_signals(
                conn,
                team_id=team_id,
                now=now,
                accounts=[account],
                window_weeks=self.rules.window_weeks,
                recent_days=self.rules.recent_days,
            )
            open_promises = await pq.list_promises(
                conn,
                team_id=team_id,
                scope="account",
                account_id=account.id,
                today=now.date(),
                limit=5,
            )
            open_count = await pq.count_promises(
                conn, team_id=team_id, scope="account", account_id=account.id, today=now.date()
            )
            interactions = await rq.account_interactions(
                conn, team_id=team_id, account_id=account.id, limit=5
            )
            members = await rq.account_team(
                conn, team_id=team_id, account_id=account.id, since=now - timedelta(weeks=26)
            )
        assessment = assess_ranked(signals, now=now, rules=self.rules)[0]
        return AccountCard(assessment, open_promises, open_count, interactions, members)

    async def digest(
        self, *, team_id: str, now: datetime, tiers: tuple[str, ...] = (), chart: bool = True
    ) -> Digest:
        """The digest for the week ending at `now`.

        "New" and "recovered" compare with the accounts at risk a week earlier: last week's
        snapshot when one is stored with them (the one the trend chart shows), else assessed
        as of `now - 7 days` in the same pass as `now` and stored as last week's snapshot,
        so a workspace's later digests that week assess only the present.
        """
        start = now - timedelta(days=7)
        last_monday = week_monday(now) - timedelta(weeks=1)
        before: list[Assessment] | None = None
        async with self.svc.engine.connect() as conn:
            stored = await snapshots(
                conn, team_id=team_id, since=last_monday, until=last_monday, ids=True
            )
        known = stored.get(last_monday)
        if known is not None and known.at_risk_ids is not None:
            was_at_risk = known.at_risk_ids
            (current,) = await self._assess_weekly(
                team_id=team_id, now=now, tiers=tiers, weeks_back=0
            )
        else:
            current, before = await self._assess_weekly(
                team_id=team_id, now=now, tiers=tiers, weeks_back=1
            )
            was_at_risk = frozenset(a.account.id for a in before if a.level == AT_RISK)
        async with self.svc.engine.connect() as conn:
            this_week = WeekFigures(
                *await rq.team_promise_week(conn, team_id=team_id, start=start, end=now)
            )
            last_week = WeekFigures(
                *await rq.team_promise_week(
                    conn, team_id=team_id, start=start - timedelta(days=7), end=start
                )
            )
            asked, answered = await rq.checkin_response(conn, team_id=team_id, start=start, end=now)
            kept = await rq.kept_promises(conn, team_id=team_id, start=start, end=now, limit=5)
            overdue_list = await pq.list_promises(
                conn, team_id=team_id, scope="overdue", today=now.date(), limit=500
            )
        if before is not None and not tiers:  # a snapshot covers every account
            try:
                async with self.svc.engine.begin() as conn:
                    await save_snapshot(
                        conn, team_id=team_id, snapshot=_snapshot(last_monday, before), now=now
                    )
            except DBAPIError as exc:  # only a saving lost: the next digest assesses it again
                log.warning("risk snapshot not stored", extra={"error": type(exc).__name__})
        at_risk = [a for a in current if a.level == AT_RISK]
        now_ids = {a.account.id for a in at_risk}
        recovered = [
            a for a in current if a.account.id in was_at_risk and a.level in (HEALTHY, WATCH)
        ]
        overdue: dict[int, list[PromiseDetail]] = defaultdict(list)
        for detail in overdue_list:
            if detail.promise.account_id in now_ids:
                overdue[detail.promise.account_id].append(detail)
        series = await self.trend(team_id=team_id, now=now, current=current) if chart else []
        return Digest(
            team_id=team_id,
            start=start,
            end=now,
            tiers=tiers,
            accounts=len(current),
            at_risk=at_risk,
            watch=sum(1 for a in current if a.level == WATCH),
            new_at_risk=frozenset(now_ids - was_at_risk),
            recovered=recovered,
            this_week=this_week,
            last_week=last_week,
            asked=asked,
            answered=answered,
            kept=kept,
            overdue=dict(overdue),
            chart=series,
        )

    async def trend(
        self, *, team_id: str, now: datetime, current: list[Assessment]
    ) -> list[Snapshot]:
        """At-risk count and average trust for the last 12 weeks (missing weeks computed once).

        Week k of the chart is as the digest saw it at the same moment k weeks ago; weeks
        already stored are read back, the missing ones are computed together in one pass
        and stored, so the chart costs about one extra assessment at most.
        """
        this_monday = week_monday(now)
        first = this_monday - timedelta(weeks=CHART_WEEKS - 1)
        async with self.svc.engine.connect() as conn:
            stored = await snapshots(conn, team_id=team_id, since=first)
        weeks = [first + timedelta(weeks=k) for k in range(CHART_WEEKS)]
        missing = [w for w in weeks[:-1] if w not in stored]
        computed: dict[date, Snapshot] = {}
        if missing:
            back = (this_monday - min(missing)).days // 7
            series = await self._assess_weekly(team_id=team_id, now=now, tiers=(), weeks_back=back)
            async with self.svc.engine.begin() as conn:
                for week in missing:
                    ago = (this_monday - week).days // 7
                    snap = _snapshot(week, series[ago])
                    await save_snapshot(conn, team_id=team_id, snapshot=snap, now=now)
                    computed[week] = snap
        return [
            _snapshot(week, current) if week == this_monday else stored.get(week) or computed[week]
            for week in weeks
        ]


def _snapshot(week: date, assessed: list[Assessment]) -> Snapshot:
    trusts = [a.trust for a in assessed if a.trust is not None]
    return Snapshot(
        at_risk_ids=frozenset(a.account.id for a in assessed if a.level == AT_RISK),
        week=week,
        at_risk=sum(1 for a in assessed if a.level == AT_RISK),
        watch=sum(1 for a in assessed if a.level == WATCH),
        healthy=sum(1 for a in assessed if a.level == HEALTHY),
        unknown=sum(1 for a in assessed if a.level == UNKNOWN),
        avg_trust=sum(trusts) / len(trusts) if trusts else None,
    )
