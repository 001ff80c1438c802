"""Every action_id, callback_id and block_id the bot uses, in one place."""

from __future__ import annotations

import re

# Check-in buttons (DM and App Home). Rating buttons are RATE_CHECKIN + "_<n>".
RATE_CHECKIN = "checkin_rate"
RATE_CHECKIN_PATTERN = re.compile(r"^checkin_rate_[1-5]$")
CHECKIN_DETAILS = "checkin_details"
SKIP_CHECKIN = "checkin_skip"
CHECKIN_ACTIONS_BLOCK = "checkin_actions"

# Unknown-account suggestions after /checkin.
PICK_ACCOUNT = "checkin_pick_account"
PICK_ACCOUNT_PATTERN = re.compile(r"^checkin_pick_account(_\d+)?$")
CREATE_ACCOUNT = "checkin_create_account"
SUGGEST_BLOCK = "account_suggestions"

# Check-in modal (answer with details).
CHECKIN_MODAL = "checkin_modal"
RATING_BLOCK = "rating"
RATING_INPUT = "rating_input"
DIRECTION_BLOCK = "direction"
DIRECTION_INPUT = "direction_input"
STAGE_BLOCK = "stage"
STAGE_INPUT = "stage_input"
CONCERN_BLOCK = "concern"
CONCERN_INPUT = "concern_input"

# /checkin with no text: log an interaction.
NEW_INTERACTION_MODAL = "interaction_modal"
ACCOUNT_BLOCK = "account"
ACCOUNT_SELECT = "account_select"
KIND_BLOCK = "kind"
KIND_INPUT = "kind_input"
PARTICIPANTS_BLOCK = "participants"
PARTICIPANTS_INPUT = "participants_input"
NOTE_BLOCK = "note"
NOTE_INPUT = "note_input"

# Away.
AWAY_OPEN = "away_open"
AWAY_BACK = "away_back"
AWAY_MODAL = "away_modal"
AWAY_DATE_BLOCK = "away_until"
AWAY_DATE_INPUT = "away_until_input"
HOME_AWAY_BLOCK = "home_away"

# Promise buttons (confirmation, list, reminders, App Home); the value is the promise id.
PROMISE_KEPT = "promise_kept"
PROMISE_RENEGOTIATE = "promise_renegotiate"
PROMISE_BROKEN = "promise_broken"
PROMISE_CANCEL = "promise_cancel"
PROMISE_EDIT = "promise_edit"
PROMISE_ACTIONS_BLOCK = "promise_actions"
PICK_PROMISE_ACCOUNT = "promise_pick_account"
PICK_PROMISE_ACCOUNT_PATTERN = re.compile(r"^promise_pick_account(_\d+)?$")
CREATE_PROMISE_ACCOUNT = "promise_create_account"

# Promise modals.
PROMISE_MODAL = "promise_modal"
PROMISE_EDIT_MODAL = "promise_edit_modal"
RENEGOTIATE_MODAL = "promise_renegotiate_modal"
CANCEL_MODAL = "promise_cancel_modal"
WHAT_BLOCK = "promise_what"
WHAT_INPUT = "promise_what_input"
OWNER_BLOCK = "promise_owner"
OWNER_INPUT = "promise_owner_input"
DUE_BLOCK = "promise_due"
DUE_INPUT = "promise_due_input"
PROMISE_ACCOUNT_BLOCK = "promise_account"
TOLD_BLOCK = "promise_told"
TOLD_INPUT = "promise_told_input"
REASON_BLOCK = "promise_reason"
REASON_INPUT = "promise_reason_input"
INTERACTION_BLOCK = "promise_interaction"
INTERACTION_INPUT = "promise_interaction_input"

# The "promises made" part of the check-in modal.
PROMISES_MADE_BLOCK = "promises_made"
PROMISES_MADE_INPUT = "promises_made_input"

# Account health: the account card, the ranked list and the digest.
OPEN_ACCOUNT = "account_open"
ACCOUNTS_PAGE = "accounts_page"
ACCOUNTS_NAV_BLOCK = "accounts_nav"
DIGEST_MORE_BLOCK = "digest_more"
ACCOUNTS_PAGE_PATTERN = re.compile(r"^accounts_page_(prev|next)$")
