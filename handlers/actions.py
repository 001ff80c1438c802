"""Button clicks on check-in messages and on account suggestions."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import blocks, ids
from bot.parsing import AccountAdd, CommandError, clean_name
from bot.services import AnswerOutcome, Services
from bot.text import escape
from handlers.common import int_value, services, team_of, tell
from handlers.flows import start_checkin
from handlers.guard import guarded
from storage.queries import DuplicateAccountError

ALREADY = "You already answered this check-in, so nothing changed. {answer}"
NOT_YOURS = "That check-in isn't yours to answer."
MISSING = "I couldn't find that check-in."


def _container(body: dict[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    if container.get("type") == "message":
        return container.get("channel_id"), container.get("message_ts")
    return None, None


async def _feedback(
    svc: Services, respond: AsyncRespond, body: dict[str, Any], outcome: AnswerOutcome
) -> None:
    team_id, user_id = team_of(body), body["user"]["id"]
    if outcome.status == "already" and outcome.detail is not None:
        await tell(respond, body, ALREADY.format(answer=blocks.describe_answer(outcome.detail)))
        await svc.refresh_messages(outcome.detail)
    elif outcome.status == "not_yours":
        await tell(respond, body, NOT_YOURS)
    elif outcome.status == "missing":
        await tell(respond, body, MISSING)
    if (body.get("view") or {}).get("type") == "home" or outcome.status == "saved":
        await svc.publish_home(team_id=team_id, user_id=user_id, now=svc.now())


async def handle_rate_checkin(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """A 1–5 rating button: store the answer, then show it in place of the buttons."""
    await ack()
    svc = services(context)
    checkin_id = int_value(action.get("value"))
    rating = int(action["action_id"].rsplit("_", 1)[1])
    if checkin_id is None:
        await tell(respond, body, MISSING)
        return
    outcome = await svc.answer(
        team_id=team_of(body),
        user_id=body["user"]["id"],
        checkin_id=checkin_id,
        rating=rating,
        now=svc.now(),
    )
    await _feedback(svc, respond, body, outcome)


async def handle_skip_checkin(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Skip: close the check-in without a rating."""
    await ack()
    svc = services(context)
    checkin_id = int_value(action.get("value"))
    if checkin_id is None:
        await tell(respond, body, MISSING)
        return
    outcome = await svc.skip(
        team_id=team_of(body), user_id=body["user"]["id"], checkin_id=checkin_id, now=svc.now()
    )
    await _feedback(svc, respond, body, outcome)


async def handle_checkin_details(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Add details: open the check-in modal for a pending check-in."""
    await ack()
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    checkin_id = int_value(action.get("value"))
    detail = await svc.checkin(team_id=team_id, checkin_id=checkin_id) if checkin_id else None
    if detail is None:
        await tell(respond, body, MISSING)
        return
    if detail.checkin.user_id != user_id:
        await tell(respond, body, NOT_YOURS)
        return
    if detail.checkin.status != "pending":
        await tell(respond, body, ALREADY.format(answer=blocks.describe_answer(detail)))
        await svc.refresh_messages(detail)
        return
    channel, ts = _container(body)
    await svc.client.views_open(
        trigger_id=body["trigger_id"],
        view=blocks.build_checkin_modal(
            detail, metadata=blocks.checkin_metadata(detail.checkin.id, channel, ts)
        ),
    )


async def handle_pick_account(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """A suggested account was picked: continue the /checkin that named an unknown one."""
    await ack()
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    raw = str(action.get("value") or "")
    draft_id, _, account_raw = raw.partition(":")
    draft_key, account_id = int_value(draft_id), int_value(account_raw)
    account = await svc.account(team_id=team_id, account_id=account_id) if account_id else None
    if draft_key is None or account is None:
        await tell(respond, body, "That choice is no longer valid. Run `/checkin` again.")
        return
    draft = await svc.take_draft(
        team_id=team_id, user_id=user_id, draft_id=draft_key, now=svc.now()
    )
    if draft is None:
        await tell(respond, body, "That check-in was already logged; nothing changed.")
        return
    await respond(delete_original=True)
    await start_checkin(
        svc,
        respond,
        team_id=team_id,
        user_id=user_id,
        account=account,
        kind=str(draft.get("kind") or "meeting"),
        participants=list(draft.get("participants") or []),
        note=str(draft.get("note") or ""),
        trigger_id=body.get("trigger_id"),
    )


async def handle_create_account(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Create the account the user named, then continue their /checkin."""
    await ack()
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    draft_id = int_value(action.get("value"))
    draft = (
        await svc.take_draft(team_id=team_id, user_id=user_id, draft_id=draft_id, now=svc.now())
        if draft_id
        else None
    )
    if draft is None:
        await tell(respond, body, "That check-in was already logged; nothing changed.")
        return
    try:
        name = clean_name(str(draft.get("account_name") or ""))
    except CommandError as exc:
        await tell(respond, body, str(exc))
        return
    try:
        account = await svc.add_account(
            team_id=team_id, user_id=user_id, cmd=AccountAdd(name=name), now=svc.now()
        )
    except DuplicateAccountError:
        found = [
            a for a in await svc.accounts(team_id=team_id) if a.name.casefold() == name.casefold()
        ]
        if not found:
            await tell(respond, body, f"Couldn't create *{escape(name)}*; try again.")
            return
        account = found[0]
    await respond(delete_original=True)
    await start_checkin(
        svc,
        respond,
        team_id=team_id,
        user_id=user_id,
        account=account,
        kind=str(draft.get("kind") or "meeting"),
        participants=list(draft.get("participants") or []),
        note=str(draft.get("note") or ""),
        trigger_id=body.get("trigger_id"),
    )


def register(app: AsyncApp) -> None:
    """Register the button listeners."""
    app.action(ids.RATE_CHECKIN_PATTERN)(guarded(handle_rate_checkin))
    app.action(ids.SKIP_CHECKIN)(guarded(handle_skip_checkin))
    app.action(ids.CHECKIN_DETAILS)(guarded(handle_checkin_details))
    app.action(ids.PICK_ACCOUNT_PATTERN)(guarded(handle_pick_account))
    app.action(ids.CREATE_ACCOUNT)(guarded(handle_create_account))
