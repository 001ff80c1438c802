"""Block Kit for account health: the account card, the ranked list and the weekly digest.

Pure functions of the typed results in `bot.health`; every user-written text (account
names, reasons quoting concerns, promise texts) is escaped, and every message stays within
Slack's limits (50 blocks, 3,000 characters a section).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot import ids
from bot.blocks import Block, _button, _context, _plain, _section, mention, slack_date
from bot.health import RECENT_PARTICIPATION_WEEKS, AccountCard, Digest, MyAccounts, WeekFigures
from bot.promise_blocks import describe_promise
from bot.risk import AT_RISK, HEALTHY, UNKNOWN, WATCH, Assessment, sparkline
from bot.text import escape, truncate

LEVEL_ICON = {
    AT_RISK: ":red_circle:",
    WATCH: ":large_yellow_circle:",
    HEALTHY: ":large_green_circle:",
    UNKNOWN: ":white_circle:",
}
PAGE_SIZE = 10
DIGEST_MAX_ACCOUNTS = 15
MAX_BLOCKS = 50
MODAL_MAX_BLOCKS = 100
HOME_MAX_ACCOUNTS = 10
NO_ACCOUNTS = "You don't own any accounts yet: `/trust account add <name> @you`"


def _value(value: Decimal | None) -> str:
    if value is None:
        return ""
    v = float(value)
    if v >= 1_000_000:
        return f"{v / 1_000_000:.1f}M".replace(".0M", "M")
    if v >= 1_000:
        return f"{v / 1_000:.0f}k"
    return f"{v:.0f}"


def _headline(a: Assessment) -> str:
    acc = a.account
    parts = [f"tier {acc.tier}"]
    if acc.yearly_value is not None:
        parts.append(f"value {_value(acc.yearly_value)}")
    parts.append(f"owner {mention(acc.owner_id)}" if acc.owner_id else "no owner")
    return f"{LEVEL_ICON[a.level]} *{escape(acc.name)}* · " + " · ".join(parts)


def _trend(a: Assessment) -> str:
    trust = f"trust {a.trust:.1f}" if a.trust is not None else "no ratings yet"
    return f"`{sparkline(a.trend)}` {trust} (8 weeks)"


def _reasons(a: Assessment, limit: int = 3) -> str:
    return "\n".join(f"• {escape(r.text)}" for r in a.reasons[:limit])


# --- /trust account <name> ------------------------------------------------------------


def build_account_card(card: AccountCard, *, now: datetime) -> list[Block]:
    """The account card: level and reasons, trend, open promises, last interactions, team."""
    a = card.assessment
    level = f"*{a.level_words}*" + (f" (risk score {a.score})" if a.score else "")
    blocks: list[Block] = [
        _section(_headline(a)),
        _section(f"{level}\n{_reasons(a, limit=6)}" if a.reasons else level),
        _context(_trend(a)),
    ]
    if card.open_promises:
        lines = [describe_promise(d, today=now.date()) for d in card.open_promises]
        more = card.open_count - len(card.open_promises)
        if more > 0:
            lines.append(f"…and {more} more: `/promise list {escape(a.account.name)}`")
        blocks.append(_section(f"*Open promises ({card.open_count})*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("*Open promises*\nNone."))
    if card.interactions:
        lines = []
        for i in card.interactions:
            note = f" — {escape(truncate(i.note, 120))}" if i.note else ""
            lines.append(f"• {slack_date(i.occurred_at)} {i.kind} by {mention(i.logged_by)}{note}")
        blocks.append(_section("*Last interactions*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("*Last interactions*\nNone logged yet: `/checkin` logs one."))
    team = ", ".join(mention(u) for u in card.team[:15]) or "nobody yet"
    blocks.append(_context(f"Team (last 6 months): {team}"))
    return blocks


def build_account_card_modal(card: AccountCard, now: datetime) -> dict[str, Any]:
    """The account card in a modal: for "Open" clicked where there is no message to answer."""
    return {
        "type": "modal",
        "title": _plain("Account"),
        "close": _plain("Close"),
        "blocks": build_account_card(card, now=now)[:MODAL_MAX_BLOCKS],
    }


def account_card_text(card: AccountCard) -> str:
    """Notification text for the account card."""
    a = card.assessment
    return f"{a.account.name}: {a.level_words}"


# --- /trust accounts ------------------------------------------------------------------


def build_accounts_page(ranked: list[Assessment], *, page: int) -> list[Block]:
    """One page of accounts ranked by weighted risk, with previous / next buttons."""
    if not ranked:
        return [
            _section(
                "No accounts yet. Add one with "
                "`/trust account add <name> [tier A|B|C] [value <number>] [@owner]`."
            )
        ]
    pages = (len(ranked) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 1), pages)
    counts = {level: sum(1 for a in ranked if a.level == level) for level in LEVEL_ICON}
    blocks: list[Block] = [
        _section(
            f"*Accounts by risk* — {counts[AT_RISK]} at risk · {counts[WATCH]} to watch · "
            f"{counts[HEALTHY]} healthy · {counts[UNKNOWN]} not enough data"
        )
    ]
    start = (page - 1) * PAGE_SIZE
    for rank_no, a in enumerate(ranked[start : start + PAGE_SIZE], start=start + 1):
        top = escape(a.reasons[0].text) if a.reasons else a.level_words
        block = _section(f"{rank_no}. {_headline(a)}\n{top}\n{_trend(a)}")
        block["accessory"] = _button("Open", ids.OPEN_ACCOUNT, str(a.account.id))
        blocks.append(block)
    nav = []
    if page > 1:
        nav.append(_button("◀ Previous", ids.ACCOUNTS_PAGE + "_prev", str(page - 1)))
    if page < pages:
        nav.append(_button("Next ▶", ids.ACCOUNTS_PAGE + "_next", str(page + 1)))
    blocks.append(_context(f"Page {page} of {pages} · {len(ranked)} accounts"))
    if nav:
        blocks.append({"type": "actions", "block_id": ids.ACCOUNTS_NAV_BLOCK, "elements": nav})
    return blocks


# --- App Home: my accounts -----------------------------------------------------------


def _home_account(a: Assessment) -> Block:
    if a.reasons:
        top = escape(a.reasons[0].text)
    elif a.level == UNKNOWN:
        top = "No check-in answers yet."
    else:
        top = "Nothing flagged."
    block = _section(
        f"{LEVEL_ICON[a.level]} *{escape(a.account.name)}* · {a.level_words}\n{top}\n{_trend(a)}"
    )
    block["accessory"] = _button("Open", ids.OPEN_ACCOUNT, str(a.account.id))
    return block


def build_home_accounts(mine: MyAccounts, *, limit: int = HOME_MAX_ACCOUNTS) -> list[Block]:
    """The "My accounts" part of the App Home: riskiest first, each with an Open button.

    At most `limit` accounts plus 3 more blocks (header, a note, "and N more").
    """
    blocks: list[Block] = [{"type": "header", "text": _plain("My accounts")}]
    if not mine.accounts:
        blocks.append(_section(NO_ACCOUNTS))
        return blocks
    if not mine.owned:
        blocks.append(
            _context(
                "You don't own any accounts yet; these are the ones you took part in "
                f"over the last {RECENT_PARTICIPATION_WEEKS} weeks."
            )
        )
    shown = mine.accounts[: max(limit, 0)]
    blocks.extend(_home_account(a) for a in shown)
    hidden = len(mine.accounts) - len(shown)
    if hidden > 0:
        blocks.append(_context(f"…and {hidden} more — `/trust accounts`"))
    return blocks


# --- the weekly digest ----------------------------------------------------------------


def _span(digest: Digest) -> str:
    first = digest.start
    last = digest.end - timedelta(seconds=1)
    if first.month == last.month:
        return f"{first.day}–{last.day} {last:%b %Y}"
    return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"


def _vs(now: int, before: int) -> str:
    return f"{now} (last week {before})"


def _figures(this: WeekFigures, last: WeekFigures, digest: Digest) -> str:
    rate = digest.response_rate
    answered = (
        f"{rate:.0%} ({digest.answered} of {digest.asked})".replace("%", " %")
        if rate is not None
        else "none asked"
    )
    return (
        "*Promises this week* — kept on time "
        f"{_vs(this.kept_on_time, last.kept_on_time)} · broken {_vs(this.broken, last.broken)}"
        f" · overdue {_vs(this.overdue, last.overdue)}\n"
        f"*Check-ins answered* — {answered}"
    )


def _digest_account(a: Assessment, digest: Digest, today_end: datetime) -> Block:
    new = " :new:" if a.account.id in digest.new_at_risk else ""
    lines = [_headline(a) + new, _reasons(a), _trend(a)]
    overdue = digest.overdue.get(a.account.id, [])
    if overdue:
        shown = "; ".join(
            f"“{escape(truncate(d.promise.text, 80))}” ({mention(d.promise.owner_id)})"
            for d in overdue[:2]
        )
        more = f" and {len(overdue) - 2} more" if len(overdue) > 2 else ""
        lines.append(f"Overdue: {shown}{more}")
    block = _section("\n".join(lines))
    block["accessory"] = _button("Open", ids.OPEN_ACCOUNT, str(a.account.id))
    return block


def build_digest(digest: Digest) -> list[Block]:
    """The weekly digest: counts, promise figures, ranked at-risk accounts, wins."""
    title = f"Trust digest · {_span(digest)}"
    header: Block = {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    if digest.accounts == 0:
        return [
            header,
            _section(
                "Nothing to report yet: there are no accounts"
                + (f" in tier {', '.join(digest.tiers)}" if digest.tiers else "")
                + ". Add one with `/trust account add <name>`, then log interactions "
                "with `/checkin` and promises with `/promise`."
            ),
        ]
    tiers = f" in tier {', '.join(digest.tiers)}" if digest.tiers else ""
    blocks: list[Block] = [
        header,
        _section(
            f"*{len(digest.at_risk)} at risk* ({len(digest.new_at_risk)} new this week) · "
            f"{len(digest.recovered)} recovered · {digest.watch} to watch · "
            f"of {digest.accounts} accounts{tiers}"
        ),
        _section(_figures(digest.this_week, digest.last_week, digest)),
        {"type": "divider"},
    ]
    tail: list[Block] = []
    wins = []
    if digest.recovered:
        names = ", ".join(f"*{escape(a.account.name)}*" for a in digest.recovered[:10])
        more = f" and {len(digest.recovered) - 10} more" if len(digest.recovered) > 10 else ""
        wins.append(f"Recovered: {names}{more}")
    if digest.kept:
        kept = "; ".join(
            f"{escape(name)}: “{escape(truncate(what, 60))}” ({mention(owner)})"
            for name, what, owner in digest.kept[:3]
        )
        wins.append(f"Kept on time: {digest.this_week.kept_on_time} — {kept}")
    if wins:
        tail += [{"type": "divider"}, _section("*Wins* :tada:\n" + "\n".join(wins))]
    budget = MAX_BLOCKS - len(blocks) - len(tail) - 2
    shown = digest.at_risk[: min(DIGEST_MAX_ACCOUNTS, budget)]
    if not digest.at_risk:
        blocks.append(_section(":large_green_circle: No account is at risk this week."))
    for a in shown:
        blocks.append(_digest_account(a, digest, digest.end))
    hidden = len(digest.at_risk) - len(shown)
    if hidden > 0:
        rest = _context(f"…and {hidden} more at-risk accounts. `/trust accounts` ranks them all.")
        rest["block_id"] = ids.DIGEST_MORE_BLOCK
        blocks.append(rest)
    blocks += tail
    blocks.append(_context("Ranked by risk weighed by tier and value · `/trust help`"))
    return blocks


FALLBACK_LIMIT = 3000  # characters of the digest shown in a notification


def digest_fallback(digest: Digest) -> str:
    """The digest's notification text as posted: plain text, escaped, cut to fit."""
    return escape(truncate(digest_text(digest), FALLBACK_LIMIT))


def digest_text(digest: Digest) -> str:
    """The digest as readable plain text (notification fallback and the terminal)."""
    lines = [f"Trust digest · {_span(digest)}"]
    if digest.accounts == 0:
        lines.append("Nothing to report yet: there are no accounts.")
        return "\n".join(lines)
    lines.append(
        f"{len(digest.at_risk)} at risk ({len(digest.new_at_risk)} new this week) · "
        f"{len(digest.recovered)} recovered · {digest.watch} to watch · "
        f"of {digest.accounts} accounts"
    )
    t, w = digest.this_week, digest.last_week
    lines.append(
        f"Promises this week: kept on time {_vs(t.kept_on_time, w.kept_on_time)} · "
        f"broken {_vs(t.broken, w.broken)} · overdue {_vs(t.overdue, w.overdue)}"
    )
    rate = digest.response_rate
    lines.append(
        "Check-ins answered: "
        + (
            f"{rate:.0%} ({digest.answered} of {digest.asked})"
            if rate is not None
            else "none asked"
        )
    )
    for n, a in enumerate(digest.at_risk, start=1):
        acc = a.account
        new = " (new)" if acc.id in digest.new_at_risk else ""
        owner = acc.owner_id or "no owner"
        lines.append("")
        lines.append(f"{n}. {acc.name}{new} · tier {acc.tier} · owner {owner} · score {a.score}")
        lines += [f"   - {r.text}" for r in a.reasons[:3]]
        lines.append(f"   trend {sparkline(a.trend)}")
    if digest.recovered:
        lines.append("")
        lines.append("Recovered: " + ", ".join(a.account.name for a in digest.recovered))
    return "\n".join(lines)
