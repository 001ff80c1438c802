"""The relationship risk model: pure, deterministic, explained in words.

Each account is scored as of an instant `now` from the signals storage gathers
(`storage.models.AccountSignals`). Every rule that fires adds points and one reason in
plain words with its numbers; the level follows from the total. README "Risk model"
documents the same table; `RiskRules` holds every weight and threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from storage.models import Account, AccountSignals

HEALTHY, WATCH, AT_RISK, UNKNOWN = "healthy", "watch", "at_risk", "unknown"
LEVEL_WORDS = {
    HEALTHY: "healthy",
    WATCH: "watch",
    AT_RISK: "at risk",
    UNKNOWN: "not enough data",
}
LEVEL_ORDER = {AT_RISK: 0, WATCH: 1, UNKNOWN: 2, HEALTHY: 3}
TIER_WORDS = {7: "weekly", 14: "every two weeks", 30: "monthly"}
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class RiskRules:
    """Weights and thresholds of the model (see README, "Risk model")."""

    window_weeks: int = 12  # ratings, broken promises and complaints look this far back
    recent_days: int = 28  # unanswered check-ins and concerns look this far back
    half_life_weeks: float = 4.0  # a rating's weight halves every four weeks
    trust_low: float = 2.5
    trust_low_points: int = 30
    trust_middling: float = 3.25
    trust_middling_points: int = 15
    trend_min_ratings: int = 4
    trend_fall: float = 1.0
    trend_fall_points: int = 25
    trend_dip: float = 0.5
    trend_dip_points: int = 10
    overdue_points: int = 15  # per overdue promise
    overdue_cap: int = 45
    broken_points: int = 10  # per broken promise in the window
    broken_cap: int = 30
    kept_rate_min_resolved: int = 3
    kept_rate_below: float = 0.6
    kept_rate_points: int = 15
    cadence_days: dict[str, int] = field(default_factory=lambda: {"A": 7, "B": 14, "C": 30})
    silence_over_points: int = 10  # more days than the cadence
    silence_double_points: int = 25  # twice the cadence or more
    blind_spot_min_asked: int = 3
    blind_spot_share: float = 0.5
    blind_spot_points: int = 15
    complaint_grace_days: int = 2
    complaint_points: int = 20
    concern_points: int = 10  # per concern, capped
    concern_cap: int = 20
    worse_min: int = 2
    worse_points: int = 10
    watch_at: int = 20
    at_risk_at: int = 40
    tier_weight: dict[str, float] = field(default_factory=lambda: {"A": 3.0, "B": 2.0, "C": 1.0})


@dataclass(frozen=True)
class Reason:
    """One rule that fired: its points and what it means, in words (not yet escaped)."""

    code: str
    points: int
    text: str


@dataclass(frozen=True)
class Assessment:
    """An account's risk as of one instant."""

    account: Account
    level: str
    score: int
    reasons: tuple[Reason, ...]
    trust: float | None  # recency-weighted average rating over the window
    trend: tuple[float | None, ...]  # weekly averages, oldest first
    weight: float = 1.0
    priority: float = 0.0

    @property
    def level_words(self) -> str:
        """The level as users read it."""
        return LEVEL_WORDS[self.level]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cadence_words(days: int) -> str:
    return TIER_WORDS.get(days, f"contact every {days} days")


def weighted_trust(signals: AccountSignals, rules: RiskRules) -> float | None:
    """Recency-weighted average rating over the window (None without answers)."""
    total = weight = 0.0
    for week in signals.weeks:
        if week.weeks_ago >= rules.window_weeks or week.answers <= 0:
            continue
        w = week.answers * 0.5 ** (week.weeks_ago / rules.half_life_weeks)
        total += week.average * w
        weight += w
    return total / weight if weight else None


def weekly_trend(signals: AccountSignals, weeks: int = 8) -> tuple[float | None, ...]:
    """Average rating per week for the last `weeks` weeks, oldest first (None: no answers)."""
    by_week = {w.weeks_ago: w.average for w in signals.weeks if w.answers > 0}
    return tuple(by_week.get(ago) for ago in range(weeks - 1, -1, -1))


def sparkline(values: Sequence[float | None]) -> str:
    """Ratings 1–5 as block characters; a week without answers is a dot."""
    out = []
    for v in values:
        if v is None:
            out.append("·")
        else:
            level = min(max((v - 1) / 4, 0.0), 1.0)
            out.append(SPARK[round(level * (len(SPARK) - 1))])
    return "".join(out)


def trend_split(
    signals: AccountSignals, rules: RiskRules
) -> tuple[tuple[float, int], tuple[float, int]] | None:
    """Earlier and recent average ratings with their counts, or None with too few ratings.

    Recent = the newest weeks holding at least 3 ratings; earlier = the weeks before them
    holding at least 3 more (or what there is). Whole weeks keep it a windowed aggregate.
    """
    window = rules.window_weeks
    weeks = [w for w in signals.weeks if w.weeks_ago < window and w.answers > 0]
    total = 0
    for w in weeks:
        total += w.answers
    if total < rules.trend_min_ratings:
        return None
    weeks.sort()  # storage hands them over in order already, so this costs one pass
    groups: list[list[float]] = [[0.0, 0.0], [0.0, 0.0]]  # [sum, count] recent, earlier
    g = 0
    for _, average, count in weeks:
        if g == 0 and groups[0][1] >= 3:
            g = 1
        if g == 1 and groups[1][1] >= 3:
            break
        groups[g][0] += average * count
        groups[g][1] += count
    if groups[1][1] == 0:
        return None
    recent = (groups[0][0] / groups[0][1], int(groups[0][1]))
    earlier = (groups[1][0] / groups[1][1], int(groups[1][1]))
    return earlier, recent


def _trust_reasons(signals: AccountSignals, trust: float | None, rules: RiskRules) -> list[Reason]:
    reasons: list[Reason] = []
    answered = sum(w.answers for w in signals.weeks if w.weeks_ago < rules.window_weeks)
    if trust is not None:
        said = f"trust is {trust:.1f} on average over {_plural(answered, 'check-in')}"
        if trust < rules.trust_low:
            reasons.append(Reason("trust_low", rules.trust_low_points, said))
        elif trust < rules.trust_middling:
            reasons.append(Reason("trust_low", rules.trust_middling_points, said))
    split = trend_split(signals, rules)
    if split is not None:
        (earlier, _), (recent, recent_n) = split
        fall = earlier - recent
        said = (
            f"trust fell from {earlier:.1f} to {recent:.1f} over the last "
            f"{_plural(recent_n, 'check-in')}"
        )
        if fall >= rules.trend_fall:
            reasons.append(Reason("trust_fell", rules.trend_fall_points, said))
        elif fall >= rules.trend_dip:
            reasons.append(Reason("trust_fell", rules.trend_dip_points, said))
    return reasons


def _promise_reasons(signals: AccountSignals, now: datetime, rules: RiskRules) -> list[Reason]:
    reasons: list[Reason] = []
    if signals.overdue:
        points = min(signals.overdue * rules.overdue_points, rules.overdue_cap)
        oldest = (now.date() - signals.oldest_due).days if signals.oldest_due else None
        days = f" (oldest {_plural(oldest, 'day')})" if oldest and signals.overdue > 1 else ""
        if oldest and signals.overdue == 1:
            days = f" ({_plural(oldest, 'day')})"
        said = f"{_plural(signals.overdue, 'promise')} overdue{days}"
        reasons.append(Reason("overdue", points, said))
    if signals.broken:
        points = min(signals.broken * rules.broken_points, rules.broken_cap)
        said = f"{_plural(signals.broken, 'promise')} broken in the last {rules.window_weeks} weeks"
        reasons.append(Reason("broken", points, said))
    resolved = signals.kept_on_time + signals.kept_late + signals.broken
    if resolved >= rules.kept_rate_min_resolved:
        rate = signals.kept_on_time / resolved
        if rate < rules.kept_rate_below:
            said = (
                f"{signals.kept_on_time} of {resolved} promises kept on time ({rate:.0%})"
            ).replace("%", " %")
            reasons.append(Reason("kept_rate", rules.kept_rate_points, said))
    return reasons


def _contact_reasons(signals: AccountSignals, now: datetime, rules: RiskRules) -> list[Reason]:
    reasons: list[Reason] = []
    tier = signals.account.tier
    cadence = rules.cadence_days.get(tier, 14)
    since = signals.last_contact_at or signals.account.created_at
    days = (now - since).days
    words = "no contact" if signals.last_contact_at else "no contact logged"
    said = f"{words} for {days} days; tier {tier} expects {_cadence_words(cadence)}"
    if days >= 2 * cadence:
        reasons.append(Reason("silence", rules.silence_double_points, said))
    elif days > cadence:
        reasons.append(Reason("silence", rules.silence_over_points, said))
    if (
        signals.asked >= rules.blind_spot_min_asked
        and signals.unanswered / signals.asked >= rules.blind_spot_share
    ):
        said = (
            f"{signals.unanswered} of {signals.asked} check-ins went unanswered "
            f"in the last {rules.recent_days // 7} weeks"
        )
        reasons.append(Reason("blind_spot", rules.blind_spot_points, said))
    complaint = signals.last_complaint_at
    if complaint is not None and (
        signals.last_contact_at is None or signals.last_contact_at <= complaint
    ):
        age = (now - complaint).days
        if age >= rules.complaint_grace_days:
            said = f"complaint {age} days ago has no follow-up yet"
            reasons.append(Reason("complaint", rules.complaint_points, said))
    return reasons


def _concern_reasons(signals: AccountSignals, rules: RiskRules) -> list[Reason]:
    reasons: list[Reason] = []
    weeks = rules.recent_days // 7
    if signals.concerns:
        points = min(signals.concerns * rules.concern_points, rules.concern_cap)
        latest = (signals.latest_concern or "").strip()
        if len(latest) > 80:
            latest = latest[:79] + "…"
        quoted = f' (latest: "{latest}")' if latest else ""
        said = f"{_plural(signals.concerns, 'concern')} raised in the last {weeks} weeks{quoted}"
        reasons.append(Reason("concerns", points, said))
    if signals.worse >= rules.worse_min:
        said = f"{signals.worse} check-ins in the last {weeks} weeks say things got worse"
        reasons.append(Reason("worse", rules.worse_points, said))
    return reasons


def assess(
    signals: AccountSignals,
    *,
    now: datetime,
    rules: RiskRules | None = None,
    weight: float = 1.0,
) -> Assessment:
    """Score one account as of `now`: level, points and the reasons behind them."""
    rules = rules or RiskRules()
    trust = weighted_trust(signals, rules)
    reasons = [
        *_trust_reasons(signals, trust, rules),
        *_promise_reasons(signals, now, rules),
        *_contact_reasons(signals, now, rules),
        *_concern_reasons(signals, rules),
    ]
    reasons.sort(key=lambda r: (-r.points, r.code))
    score = sum(r.points for r in reasons)
    if score >= rules.at_risk_at:
        level = AT_RISK
    elif score >= rules.watch_at:
        level = WATCH
    elif trust is None:
        level = UNKNOWN
    else:
        level = HEALTHY
    return Assessment(
        account=signals.account,
        level=level,
        score=score,
        reasons=tuple(reasons),
        trust=trust,
        trend=weekly_trend(signals),
        weight=weight,
        priority=math.floor(score * weight * 100) / 100,
    )


def account_weight(account: Account, *, top_value: float, rules: RiskRules | None = None) -> float:
    """What an account is worth to rank by: tier weight × (1 + value / the largest value)."""
    rules = rules or RiskRules()
    base = rules.tier_weight.get(account.tier, 1.0)
    value = float(account.yearly_value or 0)
    share = value / top_value if top_value > 0 else 0.0
    return base * (1 + min(max(share, 0.0), 1.0))


def _order(a: Assessment) -> tuple[int, float, float, str]:
    return (LEVEL_ORDER[a.level], -a.priority, -a.weight, a.account.name.casefold())


def assess_ranked(
    signals: Iterable[AccountSignals], *, now: datetime, rules: RiskRules | None = None
) -> list[Assessment]:
    """Assess every account, weigh each by its worth and rank them (one pass, no copies)."""
    rules = rules or RiskRules()
    items = list(signals)
    top = max((float(s.account.yearly_value or 0) for s in items), default=0.0)
    out = [
        assess(
            s, now=now, rules=rules, weight=account_weight(s.account, top_value=top, rules=rules)
        )
        for s in items
    ]
    out.sort(key=_order)
    return out


def rank(assessments: Iterable[Assessment], rules: RiskRules | None = None) -> list[Assessment]:
    """Weigh each account's score by its worth and order: most urgent, most valuable first."""
    rules = rules or RiskRules()
    items = list(assessments)
    top = max((float(a.account.yearly_value or 0) for a in items), default=0.0)
    weighed = []
    for a in items:
        weight = account_weight(a.account, top_value=top, rules=rules)
        priority = math.floor(a.score * weight * 100) / 100
        weighed.append(replace(a, weight=weight, priority=priority))
    weighed.sort(key=_order)
    return weighed
