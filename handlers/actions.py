"""Button clicks on check-in messages and on account suggestions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackClientError

from bot import blocks, ids, promise_blocks
from bot.parsing import AccountAdd, CommandError, clean_name
from bot.promises import PromiseOutcome
from bot.services import AnswerOutcome, Services
from bot.text import escape
from handlers.common import int_value, services, team_of, tell
from handlers.flows import start_checkin
from handlers.guard import guarded
from handlers.health_flow import account_card_message, account_card_modal, accounts_page
from handlers.promise_flow import log_promise
from storage.models import Account, CheckInDetail
from storage.queries import DuplicateAccountError, name_key

ALREADY = "You already answered this check-in, so nothing changed. {answer}"
NOT_YOURS = "That check-in isn't yours to answer."
MISSING = "I couldn't find that check-in."
NOT_SHOWN = (
    "Saved. {answer}\nI couldn't update the check-in message itself, so it may still show "
    "its buttons; nothing more to do."
)


def _container(body: dict[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    if container.get("type") == "message":
        return container.get("channel_id"), container.get("message_ts")
    return None, None


async def _feedback(
    svc: Services, respond: AsyncRespond, body: dict[str, Any], outcome: AnswerOutcome
) -> None:
    team_id, user_id = team_of(body), body["user"]["id"]
    if outcome.status == "saved" and outcome.detail is not None:
        shown = await _show_in_clicked_message(svc, body, outcome.detail) and outcome.shown
        if not shown:  # the answer is stored; the message the user sees does not say so
            answer = blocks.describe_answer(outcome.detail)
            await tell(respond, body, NOT_SHOWN.format(answer=answer))
    elif outcome.status == "already" and outcome.detail is not None:
        await tell(respond, body, ALREADY.format(answer=blocks.describe_answer(outcome.detail)))
        await svc.refresh_messages(outcome.detail)
    elif outcome.status == "not_yours":
        await tell(respond, body, NOT_YOURS)
    elif outcome.status == "missing":
        await tell(respond, body, MISSING)
    # Only a click on the Home tab redraws it: a click in the DM happens on the Messages tab,
    # and opening Home again sends app_home_opened, which redraws it anyway. (Redrawing after
    # every DM answer was most of an answer's cost: the Home assesses the user's accounts.)
    if (body.get("view") or {}).get("type") == "home":
        await svc.publish_home(team_id=team_id, user_id=user_id, now=svc.now())


async def _show_in_clicked_message(
    svc: Services, body: dict[str, Any], detail: CheckInDetail
) -> bool:
    """Update the clicked message when it is not the DM the database knows of.

    That happens when Slack posted a check-in DM but could not confirm it (see
    `bot.slack.post_once`): the click still comes from it, and it must stop offering buttons.
    """
    channel, ts = _container(body)
    c = detail.checkin
    if not channel or not ts or ts in (c.dm_ts, c.reminder_ts):
        return True
    try:
        await svc.client.chat_update(
            channel=channel,
            ts=ts,
            text=blocks.checkin_fallback(detail),
            blocks=blocks.build_checkin_closed(detail),
        )
    except SlackClientError:
        return False
    return True


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


async def _drafted_choice(
    svc: Services,
    respond: AsyncRespond,
    body: dict[str, Any],
    action: dict[str, Any],
    *,
    create: bool,
    what: str,
) -> tuple[dict[str, Any], Account] | None:
    """The draft a suggestion button continues, and the account picked or created; once."""
    team_id, user_id = team_of(body), body["user"]["id"]
    draft_raw, _, account_raw = str(action.get("value") or "").partition(":")
    draft_id = int_value(draft_raw)
    account: Account | None = None
    if not create:
        account_id = int_value(account_raw)
        account = await svc.account(team_id=team_id, account_id=account_id) if account_id else None
        if account is None:
            draft_id = None
    if draft_id is None:
        await tell(respond, body, f"That choice is no longer valid. Run `/{what}` again.")
        return None
    draft = await svc.take_draft(team_id=team_id, user_id=user_id, draft_id=draft_id, now=svc.now())
    if draft is None:
        noun = "check-in" if what == "checkin" else what
        await tell(respond, body, f"That {noun} was already logged; nothing changed.")
        return None
    if account is None:
        account = await _create_named_account(
            svc, respond, body, str(draft.get("account_name") or "")
        )
    if account is None:
        return None
    await respond(delete_original=True)
    return draft, account


async def _continue_checkin(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    create: bool,
) -> None:
    await ack()
    svc = services(context)
    chosen = await _drafted_choice(svc, respond, body, action, create=create, what="checkin")
    if chosen is None:
        return
    draft, account = chosen
    await start_checkin(
        svc,
        respond,
        team_id=team_of(body),
        user_id=body["user"]["id"],
        account=account,
        kind=str(draft.get("kind") or "meeting"),
        participants=list(draft.get("participants") or []),
        note=str(draft.get("note") or ""),
        trigger_id=body.get("trigger_id"),
    )


async def handle_pick_account(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """A suggested account was picked: continue the /checkin that named an unknown one."""
    await _continue_checkin(ack, body, action, context, respond, create=False)


async def handle_create_account(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Create the account the user named, then continue their /checkin."""
    await _continue_checkin(ack, body, action, context, respond, create=True)


FORBIDDEN = (
    "Only the promise's owner, the person who logged it, the account owner or a workspace "
    "admin can change it."
)


async def _tell_anywhere(
    svc: Services, respond: AsyncRespond, body: dict[str, Any], message: str
) -> None:
    """Tell the clicker privately: in the conversation, or in a small modal on the App Home."""
    if await tell(respond, body, message) or not body.get("trigger_id"):
        return
    # A click on the App Home has no response_url; without this it would go unanswered.
    await svc.client.views_open(
        trigger_id=body["trigger_id"], view=blocks.build_notice("Promise", message)
    )


async def _promise_feedback(
    svc: Services, respond: AsyncRespond, body: dict[str, Any], outcome: PromiseOutcome
) -> None:
    team_id, user_id = team_of(body), body["user"]["id"]
    detail = outcome.detail
    if outcome.status == "missing" or detail is None:
        await _tell_anywhere(svc, respond, body, "I couldn't find that promise.")
        return
    if outcome.status == "forbidden":
        await _tell_anywhere(svc, respond, body, FORBIDDEN)
        return
    if outcome.status == "already":
        await tell(
            respond,
            body,
            "That promise was already resolved, so nothing changed. "
            + promise_blocks.describe_promise(detail),
        )
    channel, ts = _container(body)
    container = body.get("container") or {}
    if outcome.status == "saved":
        updated = False
        if channel and ts and not container.get("is_ephemeral"):
            try:
                await svc.client.chat_update(
                    channel=channel,
                    ts=ts,
                    text=f"Promise to {escape(detail.account_name)}: {detail.promise.status}",
                    blocks=promise_blocks.build_promise_closed(detail),
                )
                updated = True
            except SlackClientError:
                pass  # the message is gone; the change is stored, so say so below
        if not updated and body.get("response_url"):
            await respond(
                text=promise_blocks.promise_outcome_text(detail),
                response_type="ephemeral",
                replace_original=False,
            )
    # Only a click on the Home tab redraws it: a click in the DM happens on the Messages tab,
    # and opening Home again sends app_home_opened, which redraws it anyway. (Redrawing after
    # every DM answer was most of an answer's cost: the Home assesses the user's accounts.)
    if (body.get("view") or {}).get("type") == "home":
        await svc.publish_home(team_id=team_id, user_id=user_id, now=svc.now())


async def _resolve(
    status: str,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    svc = services(context)
    promise_id = int_value(action.get("value"))
    if promise_id is None:
        await _tell_anywhere(svc, respond, body, "I couldn't find that promise.")
        return
    outcome = await svc.promises.resolve(
        team_id=team_of(body),
        user_id=body["user"]["id"],
        promise_id=promise_id,
        status=status,
        now=svc.now(),
    )
    await _promise_feedback(svc, respond, body, outcome)


async def handle_promise_kept(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Kept: on time if on or before the due day in the owner's timezone."""
    await ack()
    await _resolve("kept", body, action, context, respond)


async def handle_promise_broken(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Broken: recorded, counted, never deleted."""
    await ack()
    await _resolve("broken", body, action, context, respond)


async def _open_promise_modal(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
    build: Any,
) -> None:
    svc = services(context)
    team_id, user_id = team_of(body), body["user"]["id"]
    promise_id = int_value(action.get("value"))
    detail = await svc.promises.get(team_id=team_id, promise_id=promise_id) if promise_id else None
    now = svc.now()
    if detail is None:
        await tell(respond, body, "I couldn't find that promise.")
        return
    if not await svc.promises.may_change(detail, user_id, now):
        await tell(respond, body, FORBIDDEN)
        return
    if detail.promise.status != "open":
        await tell(
            respond,
            body,
            "That promise was already resolved. " + promise_blocks.describe_promise(detail),
        )
        return
    channel, ts = _container(body)
    if (body.get("container") or {}).get("is_ephemeral"):
        channel, ts = None, None
    metadata = promise_blocks.promise_metadata(detail.promise.id, channel, ts)
    tz = await svc.promises.zone_of(team_id, detail.promise.owner_id, now)
    await svc.client.views_open(
        trigger_id=body["trigger_id"], view=build(detail, metadata, now.astimezone(tz).date())
    )


async def handle_promise_renegotiate(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Renegotiate: ask for the new date and whether the customer was told."""
    await ack()
    await _open_promise_modal(
        body,
        action,
        context,
        respond,
        lambda d, m, today: promise_blocks.build_renegotiate_modal(
            d, metadata=m, suggested=max(today, d.promise.due_date) + timedelta(days=7)
        ),
    )


async def handle_promise_cancel(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Cancel: ask for the reason (cancelled promises are not broken ones)."""
    await ack()
    await _open_promise_modal(
        body,
        action,
        context,
        respond,
        lambda d, m, _today: promise_blocks.build_cancel_modal(d, metadata=m),
    )


async def handle_promise_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Edit: correct the text, owner or date of an open promise."""
    await ack()
    await _open_promise_modal(
        body,
        action,
        context,
        respond,
        lambda d, m, _today: promise_blocks.build_edit_promise_modal(d, metadata=m),
    )


async def _continue_promise(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    create: bool,
) -> None:
    await ack()
    svc = services(context)
    chosen = await _drafted_choice(svc, respond, body, action, create=create, what="promise")
    if chosen is None:
        return
    draft, account = chosen
    await log_promise(
        svc,
        respond,
        team_id=team_of(body),
        user_id=body["user"]["id"],
        account=account,
        what=str(draft.get("what") or ""),
        when_text=draft.get("when_text"),
        owner_id=draft.get("owner_id"),
    )


async def handle_pick_promise_account(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """A suggested account was picked: log the /promise that named an unknown one."""
    await _continue_promise(ack, body, action, context, respond, create=False)


async def handle_create_promise_account(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Create the account the user named, then log their /promise."""
    await _continue_promise(ack, body, action, context, respond, create=True)


async def _create_named_account(
    svc: Services, respond: AsyncRespond, body: dict[str, Any], raw_name: str
) -> Account | None:
    """Create a tier B account by name (or find it if it appeared meanwhile)."""
    team_id, user_id = team_of(body), body["user"]["id"]
    try:
        name = clean_name(raw_name)
    except CommandError as exc:
        await tell(respond, body, escape(str(exc)))
        return None
    try:
        return await svc.add_account(
            team_id=team_id, user_id=user_id, cmd=AccountAdd(name=name), now=svc.now()
        )
    except DuplicateAccountError:
        found = [
            a for a in await svc.accounts(team_id=team_id) if name_key(a.name) == name_key(name)
        ]
        if not found:
            await tell(respond, body, f"Couldn't create *{escape(name)}*; try again.")
        return found[0] if found else None


async def handle_open_account(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """ "Open" on a digest, the ranked list or the App Home: the account card, to the clicker only.

    A click in a view (the App Home) has no message to answer, so the card opens as a modal.
    """
    await ack()
    svc = services(context)
    account_id = int_value(_action_value(body))
    view = body.get("view")
    if view and not body.get("response_url"):
        card = await account_card_modal(svc, team_id=team_of(body), account_id=account_id)
        opener = svc.client.views_push if view.get("type") == "modal" else svc.client.views_open
        await opener(trigger_id=body["trigger_id"], view=card)
        return
    if account_id is None:
        await tell(respond, body, "That button is out of date.")
        return
    answer = await account_card_message(svc, team_id=team_of(body), account_id=account_id)
    await respond(response_type="ephemeral", replace_original=False, **answer)


async def handle_accounts_page(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """Previous / next page of `/trust accounts`, in place."""
    await ack()
    svc = services(context)
    page = min(int_value(_action_value(body)) or 1, 10_000)
    answer = await accounts_page(svc, team_id=team_of(body), page=page)
    await respond(response_type="ephemeral", replace_original=True, **answer)


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def register(app: AsyncApp) -> None:
    """Register the button listeners."""
    app.action(ids.RATE_CHECKIN_PATTERN)(guarded(handle_rate_checkin))
    app.action(ids.SKIP_CHECKIN)(guarded(handle_skip_checkin))
    app.action(ids.CHECKIN_DETAILS)(guarded(handle_checkin_details))
    app.action(ids.PICK_ACCOUNT_PATTERN)(guarded(handle_pick_account))
    app.action(ids.CREATE_ACCOUNT)(guarded(handle_create_account))
    app.action(ids.PROMISE_KEPT)(guarded(handle_promise_kept))
    app.action(ids.PROMISE_BROKEN)(guarded(handle_promise_broken))
    app.action(ids.PROMISE_RENEGOTIATE)(guarded(handle_promise_renegotiate))
    app.action(ids.PROMISE_CANCEL)(guarded(handle_promise_cancel))
    app.action(ids.PROMISE_EDIT)(guarded(handle_promise_edit))
    app.action(ids.PICK_PROMISE_ACCOUNT_PATTERN)(guarded(handle_pick_promise_account))
    app.action(ids.CREATE_PROMISE_ACCOUNT)(guarded(handle_create_promise_account))
    app.action(ids.OPEN_ACCOUNT)(guarded(handle_open_account))
    app.action(ids.ACCOUNTS_PAGE_PATTERN)(guarded(handle_accounts_page))
