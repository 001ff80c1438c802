"""Modal submissions (check-in details, new interaction, away) and the account search."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackClientError

from bot import blocks, ids, promise_blocks
from bot.dates import DateParseError, day_end, parse_due_date
from bot.parsing import CommandError
from bot.promise_parsing import parse_promise_line
from bot.promises import PromiseError, PromiseOutcome
from bot.services import Services
from bot.text import escape, truncate
from bot.vocab import DIRECTIONS, KINDS, STAGES
from handlers.common import int_value, metadata, services, team_of
from handlers.guard import guarded
from handlers.promise_flow import DEFAULT_DUE_DAYS, notify_owner

MAX_TEXT = 3000


def _state(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = (view.get("state") or {}).get("values") or {}
    return values if isinstance(values, dict) else {}


def _input(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    return (_state(view).get(block_id) or {}).get(action_id) or {}


def _selected(view: dict[str, Any], block_id: str, action_id: str) -> str | None:
    option = _input(view, block_id, action_id).get("selected_option") or {}
    value = option.get("value")
    return str(value) if value is not None else None


def _text(view: dict[str, Any], block_id: str, action_id: str) -> str:
    return str(_input(view, block_id, action_id).get("value") or "").strip()


async def handle_checkin_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Save a check-in answer with details; the modal closes only once it is stored."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    checkin_id = int_value(metadata(view).get("c"))
    rating_raw = _selected(view, ids.RATING_BLOCK, ids.RATING_INPUT)
    direction = _selected(view, ids.DIRECTION_BLOCK, ids.DIRECTION_INPUT)
    stage = _selected(view, ids.STAGE_BLOCK, ids.STAGE_INPUT)
    concern = _text(view, ids.CONCERN_BLOCK, ids.CONCERN_INPUT)
    errors: dict[str, str] = {}
    if rating_raw not in {"1", "2", "3", "4", "5"}:
        errors[ids.RATING_BLOCK] = "Pick a rating from 1 (eroding) to 5 (strong)."
    if direction is not None and direction not in DIRECTIONS:
        errors[ids.DIRECTION_BLOCK] = "Pick better, same or worse."
    if stage is not None and stage not in STAGES:
        errors[ids.STAGE_BLOCK] = "Pick one of the five stages."
    if len(concern) > MAX_TEXT:
        errors[ids.CONCERN_BLOCK] = f"Keep it under {MAX_TEXT} characters."
    if checkin_id is None:
        errors[ids.RATING_BLOCK] = "This form lost track of its check-in; open it again."
    promised = await _promises_made(svc, team_id, user_id, view, errors)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    assert checkin_id is not None and rating_raw is not None
    outcome = await svc.answer(
        team_id=team_id,
        user_id=user_id,
        checkin_id=checkin_id,
        rating=int(rating_raw),
        direction=direction,
        stage=stage,
        concern=concern or None,
        now=svc.now(),
    )
    if outcome.status == "saved":
        assert outcome.detail is not None
        account = await svc.account(team_id=team_id, account_id=outcome.detail.account_id)
        if account is not None:
            for what, due in promised:
                await svc.promises.log(
                    team_id=team_id,
                    created_by=user_id,
                    account=account,
                    what=what,
                    owner_id=user_id,
                    due=due,
                    interaction_id=outcome.detail.checkin.interaction_id,
                    now=svc.now(),
                )
        await ack()
        await svc.publish_home(team_id=team_id, user_id=user_id, now=svc.now())
        return
    if outcome.status == "already" and outcome.detail is not None:
        text = "You had already answered, so nothing changed.\n" + blocks.describe_answer(
            outcome.detail
        )
    elif outcome.status == "not_yours":
        text = "That check-in isn't yours to answer."
    else:
        text = "I couldn't find that check-in."
    await ack(response_action="update", view=blocks.build_notice("Trust check-in", text))


async def _promises_made(
    svc: Services, team_id: str, user_id: str, view: dict[str, Any], errors: dict[str, str]
) -> list[tuple[str, date]]:
    """Read the "promises made" lines; every line must be valid before anything is stored."""
    raw = _text(view, ids.PROMISES_MADE_BLOCK, ids.PROMISES_MADE_INPUT)
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if not lines:
        return []
    now = svc.now()
    tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
    promised: list[tuple[str, date]] = []
    for number, line in enumerate(lines, 1):
        try:
            what, when = parse_promise_line(line)
            due = (
                parse_due_date(when, now=now, tz=tz)
                if when
                else now.astimezone(tz).date() + timedelta(days=DEFAULT_DUE_DAYS)
            )
        except (CommandError, DateParseError) as exc:
            errors[ids.PROMISES_MADE_BLOCK] = truncate(f"Line {number}: {exc}", 1500)
            return []
        promised.append((what, due))
    return promised


async def handle_interaction_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Log an interaction from the /checkin form, then turn the form into your check-in."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    account_id = int_value(_selected(view, ids.ACCOUNT_BLOCK, ids.ACCOUNT_SELECT))
    kind = _selected(view, ids.KIND_BLOCK, ids.KIND_INPUT) or "meeting"
    participants = (
        _input(view, ids.PARTICIPANTS_BLOCK, ids.PARTICIPANTS_INPUT).get("selected_users") or []
    )
    note = _text(view, ids.NOTE_BLOCK, ids.NOTE_INPUT)
    account = await svc.account(team_id=team_id, account_id=account_id) if account_id else None
    errors: dict[str, str] = {}
    if account is None:
        errors[ids.ACCOUNT_BLOCK] = "Pick an account (create one with `/trust account add`)."
    if kind not in KINDS:
        errors[ids.KIND_BLOCK] = "Pick a kind from the list."
    if len(note) > MAX_TEXT:
        errors[ids.NOTE_BLOCK] = f"Keep the note under {MAX_TEXT} characters."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    assert account is not None
    now = svc.now()
    logged = await svc.log_interaction(
        team_id=team_id,
        logged_by=user_id,
        account=account,
        kind=kind,
        note=note,
        source="slash_command",
        now=now,
    )
    if logged.own is not None:
        await ack(
            response_action="update",
            view=blocks.build_checkin_modal(
                logged.own, metadata=blocks.checkin_metadata(logged.own.checkin.id, None, None)
            ),
        )
    else:
        await ack(
            response_action="update",
            view=blocks.build_notice(
                "Logged", f"Logged the {kind}. You're away, so no check-in for you."
            ),
        )
    await svc.invite(
        team_id=team_id,
        interaction=logged.interaction,
        participants=[str(u) for u in participants],
        now=now,
    )


async def handle_away_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Pause check-ins until the end of the picked day (in the user's timezone)."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    now = svc.now()
    raw = str(_input(view, ids.AWAY_DATE_BLOCK, ids.AWAY_DATE_INPUT).get("selected_date") or "")
    tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
    try:
        last_day = date.fromisoformat(raw)
    except ValueError:
        await ack(response_action="errors", errors={ids.AWAY_DATE_BLOCK: "Pick a date."})
        return
    if last_day < now.astimezone(tz).date():
        await ack(
            response_action="errors",
            errors={ids.AWAY_DATE_BLOCK: "That day has passed; pick today or a later day."},
        )
        return
    await svc.set_away(team_id=team_id, user_id=user_id, until=day_end(last_day, tz), now=now)
    await ack()
    await svc.publish_home(team_id=team_id, user_id=user_id, now=now)


async def handle_account_options(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Options for the searchable account select."""
    svc = services(context)
    query = truncate(str(body.get("value") or ""), 80)
    found = await svc.search_accounts(team_id=team_of(body), query=query)
    await ack(options=blocks.account_options(found))


def _promise_id(view: dict[str, Any]) -> int | None:
    return int_value(metadata(view).get("p"))


def _date(view: dict[str, Any], block_id: str, action_id: str) -> date | None:
    raw = str(_input(view, block_id, action_id).get("selected_date") or "")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


async def _after_promise_change(
    svc: Services, view: dict[str, Any], outcome: PromiseOutcome, user_id: str
) -> None:
    """Show the outcome in the message the modal was opened from, and on the App Home."""
    data = metadata(view)
    detail = outcome.detail
    if outcome.status == "saved" and detail is not None and data.get("ch") and data.get("ts"):
        # The message may be gone; the change is stored either way.
        with contextlib.suppress(SlackClientError):
            # Promise modals open from a message only in the submitter's own DM (reminders
            # and hand-overs go to the owner); metadata naming any other conversation was
            # tampered with and must not make the bot overwrite someone else's message.
            own_dm = await svc.dm_channel(team_id=detail.promise.team_id, user_id=user_id)
            if own_dm == str(data["ch"]):
                await svc.client.chat_update(
                    channel=own_dm,
                    ts=str(data["ts"]),
                    text=f"Promise to {escape(detail.account_name)}",
                    blocks=promise_blocks.build_promise_message(detail),
                )
    await svc.publish_home(
        team_id=detail.promise.team_id if detail else "", user_id=user_id, now=svc.now()
    )


def _outcome_errors(outcome: PromiseOutcome, block_id: str) -> dict[str, str] | None:
    if outcome.status == "missing":
        return {block_id: "I couldn't find that promise."}
    if outcome.status == "forbidden":
        return {block_id: "Only the owner, who logged it, the account owner or an admin can."}
    if outcome.status == "already":
        return {block_id: "That promise was already resolved; nothing changed."}
    return None


async def handle_renegotiate_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Store the new date of a renegotiated promise (in time or late, customer told or not)."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    promise_id = _promise_id(view)
    new_due = _date(view, ids.DUE_BLOCK, ids.DUE_INPUT)
    told = _selected(view, ids.TOLD_BLOCK, ids.TOLD_INPUT)
    errors: dict[str, str] = {}
    if new_due is None:
        errors[ids.DUE_BLOCK] = "Pick the new date."
    if told not in {"yes", "no"}:
        errors[ids.TOLD_BLOCK] = "Say whether the customer has been told."
    if promise_id is None:
        errors[ids.DUE_BLOCK] = "This form lost track of its promise; open it again."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    assert promise_id is not None and new_due is not None
    try:
        outcome = await svc.promises.renegotiate(
            team_id=team_id,
            user_id=user_id,
            promise_id=promise_id,
            new_due=new_due,
            customer_told=told == "yes",
            now=svc.now(),
        )
    except PromiseError as exc:
        await ack(response_action="errors", errors={ids.DUE_BLOCK: str(exc)})
        return
    problem = _outcome_errors(outcome, ids.DUE_BLOCK)
    if problem:
        await ack(response_action="errors", errors=problem)
        return
    await ack()
    await _after_promise_change(svc, view, outcome, user_id)


async def handle_cancel_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Cancel a promise with its reason."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    promise_id = _promise_id(view)
    reason = _text(view, ids.REASON_BLOCK, ids.REASON_INPUT)
    if not reason or promise_id is None:
        await ack(
            response_action="errors",
            errors={ids.REASON_BLOCK: "Say why the promise no longer applies."},
        )
        return
    outcome = await svc.promises.resolve(
        team_id=team_id,
        user_id=user_id,
        promise_id=promise_id,
        status="cancelled",
        reason=reason[:1000],
        now=svc.now(),
    )
    problem = _outcome_errors(outcome, ids.REASON_BLOCK)
    if problem:
        await ack(response_action="errors", errors=problem)
        return
    await ack()
    await _after_promise_change(svc, view, outcome, user_id)


async def handle_edit_promise_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Save corrections to an open promise."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    promise_id = _promise_id(view)
    what = _text(view, ids.WHAT_BLOCK, ids.WHAT_INPUT)
    owner = str(_input(view, ids.OWNER_BLOCK, ids.OWNER_INPUT).get("selected_user") or "")
    due = _date(view, ids.DUE_BLOCK, ids.DUE_INPUT)
    errors: dict[str, str] = {}
    if not what:
        errors[ids.WHAT_BLOCK] = "Say what was promised."
    elif len(what) > MAX_TEXT:
        errors[ids.WHAT_BLOCK] = f"Keep the promise under {MAX_TEXT} characters."
    if not owner:
        errors[ids.OWNER_BLOCK] = "Pick the owner."
    if due is None:
        errors[ids.DUE_BLOCK] = "Pick the due date."
    if promise_id is None:
        errors[ids.WHAT_BLOCK] = "This form lost track of its promise; open it again."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    assert promise_id is not None and due is not None
    try:
        outcome = await svc.promises.edit(
            team_id=team_id,
            user_id=user_id,
            promise_id=promise_id,
            what=what,
            owner_id=owner,
            due=due,
            now=svc.now(),
        )
    except PromiseError as exc:
        await ack(response_action="errors", errors={ids.OWNER_BLOCK: str(exc)})
        return
    problem = _outcome_errors(outcome, ids.WHAT_BLOCK)
    if problem:
        await ack(response_action="errors", errors=problem)
        return
    await ack()
    await _after_promise_change(svc, view, outcome, user_id)


async def handle_new_promise_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """/promise form: log a promise (optionally linked to an interaction)."""
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    now = svc.now()
    account_id = int_value(_selected(view, ids.PROMISE_ACCOUNT_BLOCK, ids.ACCOUNT_SELECT))
    account = await svc.account(team_id=team_id, account_id=account_id) if account_id else None
    what = _text(view, ids.WHAT_BLOCK, ids.WHAT_INPUT)
    owner = str(_input(view, ids.OWNER_BLOCK, ids.OWNER_INPUT).get("selected_user") or user_id)
    due = _date(view, ids.DUE_BLOCK, ids.DUE_INPUT)
    interaction_id = int_value(_selected(view, ids.INTERACTION_BLOCK, ids.INTERACTION_INPUT))
    errors: dict[str, str] = {}
    if account is None:
        errors[ids.PROMISE_ACCOUNT_BLOCK] = (
            "Pick an account (create one with `/trust account add`)."
        )
    if not what:
        errors[ids.WHAT_BLOCK] = "Say what was promised."
    elif len(what) > MAX_TEXT:
        errors[ids.WHAT_BLOCK] = f"Keep the promise under {MAX_TEXT} characters."
    tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
    if due is None or due < now.astimezone(tz).date():
        errors[ids.DUE_BLOCK] = "Pick today or a later day."
    if interaction_id is not None:
        recent = dict(await svc.recent_interactions(team_id=team_id, user_id=user_id, limit=100))
        if interaction_id not in recent:
            errors[ids.INTERACTION_BLOCK] = "Pick one of your own interactions."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    assert account is not None and due is not None
    try:
        detail = await svc.promises.log(
            team_id=team_id,
            created_by=user_id,
            account=account,
            what=what,
            owner_id=owner,
            due=due,
            interaction_id=interaction_id,
            now=now,
        )
    except PromiseError as exc:
        await ack(response_action="errors", errors={ids.OWNER_BLOCK: str(exc)})
        return
    await ack(
        response_action="update",
        view=blocks.build_notice("Promise logged", promise_blocks.describe_promise(detail)),
    )
    if owner != user_id:
        await notify_owner(svc, detail)
    await svc.publish_home(team_id=team_id, user_id=user_id, now=now)


def register(app: AsyncApp) -> None:
    """Register modal submissions and the account search."""
    app.view(ids.CHECKIN_MODAL)(guarded(handle_checkin_submission))
    app.view(ids.NEW_INTERACTION_MODAL)(guarded(handle_interaction_submission))
    app.view(ids.AWAY_MODAL)(guarded(handle_away_submission))
    app.view(ids.RENEGOTIATE_MODAL)(guarded(handle_renegotiate_submission))
    app.view(ids.CANCEL_MODAL)(guarded(handle_cancel_submission))
    app.view(ids.PROMISE_EDIT_MODAL)(guarded(handle_edit_promise_submission))
    app.view(ids.PROMISE_MODAL)(guarded(handle_new_promise_submission))
    app.options(ids.ACCOUNT_SELECT)(guarded(handle_account_options))
