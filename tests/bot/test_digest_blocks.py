"""The digest, account card and ranked list builders: structure, Slack's limits, escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.health import AccountCard, Digest, WeekFigures
from bot.health_blocks import (
    PAGE_SIZE,
    build_account_card,
    build_accounts_page,
    build_digest,
    digest_text,
)
from bot.localslack.limits import check_blocks, check_message
from bot.risk import assess
from storage.models import Account, AccountSignals, Interaction, WeekRating

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EVIL = "<!channel> *bold* <https://evil.example|click> & <@U123>"


def account(n: int, name: str | None = None, tier: str = "A") -> Account:
    return Account(
        id=n,
        team_id="T1",
        name=name or f"Client {n}",
        tier=tier,
        yearly_value=Decimal(100_000 + n),
        owner_id="UALICE",
        created_by="UALICE",
        created_at=NOW - timedelta(days=300),
    )


def risky(n: int, name: str | None = None, concern: str = "pricing"):
    signals = AccountSignals(
        account=account(n, name),
        weeks=(WeekRating(0, 1.5, 2), WeekRating(3, 4.5, 3)),
        last_contact_at=NOW - timedelta(days=40),
        overdue=2,
        oldest_due=date(2026, 11, 1),
        concerns=1,
        latest_concern=concern,
    )
    return assess(signals, now=NOW)


def digest(at_risk: int, *, accounts: int | None = None, name: str | None = None) -> Digest:
    items = [risky(n, name if n == 0 else None, concern=EVIL) for n in range(at_risk)]
    return Digest(
        team_id="T1",
        start=NOW - timedelta(days=7),
        end=NOW,
        tiers=(),
        accounts=accounts if accounts is not None else at_risk,
        at_risk=items,
        watch=3,
        new_at_risk=frozenset({0}),
        recovered=[],
        this_week=WeekFigures(4, 1, 2),
        last_week=WeekFigures(2, 0, 3),
        asked=10,
        answered=8,
        kept=[("Acme", "send the deck", "UBOB")],
    )


@pytest.mark.parametrize("count", [0, 1, 14, 15, 16, 40, 3000])
def test_digest_stays_within_slack_limits(count: int) -> None:
    blocks = build_digest(digest(count, accounts=max(count, 1)))
    assert check_blocks(blocks, max_blocks=50) == []
    assert (
        check_message(
            {"channel": "C1", "text": digest_text(digest(count))[:3000], "blocks": blocks}
        )
        == []
    )
    shown = [b for b in blocks if b.get("accessory", {}).get("action_id") == "account_open"]
    assert len(shown) == min(count, 15)
    tail = str(blocks)
    if count > 15:
        assert f"and {count - 15} more at-risk accounts" in tail and "/trust accounts" in tail
    else:
        assert "more at-risk accounts" not in tail


def test_digest_structure() -> None:
    blocks = build_digest(digest(2, accounts=30))
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "Trust digest · 16–23 Nov 2026"
    text = str(blocks)
    assert "*2 at risk* (1 new this week) · 0 recovered · 3 to watch · of 30 accounts" in text
    assert "kept on time 4 (last week 2)" in text and "broken 1 (last week 0)" in text
    assert "overdue 2 (last week 3)" in text
    assert "Check-ins answered* — 80 % (8 of 10)" in text
    assert ":new:" in text and "owner <@UALICE>" in text
    assert "2 promises overdue (oldest 22 days)" in text
    assert "`" in text  # the trend sparkline
    assert "*Wins* :tada:" in text and "send the deck" in text


def test_user_text_is_escaped_everywhere() -> None:
    d = digest(3, name="Acme <!here> & Co")
    concerned = assess(
        AccountSignals(
            account=account(9, "Zed"),
            weeks=(WeekRating(0, 4.0, 2),),
            last_contact_at=NOW - timedelta(days=1),
            overdue=3,
            oldest_due=date(2026, 11, 1),
            concerns=2,
            latest_concern=EVIL,
        ),
        now=NOW,
    )
    d.at_risk.append(concerned)
    blocks = build_digest(d)
    text = str(blocks)
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert "<https://evil.example" not in text
    assert "Acme &lt;!here&gt; &amp; Co" in text
    assert "&lt;!channel&gt;" in text


def test_empty_workspace_says_nothing_to_report() -> None:
    blocks = build_digest(digest(0, accounts=0))
    assert len(blocks) == 2 and "Nothing to report yet" in str(blocks)
    assert "Nothing to report yet" in digest_text(digest(0, accounts=0))


def test_quiet_week_says_no_account_is_at_risk() -> None:
    blocks = build_digest(digest(0, accounts=12))
    assert "No account is at risk this week" in str(blocks)


def test_digest_text_lists_every_account_with_reasons() -> None:
    text = digest_text(digest(20))
    assert text.count("\n1. ") == 1 and "\n20. Client 19" in text
    assert "   - 2 promises overdue (oldest 22 days)" in text


@pytest.mark.parametrize("total", [0, 1, 10, 11, 95])
def test_accounts_pages(total: int) -> None:
    ranked = [risky(n) for n in range(total)]
    pages = max(1, -(-total // PAGE_SIZE))
    for page in range(1, pages + 1):
        blocks = build_accounts_page(ranked, page=page)
        assert check_blocks(blocks, max_blocks=50) == []
        rows = [b for b in blocks if b.get("accessory")]
        assert len(rows) == (min(PAGE_SIZE, total - (page - 1) * PAGE_SIZE) if total else 0)
        nav = [b for b in blocks if b["type"] == "actions"]
        buttons = [e["text"]["text"] for b in nav for e in b["elements"]]
        assert ("◀ Previous" in buttons) == (page > 1)
        assert ("Next ▶" in buttons) == (page < pages)
    if total == 0:
        assert "No accounts yet" in str(build_accounts_page([], page=1))


def test_page_out_of_range_shows_the_last_page() -> None:
    ranked = [risky(n) for n in range(12)]
    assert "Page 2 of 2" in str(build_accounts_page(ranked, page=99))


def test_account_card_escapes_and_fits() -> None:
    a = risky(1, name="R&D <b>")
    interactions = [
        Interaction(
            id=k,
            team_id="T1",
            account_id=1,
            kind="call",
            occurred_at=NOW - timedelta(days=k),
            logged_by="UBOB",
            note=EVIL * 20,
            source="slash_command",
            created_at=NOW,
        )
        for k in range(5)
    ]
    card = AccountCard(a, [], 0, interactions, ["UBOB", "UCAROL"])
    blocks = build_account_card(card, now=NOW)
    assert check_blocks(blocks, max_blocks=50) == []
    text = str(blocks)
    assert "R&amp;D &lt;b&gt;" in text and "<!channel>" not in text
    assert "Team (last 6 months): <@UBOB>, <@UCAROL>" in text
    assert "*at risk*" in text
