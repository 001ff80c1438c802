"""Block Kit builders for account health: pure, escaped, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot import blocks, ids, promise_blocks
from bot.health import AccountCard, MyAccounts
from bot.health_blocks import (
    HOME_MAX_ACCOUNTS,
    build_account_card_modal,
    build_home_accounts,
)
from bot.localslack.limits import check_view
from bot.risk import AT_RISK, HEALTHY, UNKNOWN, Assessment, Reason
from storage.models import Account, Promise, PromiseDetail
from tests.bot.test_blocks import make_detail

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# --- home ---


def home_account(
    n: int, *, name: str | None = None, level: str = AT_RISK, reason: str | None = None
) -> Assessment:
    account = Account(
        id=n,
        team_id="T1",
        name=name or f"Client{n:02d}",
        tier="A",
        yearly_value=Decimal(1000),
        owner_id="UALICE",
        created_by="UALICE",
        created_at=NOW - timedelta(days=100),
    )
    reasons = (Reason("overdue", 45, reason or "3 promises overdue, the oldest by 5 days"),)
    return Assessment(
        account=account,
        level=level,
        score=45 if level == AT_RISK else 0,
        reasons=reasons if level == AT_RISK else (),
        trust=2.0 if level != UNKNOWN else None,
        trend=(None,) * 6 + (2.0, 1.0),
    )


def home_promise(n: int) -> PromiseDetail:
    promise = Promise(
        id=n,
        team_id="T1",
        account_id=1,
        interaction_id=None,
        text=f"send the deck {n}",
        owner_id="UALICE",
        created_by="UALICE",
        due_date=date(2026, 11, 30),
        status="open",
        created_at=NOW,
        since_at=NOW,
        closed_at=None,
        kept_on_time=None,
        renegotiations=0,
        reminder_seq=0,
        last_reminded_at=None,
    )
    return PromiseDetail(promise=promise, account_name="Acme", account_owner_id="UALICE")


def open_buttons(section: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in section if b.get("accessory", {}).get("action_id") == ids.OPEN_ACCOUNT]


def test_home_accounts_show_at_most_ten_then_how_many_more() -> None:
    mine = MyAccounts(accounts=[home_account(n) for n in range(1, 26)], owned=True)
    section = build_home_accounts(mine)
    rows = open_buttons(section)
    assert len(rows) == HOME_MAX_ACCOUNTS == 10
    assert section[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "My accounts", "emoji": True},
    }
    assert section[-1]["elements"][0]["text"] == "…and 15 more — `/trust accounts`"
    assert [r["accessory"]["value"] for r in rows] == [str(n) for n in range(1, 11)]
    first = rows[0]["text"]["text"]
    assert first.startswith(":red_circle: *Client01* · at risk\n3 promises overdue")
    assert "`······▃▁` trust 2.0 (8 weeks)" in first
    assert rows[0]["accessory"]["text"]["text"] == "Open"
    assert len(section) == 1 + 10 + 1


def test_home_accounts_escape_names_and_reasons() -> None:
    evil = "<!channel> & <@U1>"
    mine = MyAccounts(
        accounts=[home_account(1, name=evil, reason=f"concern: “{evil}”")], owned=True
    )
    text = open_buttons(build_home_accounts(mine))[0]["text"]["text"]
    assert "*&lt;!channel&gt; &amp; &lt;@U1&gt;*" in text
    assert "concern: “&lt;!channel&gt; &amp; &lt;@U1&gt;”" in text
    assert "<!channel>" not in text and "<@U1>" not in text


def test_home_accounts_without_reasons_and_when_taken_part_in() -> None:
    mine = MyAccounts(
        accounts=[home_account(1, level=HEALTHY), home_account(2, level=UNKNOWN)], owned=False
    )
    section = build_home_accounts(mine)
    assert "took part in over the last 8 weeks" in section[1]["elements"][0]["text"]
    rows = [r["text"]["text"] for r in open_buttons(section)]
    assert rows[0].startswith(":large_green_circle: *Client01* · healthy\nNothing flagged.")
    assert rows[1].startswith(":white_circle: *Client02* · not enough data\nNo check-in answers")
    assert "no ratings yet" in rows[1]


def test_home_accounts_empty_state() -> None:
    section = build_home_accounts(MyAccounts(accounts=[], owned=False))
    assert len(section) == 2 and open_buttons(section) == []
    assert section[1]["text"]["text"] == (
        "You don't own any accounts yet: `/trust account add <name> @you`"
    )


def test_full_home_stays_within_the_view_limits() -> None:
    """Every section at its largest (and a note) still fits the 100 blocks of a Home tab."""
    pending = [make_detail(n) for n in range(1, 30)]
    promises = [home_promise(n) for n in range(1, 30)]
    mine = MyAccounts(accounts=[home_account(n) for n in range(1, 30)], owned=False)
    view = blocks.build_home(
        pending[: blocks.HOME_MAX_CHECKINS],
        total_pending=len(pending),
        away=None,
        promises=promise_blocks.build_home_promises(
            promises[: blocks.HOME_MAX_PROMISES],
            total=len(promises),
            today=NOW.date(),
            limit=blocks.HOME_MAX_PROMISES,
        ),
        accounts=build_home_accounts(mine),
    )
    assert check_view(view) == []
    assert len(view["blocks"]) <= blocks.HOME_MAX_BLOCKS
    assert len(open_buttons(view["blocks"])) == 10
    assert "…and 19 more — `/trust accounts`" in str(view["blocks"])


def test_account_card_modal_within_modal_limits() -> None:
    card = AccountCard(
        assessment=home_account(1, name="<!channel> " + "x" * 300),
        open_promises=[home_promise(n) for n in range(1, 6)],
        open_count=9,
        interactions=[],
        team=["UALICE", "UBOB"],
    )
    view = build_account_card_modal(card, NOW)
    assert view["type"] == "modal"
    assert view["title"]["text"] == "Account" and view["close"]["text"] == "Close"
    assert "submit" not in view
    assert check_view(view) == []
    shown = str(view["blocks"])
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "Open promises (9)" in shown
