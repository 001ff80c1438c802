"""Block Kit builders for promises: pure, inside Slack's limits, user text escaped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from bot import ids
from bot.blocks import Block, _button, _context, _mrkdwn, _option, _plain, _section, mention
from bot.promise_parsing import PROMISE_USAGE
from bot.text import escape, truncate
from storage.models import PromiseDetail

__all__ = ["PromiseDetail"]

MAX_WHAT_SHOWN = 1500
LIST_MAX = 15
STATUS_WORDS = {
    "open": "open",
    "kept": "kept",
    "broken": "broken",
    "cancelled": "cancelled",
}


def slack_day(day: date) -> str:
    """A calendar day as a Slack date token (noon UTC keeps the day for nearly every reader)."""
    stamp = int(datetime.combine(day, time(12), tzinfo=UTC).timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}}|{day.isoformat()}>"


def _what(d: PromiseDetail, limit: int = MAX_WHAT_SHOWN) -> str:
    return escape(truncate(d.promise.text, limit))


def describe_promise(d: PromiseDetail, *, today: date | None = None) -> str:
    """One promise in words: what, account, owner, due date, status."""
    p = d.promise
    line = (
        f"*{escape(d.account_name)}*: “{_what(d)}”\n"
        f"Owner {mention(p.owner_id)} · due {slack_day(p.due_date)}"
    )
    if p.status == "open" and today is not None and p.due_date < today:
        days = (today - p.due_date).days
        line += f" · :warning: *overdue {days} day{'s' if days != 1 else ''}*"
    elif p.status != "open":
        line += f" · *{STATUS_WORDS.get(p.status, p.status)}*"
        if p.status == "kept" and p.kept_on_time is not None:
            line += " on time" if p.kept_on_time else " late"
    if p.renegotiations:
        line += f" · renegotiated {p.renegotiations}×"
    return line


def build_promise_buttons(d: PromiseDetail, *, edit: bool = False) -> Block:
    """Kept / Renegotiate / Broken / Cancel (and Edit) for one open promise."""
    value = str(d.promise.id)
    elements = [
        _button("Kept", ids.PROMISE_KEPT, value, "primary"),
        _button("Renegotiate", ids.PROMISE_RENEGOTIATE, value),
        _button("Broken", ids.PROMISE_BROKEN, value, "danger"),
        _button("Cancel…", ids.PROMISE_CANCEL, value),
    ]
    if edit:
        elements.append(_button("Edit", ids.PROMISE_EDIT, value))
    return {
        "type": "actions",
        "block_id": f"{ids.PROMISE_ACTIONS_BLOCK}_{d.promise.id}",
        "elements": elements,
    }


def build_promise_logged(d: PromiseDetail) -> list[Block]:
    """The confirmation after /promise: the promise as understood, with Edit."""
    return [
        _section(":handshake: Promise logged\n" + describe_promise(d)),
        build_promise_buttons(d, edit=True),
        _context("Reminders go to the owner the working day before, on the day, and if late."),
    ]


def build_promise_for_owner(d: PromiseDetail) -> list[Block]:
    """DM to an owner someone else logged a promise for."""
    return [
        _section(
            f":handshake: {mention(d.promise.created_by)} logged a promise you own\n"
            + describe_promise(d)
        ),
        build_promise_buttons(d),
    ]


def build_promise_list(
    details: Sequence[PromiseDetail], *, total: int, title: str, today: date
) -> list[Block]:
    """A list of open promises, each with its buttons, within Slack's 50-block limit."""
    blocks: list[Block] = [_section(f"*{escape(title)}*")]
    if not details:
        blocks.append(_section("No open promises here. :sparkles:"))
    for d in details[:LIST_MAX]:
        blocks.append(_section(describe_promise(d, today=today)))
        blocks.append(build_promise_buttons(d))
    shown = min(len(details), LIST_MAX)
    if total > shown:
        blocks.append(_context(f"…and {total - shown} more. Narrow it: {PROMISE_USAGE}"))
    return blocks


def reminder_fallback(d: PromiseDetail, kind: str) -> str:
    """Notification text of a promise reminder."""
    lead = {"before": "Due on the next working day", "due": "Due today", "overdue": "Overdue"}.get(
        kind, "Due"
    )
    return f"{lead}: your promise to {escape(d.account_name)}"


def build_promise_reminder(d: PromiseDetail, *, kind: str, overdue_days: int = 0) -> list[Block]:
    """A reminder DM to the owner: before the due date, on it, or overdue."""
    if kind == "before":
        lead = ":calendar: Due on the next working day"
    elif kind == "due":
        lead = ":alarm_clock: Due today"
    else:
        s = "s" if overdue_days != 1 else ""
        lead = f":warning: Overdue by {overdue_days} day{s}"
    return [
        _section(f"{lead} — did you keep it?\n" + describe_promise(d)),
        build_promise_buttons(d),
        _context("Renegotiate asks for the new date and whether the customer has been told."),
    ]


def build_promise_closed(d: PromiseDetail) -> list[Block]:
    """A promise message after it was resolved: the outcome, no buttons."""
    icon = {"kept": ":white_check_mark:", "broken": ":x:", "cancelled": ":heavy_minus_sign:"}
    return [_section(f"{icon.get(d.promise.status, ':handshake:')} " + describe_promise(d))]


def build_promise_message(d: PromiseDetail) -> list[Block]:
    """A promise message as it stands: buttons while open, the outcome once resolved."""
    if d.promise.status != "open":
        return build_promise_closed(d)
    return [_section(":handshake: " + describe_promise(d)), build_promise_buttons(d)]


def promise_metadata(promise_id: int, channel: str | None, ts: str | None) -> str:
    """private_metadata for promise modals: which promise, which message to update."""
    return json.dumps({"p": promise_id, "ch": channel, "ts": ts}, separators=(",", ":"))


def _what_input(initial: str | None = None) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.WHAT_INPUT,
        "multiline": True,
        "max_length": 3000,
        "placeholder": _plain("e.g. send the renewal pricing sheet"),
    }
    if initial:
        element["initial_value"] = initial[:3000]
    return {
        "type": "input",
        "block_id": ids.WHAT_BLOCK,
        "label": _plain("What was promised"),
        "element": element,
    }


def _owner_input(initial: str) -> Block:
    return {
        "type": "input",
        "block_id": ids.OWNER_BLOCK,
        "label": _plain("Owner"),
        "element": {"type": "users_select", "action_id": ids.OWNER_INPUT, "initial_user": initial},
    }


def _due_input(initial: date) -> Block:
    return {
        "type": "input",
        "block_id": ids.DUE_BLOCK,
        "label": _plain("Due date"),
        "element": {
            "type": "datepicker",
            "action_id": ids.DUE_INPUT,
            "initial_date": initial.isoformat(),
        },
    }


def build_new_promise_modal(
    *, owner: str, due: date, interactions: Sequence[tuple[int, str]]
) -> dict[str, Any]:
    """/promise with no text: account, what, owner, due date, optional interaction."""
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": ids.PROMISE_ACCOUNT_BLOCK,
            "label": _plain("Account"),
            "element": {
                "type": "external_select",
                "action_id": ids.ACCOUNT_SELECT,
                "min_query_length": 0,
                "placeholder": _plain("Search accounts"),
            },
        },
        _what_input(),
        _owner_input(owner),
        _due_input(due),
    ]
    if interactions:
        blocks.append(
            {
                "type": "input",
                "block_id": ids.INTERACTION_BLOCK,
                "optional": True,
                "label": _plain("Made during (optional)"),
                "element": {
                    "type": "static_select",
                    "action_id": ids.INTERACTION_INPUT,
                    "placeholder": _plain("One of your recent interactions"),
                    "options": [_option(label, str(i)) for i, label in interactions[:100]],
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": ids.PROMISE_MODAL,
        "title": _plain("Log a promise"),
        "submit": _plain("Log it"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def build_edit_promise_modal(d: PromiseDetail, *, metadata: str) -> dict[str, Any]:
    """Edit an open promise's text, owner and due date."""
    return {
        "type": "modal",
        "callback_id": ids.PROMISE_EDIT_MODAL,
        "private_metadata": metadata,
        "title": _plain("Edit promise"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            _section(f"*{escape(d.account_name)}*"),
            _what_input(d.promise.text),
            _owner_input(d.promise.owner_id),
            _due_input(d.promise.due_date),
        ],
    }


def build_renegotiate_modal(d: PromiseDetail, *, metadata: str, suggested: date) -> dict[str, Any]:
    """Renegotiate: the new date, and whether the customer has been told."""
    return {
        "type": "modal",
        "callback_id": ids.RENEGOTIATE_MODAL,
        "private_metadata": metadata,
        "title": _plain("Renegotiate"),
        "submit": _plain("Save new date"),
        "close": _plain("Cancel"),
        "blocks": [
            _section(describe_promise(d)),
            {
                "type": "input",
                "block_id": ids.DUE_BLOCK,
                "label": _plain("New due date"),
                "element": {
                    "type": "datepicker",
                    "action_id": ids.DUE_INPUT,
                    "initial_date": suggested.isoformat(),
                },
            },
            {
                "type": "input",
                "block_id": ids.TOLD_BLOCK,
                "label": _plain("Has the customer been told?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.TOLD_INPUT,
                    "options": [
                        _option("Yes, they agreed to the new date", "yes"),
                        _option("Not yet", "no"),
                    ],
                },
            },
        ],
    }


def build_cancel_modal(d: PromiseDetail, *, metadata: str) -> dict[str, Any]:
    """Cancel a promise that no longer applies; a reason is required (not counted as broken)."""
    return {
        "type": "modal",
        "callback_id": ids.CANCEL_MODAL,
        "private_metadata": metadata,
        "title": _plain("Cancel promise"),
        "submit": _plain("Cancel promise"),
        "close": _plain("Keep it"),
        "blocks": [
            _section(describe_promise(d)),
            {
                "type": "input",
                "block_id": ids.REASON_BLOCK,
                "label": _plain("Why does it no longer apply?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.REASON_INPUT,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
            _context("Cancelled promises are kept in the history and never count as broken."),
        ],
    }


def build_home_promises(
    details: Sequence[PromiseDetail], *, total: int, today: date, limit: int
) -> list[Block]:
    """The "My open promises" part of the App Home (overdue first)."""
    blocks: list[Block] = [{"type": "header", "text": _plain("My open promises")}]
    if not details:
        blocks.append(_section("No open promises. Log one with `/promise`."))
    for d in details[:limit]:
        blocks.append(_section(describe_promise(d, today=today)))
        blocks.append(build_promise_buttons(d))
    shown = min(len(details), limit)
    if total > shown:
        blocks.append(_context(f"…and {total - shown} more: `/promise list mine`"))
    return blocks


def promise_outcome_text(d: PromiseDetail) -> str:
    """A one-line confirmation of a promise change."""
    return (
        build_promise_closed(d)[0]["text"]["text"]
        if d.promise.status != "open"
        else (":handshake: Updated — " + describe_promise(d))
    )


def mrkdwn_block(text: str) -> Block:
    """A plain section (re-exported for handlers that show one line)."""
    return {"type": "section", "text": _mrkdwn(text)}
