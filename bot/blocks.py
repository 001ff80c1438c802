"""Block Kit builders: pure functions returning dicts, inside Slack's limits, user text escaped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot import ids
from bot.parsing import (
    ACCOUNT_ADD_USAGE,
    ACCOUNT_VIEW_USAGE,
    AWAY_USAGE,
    CHECKIN_USAGE,
    DIGEST_USAGE,
)
from bot.promise_parsing import PROMISE_USAGE
from bot.text import escape, truncate
from bot.vocab import DIRECTIONS, KINDS, RATINGS, STAGES
from storage.models import AwayPeriod, CheckInDetail

Block = dict[str, Any]
SECTION_LIMIT = 3000
MAX_NOTE_SHOWN = 600
# The App Home holds at most 100 blocks. Worst case: check-ins 3 + 3 × 15 + 1, promises
# 2 + 2 × 15 + 1, accounts 2 + 10 + 2 (bot.health_blocks.HOME_MAX_ACCOUNTS), footer 1 = 97.
HOME_MAX_BLOCKS = 100
HOME_MAX_CHECKINS = 15
HOME_MAX_PROMISES = 15
# A /checkin summary names at most this many people a list (then "and N more").
MENTIONS_SHOWN = 25


def _plain(text: str, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": _plain(truncate(text, 75)),
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(truncate(text, 75)), "value": value}


def slack_date(when: datetime) -> str:
    """A date Slack shows in each reader's own locale, with a plain fallback."""
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}}|{when.date().isoformat()}>"


def slack_day(day: date) -> str:
    """A calendar day as readable text (no time zone shift)."""
    return day.strftime("%a %-d %b %Y")


def last_day_away(away: AwayPeriod) -> str:
    """The last day of an away period (it ends at the next local midnight)."""
    return slack_date(away.ends_at - timedelta(seconds=1))


def mention(user_id: str) -> str:
    """A user mention; ids come from Slack, never from free text."""
    return f"<@{user_id}>"


# --- help -----------------------------------------------------------------------------


def build_help() -> list[Block]:
    """`/trust help`: usage of every command that exists."""
    return [
        {"type": "header", "text": _plain("trustloop commands")},
        _section(
            "*Log a customer interaction and check in on trust*\n"
            + CHECKIN_USAGE
            + "\nEveryone you mention gets a short trust check-in by DM; you get yours at once."
        ),
        _section(
            "*Promises*\n"
            + PROMISE_USAGE
            + "\n`<when>`: 2026-12-01, 1.12., friday, tomorrow, in 3 days, next week, end of month"
            " (perjantaina, huomenna, 3 päivän päästä, ensi viikolla). No text: a form opens."
            "\nThe owner is reminded the working day before, on the day and when late; "
            "Kept / Renegotiate / Broken buttons record what happened."
        ),
        _section("*Accounts*\n" + ACCOUNT_ADD_USAGE + "\nNames are unique, whatever the case."),
        _section(
            "*Relationship health*\n"
            + ACCOUNT_VIEW_USAGE
            + "\nHealthy, watch or at risk, with the reasons: trust level and trend, promises "
            "overdue or broken, silence against the tier's cadence, unanswered check-ins, "
            "complaints without follow-up, concerns."
        ),
        _section(
            "*Weekly digest*\n"
            + DIGEST_USAGE
            + "\nDefault: Monday 09:00 in your timezone. Workspace admins subscribe channels; "
            "anyone can preview."
        ),
        _section(
            "*Away*\n"
            + AWAY_USAGE
            + "\nWhile you are away you get no check-ins or reminders; they count as away."
        ),
        _section("*Help*\n`/trust help` — this message."),
        _context("1 = trust eroding · 5 = strong. Your answers are stored as soon as you click."),
    ]


def help_text() -> str:
    """A plain-text fallback for the help message."""
    return (
        "trustloop commands: /checkin, /promise, /promise list, /trust account add, "
        "/trust account, /trust accounts, /trust digest here|off|preview, "
        "/trust away, /trust back, /trust help"
    )


def build_error(message: str) -> list[Block]:
    """An error explained in plain words (message text is ours, already safe)."""
    return [_section(f":warning: {message}")]


# --- check-ins ----------------------------------------------------------------------


def _about(d: CheckInDetail) -> str:
    return f"*{escape(d.account_name)}* · {d.kind} on {slack_date(d.occurred_at)}"


def checkin_fallback(d: CheckInDetail) -> str:
    """Notification text for a check-in message."""
    return (
        f"Trust check-in: {escape(d.account_name)} ({d.kind}, {d.occurred_at.date().isoformat()})"
    )


def _note_context(d: CheckInDetail) -> list[Block]:
    parts = [f"Logged by {mention(d.logged_by)}"]
    if d.note:
        parts.append("“" + escape(truncate(d.note, MAX_NOTE_SHOWN)) + "”")
    return [_context(" · ".join(parts))]


def build_checkin_buttons(d: CheckInDetail) -> Block:
    """The rating / details / skip buttons for one check-in."""
    value = str(d.checkin.id)
    elements = [_button(RATINGS[n], f"{ids.RATE_CHECKIN}_{n}", value) for n in sorted(RATINGS)]
    elements.append(_button("Add details", ids.CHECKIN_DETAILS, value))
    elements.append(_button("Skip", ids.SKIP_CHECKIN, value))
    return {
        "type": "actions",
        "block_id": f"{ids.CHECKIN_ACTIONS_BLOCK}_{d.checkin.id}",
        "elements": elements,
    }


def build_checkin_message(d: CheckInDetail, *, reminder: bool = False) -> list[Block]:
    """The check-in DM: account, kind and date, five rating buttons, details, skip."""
    lead = ":alarm_clock: *Reminder* — " if reminder else ""
    return [
        _section(
            f"{lead}How is trust with {_about(d)}?\n"
            "_1 = trust eroding … 5 = strong. One click is enough._"
        ),
        *_note_context(d),
        build_checkin_buttons(d),
    ]


def describe_answer(d: CheckInDetail) -> str:
    """The stored answer of a check-in in words (user text escaped)."""
    c = d.checkin
    if c.status == "answered" and c.rating is not None:
        parts = [f"You rated trust *{RATINGS[c.rating]}*"]
        if c.direction:
            parts.append(f"direction: {DIRECTIONS.get(c.direction, c.direction).lower()}")
        if c.stage:
            parts.append(f"stage: {c.stage}")
        text = " · ".join(parts)
        if c.concern:
            text += "\nConcern: “" + escape(truncate(c.concern, MAX_NOTE_SHOWN)) + "”"
        return text
    if c.status == "skipped":
        return "You skipped this check-in."
    if c.status == "expired":
        return "This check-in expired without an answer."
    if c.status == "away":
        return "You were away, so this check-in was not asked."
    return "Waiting for your answer."


def build_checkin_closed(d: CheckInDetail) -> list[Block]:
    """The check-in message after it was answered, skipped or expired: no buttons left."""
    icon = {"answered": ":white_check_mark:", "skipped": ":fast_forward:"}.get(
        d.checkin.status, ":hourglass:"
    )
    return [_section(f"{icon} {_about(d)}\n{describe_answer(d)}"), *_note_context(d)]


def checkin_metadata(checkin_id: int, channel: str | None, ts: str | None) -> str:
    """private_metadata for the check-in modal: which check-in, which message to update."""
    return json.dumps({"c": checkin_id, "ch": channel, "ts": ts}, separators=(",", ":"))


def build_checkin_modal(d: CheckInDetail, *, metadata: str) -> dict[str, Any]:
    """The check-in modal: rating (required), direction, relationship stage, concern."""
    ratings = [_option(RATINGS[n], str(n)) for n in sorted(RATINGS)]
    return {
        "type": "modal",
        "callback_id": ids.CHECKIN_MODAL,
        "private_metadata": metadata,
        "title": _plain("Trust check-in"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            _section(f"How is trust with {_about(d)}?"),
            {
                "type": "input",
                "block_id": ids.RATING_BLOCK,
                "label": _plain("Trust right now"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.RATING_INPUT,
                    "options": ratings,
                },
            },
            {
                "type": "input",
                "block_id": ids.DIRECTION_BLOCK,
                "optional": True,
                "label": _plain("Since last time"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.DIRECTION_INPUT,
                    "options": [_option(v, k) for k, v in DIRECTIONS.items()],
                },
            },
            {
                "type": "input",
                "block_id": ids.STAGE_BLOCK,
                "optional": True,
                "label": _plain("Relationship stage"),
                "element": {
                    "type": "static_select",
                    "action_id": ids.STAGE_INPUT,
                    "placeholder": _plain("Where is the relationship?"),
                    "options": [_option(v, k) for k, v in STAGES.items()],
                },
            },
            {
                "type": "input",
                "block_id": ids.CONCERN_BLOCK,
                "optional": True,
                "label": _plain("Any concern?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.CONCERN_INPUT,
                    "multiline": True,
                    "max_length": 3000,
                    "placeholder": _plain("What worries you about this relationship?"),
                },
            },
            {
                "type": "input",
                "block_id": ids.PROMISES_MADE_BLOCK,
                "optional": True,
                "label": _plain("Promises made (one per line)"),
                "hint": _plain("e.g. “send the pricing sheet by friday”. You own them."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.PROMISES_MADE_INPUT,
                    "multiline": True,
                    "max_length": 3000,
                },
            },
        ],
    }


def build_interaction_modal(*, kinds: Sequence[str] = KINDS) -> dict[str, Any]:
    """`/checkin` with no text: pick account, kind, participants and a note."""
    return {
        "type": "modal",
        "callback_id": ids.NEW_INTERACTION_MODAL,
        "title": _plain("Log an interaction"),
        "submit": _plain("Log it"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.ACCOUNT_BLOCK,
                "label": _plain("Account"),
                "element": {
                    "type": "external_select",
                    "action_id": ids.ACCOUNT_SELECT,
                    "min_query_length": 0,
                    "placeholder": _plain("Search accounts"),
                },
            },
            {
                "type": "input",
                "block_id": ids.KIND_BLOCK,
                "label": _plain("Kind"),
                "element": {
                    "type": "static_select",
                    "action_id": ids.KIND_INPUT,
                    "initial_option": _option("meeting", "meeting"),
                    "options": [_option(k, k) for k in kinds],
                },
            },
            {
                "type": "input",
                "block_id": ids.PARTICIPANTS_BLOCK,
                "optional": True,
                "label": _plain("Teammates who took part"),
                "hint": _plain("Each gets a trust check-in by DM. You get yours right away."),
                "element": {
                    "type": "multi_users_select",
                    "action_id": ids.PARTICIPANTS_INPUT,
                    "placeholder": _plain("Pick teammates"),
                },
            },
            {
                "type": "input",
                "block_id": ids.NOTE_BLOCK,
                "optional": True,
                "label": _plain("Note"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.NOTE_INPUT,
                    "multiline": True,
                    "max_length": 3000,
                },
            },
        ],
    }


def account_options(names: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """Options for the account external select (at most 100)."""
    return [_option(name, str(account_id)) for account_id, name in names[:100]]


def build_unknown_account(
    name: str,
    suggestions: Sequence[tuple[int, str]],
    draft_id: int,
    *,
    pick_action: str = ids.PICK_ACCOUNT,
    create_action: str = ids.CREATE_ACCOUNT,
    continues: str = "check-in",
) -> list[Block]:
    """No account by that name: offer the closest names and a button to create it."""
    lines = [f":mag: There is no account called *{escape(name)}*."]
    elements = [
        _button(f"Use {truncate(sname, 60)}", f"{pick_action}_{i}", f"{draft_id}:{aid}")
        for i, (aid, sname) in enumerate(suggestions[:5])
    ]
    if suggestions:
        lines.append(
            f"Did you mean one of these? Your {continues} continues with the one you pick."
        )
    elements.append(
        _button(f"Create “{truncate(name, 50)}”", create_action, str(draft_id), "primary")
    )
    return [
        _section("\n".join(lines)),
        {"type": "actions", "block_id": ids.SUGGEST_BLOCK, "elements": elements},
        _context(
            "Creating adds it as a tier B account; change it later with `/trust account add`."
        ),
    ]


# --- App Home -----------------------------------------------------------------------


def build_home(
    pending: Sequence[CheckInDetail],
    *,
    total_pending: int,
    away: AwayPeriod | None,
    promises: Sequence[Block] = (),
    accounts: Sequence[Block] = (),
) -> dict[str, Any]:
    """The App Home tab: away status, pending check-ins, open promises and my accounts."""
    blocks: list[Block] = [{"type": "header", "text": _plain("Your trust check-ins")}]
    if away is not None:
        blocks.append(
            {
                "type": "section",
                "block_id": ids.HOME_AWAY_BLOCK,
                "text": _mrkdwn(
                    f":palm_tree: You are away until {last_day_away(away)}: "
                    "no check-ins or reminders until then."
                ),
                "accessory": _button("I'm back", ids.AWAY_BACK, "back"),
            }
        )
    else:
        blocks.append(
            {
                "type": "section",
                "block_id": ids.HOME_AWAY_BLOCK,
                "text": _mrkdwn("Going on holiday? Pause your check-ins and reminders."),
                "accessory": _button("I'm away…", ids.AWAY_OPEN, "away"),
            }
        )
    blocks.append({"type": "divider"})
    if not pending:
        blocks.append(_section(":sparkles: No check-ins waiting for you."))
    for d in pending[:HOME_MAX_CHECKINS]:
        blocks.append(_section(f"How is trust with {_about(d)}?"))
        blocks.extend(_note_context(d))
        blocks.append(build_checkin_buttons(d))
    if total_pending > min(len(pending), HOME_MAX_CHECKINS):
        more = total_pending - min(len(pending), HOME_MAX_CHECKINS)
        blocks.append(_context(f"…and {more} more waiting; answer these first."))
    if promises:
        blocks.append({"type": "divider"})
        blocks.extend(promises)
    if accounts:
        blocks.append({"type": "divider"})
        blocks.extend(accounts)
    blocks.append(_context("Log an interaction with `/checkin`. Help: `/trust help`."))
    return {"type": "home", "blocks": blocks}


def build_away_modal(today: date) -> dict[str, Any]:
    """Pick the day you are back."""
    return {
        "type": "modal",
        "callback_id": ids.AWAY_MODAL,
        "title": _plain("Away"),
        "submit": _plain("Pause check-ins"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.AWAY_DATE_BLOCK,
                "label": _plain("Away until (the last day you are away)"),
                "element": {
                    "type": "datepicker",
                    "action_id": ids.AWAY_DATE_INPUT,
                    "initial_date": today.isoformat(),
                },
            }
        ],
    }


def build_logged(
    *,
    account_name: str,
    kind: str,
    asked: Sequence[str],
    away: Sequence[str],
    skipped: Sequence[tuple[str, str]],
    undelivered: Sequence[str],
    own_opened: bool,
) -> list[Block]:
    """Confirmation after /checkin: what was logged and who was asked."""
    lines = [f":memo: Logged a *{kind}* with *{escape(account_name)}*."]
    if asked:
        lines.append("Check-ins sent to " + _people(asked) + ".")
    if away:
        lines.append(_people(away) + " is away: no check-in asked, counted as away.")
    for user_id, reason in skipped[:MENTIONS_SHOWN]:
        lines.append(f"{mention(user_id)} {reason}: no check-in.")
    if len(skipped) > MENTIONS_SHOWN:
        lines.append(f"{len(skipped) - MENTIONS_SHOWN:,} more mentioned get no check-in.")
    if undelivered:
        lines.append(
            "Couldn't DM "
            + _people(undelivered)
            + " yet; I'll try again. Their check-ins are saved."
        )
    if not own_opened:
        lines.append("Your own check-in is waiting in your DMs and on the App Home.")
    return [_section("\n".join(lines))]


def _people(user_ids: Sequence[str]) -> str:
    """Mentions of the first few users, then how many more (a section holds 3,000 characters)."""
    shown = ", ".join(mention(u) for u in user_ids[:MENTIONS_SHOWN])
    rest = len(user_ids) - MENTIONS_SHOWN
    return shown if rest <= 0 else f"{shown} and {rest:,} more"


def build_sending(*, account_name: str, kind: str, count: int) -> list[Block]:
    """Before a large check-in fan-out goes out: it is logged, and the DMs are on their way."""
    return [
        _section(
            f":hourglass_flowing_sand: Logged a *{kind}* with *{escape(account_name)}*. "
            f"Sending check-ins to {count:,} teammates by DM: Slack lets an app send a few "
            "hundred messages a minute, so this takes a few minutes. I'll tell you here when "
            "they are out; the check-ins are saved already."
        )
    ]


def build_notice(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells something (no submit)."""
    return {
        "type": "modal",
        "title": _plain(truncate(title, 24)),
        "close": _plain("Close"),
        "blocks": [_section(text)],
    }
