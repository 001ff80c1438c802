"""The risk model, table-driven: for each documented rule, a case that fires and one that just does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.risk import (
    AT_RISK,
    HEALTHY,
    UNKNOWN,
    WATCH,
    RiskRules,
    assess,
    rank,
    sparkline,
    weighted_trust,
)
from storage.models import Account, AccountSignals, WeekRating

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RULES = RiskRules()


def account(tier: str = "A", value: int | None = None, name: str = "Acme", id: int = 1) -> Account:
    return Account(
        id=id,
        team_id="T1",
        name=name,
        tier=tier,
        yearly_value=Decimal(value) if value is not None else None,
        owner_id="UALICE",
        created_by="UALICE",
        created_at=NOW - timedelta(days=400),
    )


def steady(**changes: object) -> AccountSignals:
    """A healthy account: rated 4 every week, talked to yesterday, promises kept."""
    base = AccountSignals(
        account=account(),
        weeks=tuple(WeekRating(k, 4.0, 1) for k in range(12)),
        last_contact_at=NOW - timedelta(days=1),
        asked=4,
        unanswered=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def ws(*ratings: float) -> tuple[WeekRating, ...]:
    """One rating a week, newest first."""
    return tuple(WeekRating(k, float(r), 1) for k, r in enumerate(ratings))


def codes(signals: AccountSignals) -> dict[str, int]:
    return {r.code: r.points for r in assess(signals, now=NOW).reasons}


def test_steady_account_is_healthy_without_reasons() -> None:
    result = assess(steady(), now=NOW)
    assert result.level == HEALTHY
    assert result.score == 0 and result.reasons == ()
    assert result.trust == pytest.approx(4.0)


CASES = [
    # (rule, signals, expected points or None when it must not fire, words in the reason)
    (
        "trust_low",
        steady(weeks=(WeekRating(0, 2.4, 2),)),
        30,
        "trust is 2.4 on average over 2 check-ins",
    ),
    ("trust_low", steady(weeks=(WeekRating(0, 2.5, 2),)), 15, "trust is 2.5"),
    ("trust_low", steady(weeks=(WeekRating(0, 3.2, 1),)), 15, "3.2"),
    ("trust_low", steady(weeks=(WeekRating(0, 3.25, 1),)), None, ""),
    (
        "trust_fell",
        steady(weeks=ws(2, 3, 3, 4, 5, 4)),
        25,
        "trust fell from 4.3 to 2.7 over the last 3 check-ins",
    ),
    ("trust_fell", steady(weeks=ws(3, 3, 4, 4, 4, 4)), 10, "from 4.0 to 3.3"),
    ("trust_fell", steady(weeks=ws(4, 4, 4, 4, 4, 5)), None, ""),  # a dip of 0.33
    ("trust_fell", steady(weeks=ws(1, 1, 1)), None, ""),  # too few to call a trend
    (
        "trust_fell",
        steady(weeks=(WeekRating(0, 2.0, 4), WeekRating(1, 4.0, 3))),
        25,
        "from 4.0 to 2.0 over the last 4 check-ins",
    ),
    (
        "trust_fell",
        steady(weeks=(WeekRating(0, 1.0, 3), WeekRating(13, 5.0, 3))),
        None,
        "",
    ),  # earlier is outside the window
    (
        "overdue",
        steady(overdue=2, oldest_due=date(2026, 11, 14)),
        30,
        "2 promises overdue (oldest 9 days)",
    ),
    ("overdue", steady(overdue=1, oldest_due=date(2026, 11, 20)), 15, "1 promise overdue (3 days)"),
    ("overdue", steady(overdue=5, oldest_due=date(2026, 11, 1)), 45, "5 promises overdue"),
    ("overdue", steady(overdue=0, open_promises=3), None, ""),
    ("broken", steady(broken=1, kept_on_time=5), 10, "1 promise broken in the last 12 weeks"),
    ("broken", steady(broken=4, kept_on_time=20), 30, "4 promises broken"),
    ("broken", steady(broken=0), None, ""),
    ("kept_rate", steady(kept_on_time=1, kept_late=2), 15, "1 of 3 promises kept on time (33 %)"),
    ("kept_rate", steady(kept_on_time=3, kept_late=2), None, ""),  # 60 % is not below 60 %
    ("kept_rate", steady(kept_on_time=0, kept_late=2), None, ""),  # too few resolved
    (
        "silence",
        steady(last_contact_at=NOW - timedelta(days=34)),
        25,
        "no contact for 34 days; tier A expects weekly",
    ),
    ("silence", steady(last_contact_at=NOW - timedelta(days=14)), 25, "14 days"),
    ("silence", steady(last_contact_at=NOW - timedelta(days=8)), 10, "no contact for 8 days"),
    ("silence", steady(last_contact_at=NOW - timedelta(days=7)), None, ""),
    ("silence", steady(account=account("C"), last_contact_at=NOW - timedelta(days=30)), None, ""),
    (
        "silence",
        steady(account=account("C"), last_contact_at=NOW - timedelta(days=31)),
        10,
        "tier C expects monthly",
    ),
    (
        "silence",
        steady(account=account("B"), last_contact_at=NOW - timedelta(days=15)),
        10,
        "every two weeks",
    ),
    ("silence", steady(last_contact_at=None), 25, "no contact logged for 400 days"),
    (
        "blind_spot",
        steady(asked=4, unanswered=2),
        15,
        "2 of 4 check-ins went unanswered in the last 4 weeks",
    ),
    ("blind_spot", steady(asked=5, unanswered=2), None, ""),
    ("blind_spot", steady(asked=2, unanswered=2), None, ""),  # too few asked
    (
        "complaint",
        steady(last_contact_at=NOW - timedelta(days=3), last_complaint_at=NOW - timedelta(days=3)),
        20,
        "complaint 3 days ago has no follow-up yet",
    ),
    (
        "complaint",
        steady(last_contact_at=NOW - timedelta(days=1), last_complaint_at=NOW - timedelta(days=1)),
        None,
        "",
    ),  # within grace
    (
        "complaint",
        steady(last_contact_at=NOW - timedelta(days=1), last_complaint_at=NOW - timedelta(days=5)),
        None,
        "",
    ),  # followed up
    (
        "concerns",
        steady(concerns=1, latest_concern="pricing <!channel>"),
        10,
        '1 concern raised in the last 4 weeks (latest: "pricing <!channel>")',
    ),
    ("concerns", steady(concerns=3, latest_concern="x"), 20, "3 concerns"),
    ("concerns", steady(concerns=0), None, ""),
    ("worse", steady(worse=2), 10, "2 check-ins in the last 4 weeks say things got worse"),
    ("worse", steady(worse=1), None, ""),
]


@pytest.mark.parametrize(("rule", "signals", "points", "words"), CASES)
def test_rule(rule: str, signals: AccountSignals, points: int | None, words: str) -> None:
    result = assess(signals, now=NOW)
    fired = [r for r in result.reasons if r.code == rule]
    if points is None:
        assert not fired, fired
    else:
        assert len(fired) == 1
        assert fired[0].points == points
        assert words in fired[0].text


@pytest.mark.parametrize(
    ("signals", "level"),
    [
        (steady(), HEALTHY),
        (steady(last_contact_at=NOW - timedelta(days=8)), HEALTHY),  # 10 points
        (steady(last_contact_at=NOW - timedelta(days=8), concerns=1), WATCH),  # 20 points
        (steady(overdue=2, oldest_due=date(2026, 11, 20)), WATCH),  # 30 points
        (steady(overdue=2, oldest_due=date(2026, 11, 20), broken=1), AT_RISK),  # 40 points
        (steady(weeks=()), UNKNOWN),  # no answers: not enough data
        (steady(weeks=(), overdue=3, oldest_due=date(2026, 11, 1)), AT_RISK),
    ],
)
def test_levels_follow_the_score(signals: AccountSignals, level: str) -> None:
    assert assess(signals, now=NOW).level == level


def test_new_account_without_history_is_not_enough_data() -> None:
    fresh = replace(account(), created_at=NOW - timedelta(days=2))
    result = assess(AccountSignals(account=fresh), now=NOW)
    assert result.level == UNKNOWN and result.level_words == "not enough data"
    assert result.reasons == ()


def test_reasons_come_biggest_first() -> None:
    result = assess(
        steady(
            concerns=1,
            overdue=3,
            oldest_due=date(2026, 11, 1),
            last_contact_at=NOW - timedelta(days=8),
        ),
        now=NOW,
    )
    assert [r.code for r in result.reasons] == ["overdue", "concerns", "silence"]
    assert result.score == 45 + 10 + 10


def test_recent_ratings_weigh_more() -> None:
    recent_bad = steady(weeks=(WeekRating(0, 2.0, 1), WeekRating(8, 5.0, 1)))
    old_bad = steady(weeks=(WeekRating(0, 5.0, 1), WeekRating(8, 2.0, 1)))
    assert weighted_trust(recent_bad, RULES) == pytest.approx((2 + 5 * 0.25) / 1.25)
    assert weighted_trust(recent_bad, RULES) < 3.5 < weighted_trust(old_bad, RULES)  # type: ignore[operator]


def test_ratings_outside_the_window_are_ignored() -> None:
    assert weighted_trust(steady(weeks=(WeekRating(12, 1.0, 5),)), RULES) is None


def test_cadence_is_configurable() -> None:
    rules = RiskRules(cadence_days={"A": 3, "B": 14, "C": 30})
    result = assess(steady(last_contact_at=NOW - timedelta(days=4)), now=NOW, rules=rules)
    assert [r.code for r in result.reasons] == ["silence"]
    assert "tier A expects contact every 3 days" in result.reasons[0].text


def test_ranking_puts_valuable_risky_accounts_first() -> None:
    risky = dict(overdue=3, oldest_due=date(2026, 11, 1))
    small = assess(steady(account=account("C", 10_000, "Small", 1), **risky), now=NOW)
    big = assess(steady(account=account("A", 900_000, "Big", 2), **risky), now=NOW)
    mid = assess(steady(account=account("B", 100_000, "Mid", 3), **risky), now=NOW)
    fine = assess(steady(account=account("A", 1_000_000, "Fine", 4)), now=NOW)
    ranked = rank([small, fine, mid, big])
    assert [a.account.name for a in ranked] == ["Big", "Mid", "Small", "Fine"]
    assert ranked[0].weight == pytest.approx(3 * (1 + 0.9))
    assert ranked[0].priority > ranked[1].priority > ranked[2].priority


def test_more_risk_outranks_more_value_within_reason() -> None:
    slightly = assess(
        steady(
            account=account("A", 1_000_000, "Big", 1),
            concerns=2,
            last_contact_at=NOW - timedelta(days=8),
        ),
        now=NOW,
    )
    badly = assess(
        steady(
            account=account("B", 500_000, "Mid", 2),
            overdue=3,
            oldest_due=date(2026, 11, 1),
            broken=3,
        ),
        now=NOW,
    )
    assert [a.account.name for a in rank([slightly, badly])] == ["Mid", "Big"]


def test_assessment_is_deterministic() -> None:
    signals = steady(concerns=2, latest_concern="late", overdue=1, oldest_due=date(2026, 11, 1))
    assert assess(signals, now=NOW) == assess(signals, now=NOW)


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], "▁▃▅▆█"),
        ([None, 5.0, None], "·█·"),
        ([], ""),
        ([0.0, 9.0], "▁█"),  # out-of-range values are clamped
    ],
)
def test_sparkline(values: list[float | None], line: str) -> None:
    assert sparkline(values) == line


def test_trend_is_eight_weeks_oldest_first() -> None:
    result = assess(
        steady(weeks=(WeekRating(0, 2.0, 1), WeekRating(7, 5.0, 1), WeekRating(9, 1.0, 1))), now=NOW
    )
    assert result.trend == (5.0, None, None, None, None, None, None, 2.0)


def test_assess_ranked_matches_assess_then_rank() -> None:
    from bot.risk import assess_ranked

    risky = dict(overdue=3, oldest_due=date(2026, 11, 1))
    signals = [
        steady(account=account("C", 10_000, "Small", 1), **risky),
        steady(account=account("A", 900_000, "Big", 2), **risky),
        steady(account=account("A", 1_000_000, "Fine", 4)),
        steady(account=account("B", None, "Mid", 3), concerns=2),
    ]
    assert assess_ranked(signals, now=NOW) == rank(assess(s, now=NOW) for s in signals)
