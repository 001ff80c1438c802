"""Block Kit builders: within Slack's limits, user text escaped, the right buttons."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot import blocks as b
from bot import ids
from bot.localslack.limits import check_blocks, check_view
from storage.models import AwayPeriod, CheckIn, CheckInDetail

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EVIL = "<!channel> & <@U1>"


def make_checkin(checkin_id: int = 1, **kw: Any) -> CheckIn:
    fields: dict[str, Any] = {
        "id": checkin_id,
        "team_id": "T1",
        "interaction_id": 10,
        "user_id": "UALICE",
        "status": "pending",
        "created_at": NOW,
        "remind_at": NOW + timedelta(hours=4),
        "expires_at": NOW + timedelta(days=3),
        "rating": None,
        "direction": None,
        "stage": None,
        "concern": None,
        "answered_at": None,
        "reminded_at": None,
        "closed_at": None,
        "dm_channel": None,
        "dm_ts": None,
        "reminder_ts": None,
        "delivery_error": None,
        "delivery_attempts": 0,
    }
    fields.update(kw)
    return CheckIn(**fields)


def make_detail(
    checkin_id: int = 1, *, account: str = "Acme Oy", note: str = "", **kw: Any
) -> CheckInDetail:
    return CheckInDetail(
        checkin=make_checkin(checkin_id, **kw),
        account_id=5,
        account_name=account,
        kind="call",
        occurred_at=NOW,
        logged_by="UBOB",
        note=note,
    )


def answered(detail: CheckInDetail, **kw: Any) -> CheckInDetail:
    values: dict[str, Any] = {
        "status": "answered",
        "rating": 4,
        "answered_at": NOW,
        "closed_at": NOW,
    }
    values.update(kw)
    return replace(detail, checkin=replace(detail.checkin, **values))


def texts(obj: Any) -> list[str]:
    """Every `text` string anywhere in a payload."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(texts(value))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(texts(item))
    return found


def mrkdwn_texts(obj: Any) -> list[str]:
    found: list[str] = []
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn" and isinstance(obj.get("text"), str):
            found.append(obj["text"])
        for value in obj.values():
            found.extend(mrkdwn_texts(value))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(mrkdwn_texts(item))
    return found


def assert_message_ok(blocks: list[dict[str, Any]]) -> None:
    assert check_blocks(blocks, max_blocks=50) == []


def assert_view_ok(view: dict[str, Any]) -> None:
    assert check_view(view) == []


def assert_no_raw_tokens(payload: Any) -> None:
    """No user-made mention/ping survives in mrkdwn (our own <@id> and <!date> are fine)."""
    for text in mrkdwn_texts(payload):
        assert "<!channel>" not in text
        assert "<@U1>" not in text
        assert "& <" not in text
        assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in text or "channel" not in text


def actions_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [blk for blk in blocks if blk["type"] == "actions"]


# --- help / error -------------------------------------------------------------------------


def test_help_within_limits_and_mentions_every_command():
    blocks = b.build_help()
    assert_message_ok(blocks)
    joined = "\n".join(texts(blocks))
    for command in (
        "/checkin",
        "/promise",
        "/promise list",
        "/trust account add",
        "/trust account <name>",
        "/trust accounts",
        "/trust digest here",
        "/trust digest off",
        "/trust digest preview",
        "/trust away",
        "/trust back",
        "/trust help",
    ):
        assert command in joined
    assert "trustloop" in b.help_text()


def test_error_shows_message():
    blocks = b.build_error("Which account?")
    assert_message_ok(blocks)
    assert "Which account?" in texts(blocks)[0]


def test_error_with_huge_message_stays_in_limits():
    assert_message_ok(b.build_error("x" * 10_000))


# --- check-in message -----------------------------------------------------------------------


def test_checkin_message_has_five_rating_buttons_details_and_skip():
    blocks = b.build_checkin_message(make_detail(7))
    assert_message_ok(blocks)
    (actions,) = actions_blocks(blocks)
    labels = [e["text"]["text"] for e in actions["elements"]]
    assert len(labels) == 7
    for n, label in enumerate(labels[:5], start=1):
        assert label.startswith(str(n))
    assert labels[5] == "Add details"
    assert labels[6] == "Skip"
    assert all(e["value"] == "7" for e in actions["elements"])
    rating_ids = [e["action_id"] for e in actions["elements"][:5]]
    assert all(ids.RATE_CHECKIN_PATTERN.match(a) for a in rating_ids)
    assert actions["elements"][5]["action_id"] == ids.CHECKIN_DETAILS
    assert actions["elements"][6]["action_id"] == ids.SKIP_CHECKIN


def test_checkin_message_names_account_kind_and_date():
    blocks = b.build_checkin_message(make_detail(account="Globex"))
    first = blocks[0]["text"]["text"]
    assert "Globex" in first
    assert "call" in first
    assert "2026-11-23" in first
    assert "<@UBOB>" in json.dumps(blocks)


def test_checkin_reminder_is_marked():
    plain = b.build_checkin_message(make_detail())
    reminder = b.build_checkin_message(make_detail(), reminder=True)
    assert "Reminder" in reminder[0]["text"]["text"]
    assert "Reminder" not in plain[0]["text"]["text"]


def test_checkin_message_escapes_account_and_note():
    blocks = b.build_checkin_message(make_detail(account=EVIL, note=EVIL))
    assert_message_ok(blocks)
    assert_no_raw_tokens(blocks)
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in blocks[0]["text"]["text"]


def test_checkin_message_with_huge_inputs():
    detail = make_detail(account="A" * 80, note="<" * 5000)
    blocks = b.build_checkin_message(detail)
    assert_message_ok(blocks)
    assert "A" * 80 in blocks[0]["text"]["text"]
    assert all("<<" not in t for t in mrkdwn_texts(blocks))


def test_checkin_message_note_is_shortened():
    blocks = b.build_checkin_message(make_detail(note="word " * 1000))
    assert_message_ok(blocks)
    context = next(blk for blk in blocks if blk["type"] == "context")
    assert "…" in context["elements"][0]["text"]
    assert len(context["elements"][0]["text"]) < 1000


def test_checkin_buttons_block_ids_are_unique_per_checkin():
    one = b.build_checkin_buttons(make_detail(1))
    two = b.build_checkin_buttons(make_detail(2))
    assert one["block_id"] != two["block_id"]


# --- closed check-in ------------------------------------------------------------------------


def test_closed_answered_message_has_no_actions_and_shows_answer():
    detail = answered(make_detail(), direction="worse", stage="affective", concern=EVIL)
    blocks = b.build_checkin_closed(detail)
    assert_message_ok(blocks)
    assert actions_blocks(blocks) == []
    text = blocks[0]["text"]["text"]
    assert "4 · good" in text
    assert "worse" in text
    assert "affective" in text
    assert_no_raw_tokens(blocks)


def test_closed_with_huge_concern():
    detail = answered(make_detail(account="B" * 80, note="n" * 5000), concern="<" * 3000)
    blocks = b.build_checkin_closed(detail)
    assert_message_ok(blocks)
    assert actions_blocks(blocks) == []
    assert all("<<" not in t for t in mrkdwn_texts(blocks))


@pytest.mark.parametrize(
    ("status", "words"),
    [("skipped", "skipped"), ("expired", "expired"), ("away", "away")],
)
def test_closed_other_statuses(status, words):
    detail = make_detail(status=status, closed_at=NOW)
    blocks = b.build_checkin_closed(detail)
    assert_message_ok(blocks)
    assert actions_blocks(blocks) == []
    assert words in blocks[0]["text"]["text"]
    assert words in b.describe_answer(detail)


def test_describe_pending():
    assert "Waiting" in b.describe_answer(make_detail())


# --- modals -------------------------------------------------------------------------------


def test_checkin_modal_limits_and_metadata():
    meta = b.checkin_metadata(42, "D123", "1700000000.000100")
    view = b.build_checkin_modal(make_detail(42, account=EVIL), metadata=meta)
    assert_view_ok(view)
    assert json.loads(view["private_metadata"]) == {
        "c": 42,
        "ch": "D123",
        "ts": "1700000000.000100",
    }
    assert view["callback_id"] == ids.CHECKIN_MODAL
    assert_no_raw_tokens(view)
    block_ids = [blk.get("block_id") for blk in view["blocks"]]
    for needed in (ids.RATING_BLOCK, ids.DIRECTION_BLOCK, ids.STAGE_BLOCK, ids.CONCERN_BLOCK):
        assert needed in block_ids
    rating = next(blk for blk in view["blocks"] if blk.get("block_id") == ids.RATING_BLOCK)
    assert not rating.get("optional", False)
    options = rating["element"]["options"]
    assert [o["value"] for o in options] == ["1", "2", "3", "4", "5"]


def test_checkin_modal_with_long_account_name():
    view = b.build_checkin_modal(
        make_detail(account="Z" * 80), metadata=b.checkin_metadata(1, None, None)
    )
    assert_view_ok(view)


def test_interaction_modal():
    view = b.build_interaction_modal()
    assert_view_ok(view)
    assert view["callback_id"] == ids.NEW_INTERACTION_MODAL
    kind = next(blk for blk in view["blocks"] if blk.get("block_id") == ids.KIND_BLOCK)
    assert [o["value"] for o in kind["element"]["options"]][:2] == ["meeting", "call"]


def test_away_modal():
    view = b.build_away_modal(date(2026, 11, 23))
    assert_view_ok(view)
    assert view["blocks"][0]["element"]["initial_date"] == "2026-11-23"


def test_notice_modal_truncates_long_title():
    view = b.build_notice("A very long title that will not fit", "x" * 5000)
    assert_view_ok(view)
    assert len(view["title"]["text"]) <= 24


# --- account picking --------------------------------------------------------------------------


def test_account_options_at_most_100_and_short():
    names = [(i, f"Account {i} " + "x" * 100) for i in range(250)]
    options = b.account_options(names)
    assert len(options) == 100
    assert all(len(o["text"]["text"]) <= 75 for o in options)
    assert options[0]["value"] == "0"


def test_unknown_account_with_suggestions():
    suggestions = [(i, f"Acme {i}" + "y" * 80) for i in range(8)]
    blocks = b.build_unknown_account(EVIL, suggestions, draft_id=9)
    assert_message_ok(blocks)
    assert_no_raw_tokens(blocks)
    (actions,) = actions_blocks(blocks)
    # at most five suggestions plus the create button
    assert len(actions["elements"]) == 6
    assert actions["elements"][0]["value"] == "9:0"
    assert actions["elements"][-1]["action_id"] == ids.CREATE_ACCOUNT
    assert actions["elements"][-1]["value"] == "9"


def test_unknown_account_without_suggestions_long_name():
    blocks = b.build_unknown_account("N" * 80, [], draft_id=1)
    assert_message_ok(blocks)
    (actions,) = actions_blocks(blocks)
    assert len(actions["elements"]) == 1
    assert "Did you mean" not in blocks[0]["text"]["text"]


# --- home ---------------------------------------------------------------------------------


def test_home_empty_not_away():
    view = b.build_home([], total_pending=0, away=None)
    assert_view_ok(view)
    assert view["type"] == "home"
    assert "No check-ins waiting" in json.dumps(view)
    assert any(blk.get("accessory", {}).get("action_id") == ids.AWAY_OPEN for blk in view["blocks"])


def test_home_away():
    away = AwayPeriod(
        id=1,
        team_id="T1",
        user_id="UALICE",
        starts_at=NOW,
        ends_at=NOW + timedelta(days=7),
        ended_at=None,
    )
    view = b.build_home([], total_pending=0, away=away)
    assert_view_ok(view)
    assert any(blk.get("accessory", {}).get("action_id") == ids.AWAY_BACK for blk in view["blocks"])


def test_home_with_500_pending_stays_within_100_blocks():
    pending = [make_detail(i, account=EVIL + "x" * 60, note="<" * 5000) for i in range(1, 501)]
    view = b.build_home(pending, total_pending=500, away=None)
    assert_view_ok(view)
    assert len(view["blocks"]) <= 100
    shown = len(actions_blocks(view["blocks"]))
    assert shown > 0
    assert f"…and {500 - shown} more" in json.dumps(view, ensure_ascii=False)
    assert_no_raw_tokens(view)


def test_home_more_count_uses_total_pending():
    pending = [make_detail(i) for i in range(1, 4)]
    view = b.build_home(pending, total_pending=10, away=None)
    assert_view_ok(view)
    assert "…and 7 more" in json.dumps(view, ensure_ascii=False)
    none_more = b.build_home(pending, total_pending=3, away=None)
    assert "more waiting" not in json.dumps(none_more)


# --- logged -------------------------------------------------------------------------------


def test_logged_confirmation():
    blocks = b.build_logged(
        account_name=EVIL,
        kind="call",
        asked=["U2", "U3"],
        away=["U4"],
        skipped=[("U5", "is a bot")],
        undelivered=["U6"],
        own_opened=False,
    )
    assert_message_ok(blocks)
    assert_no_raw_tokens(blocks)
    text = blocks[0]["text"]["text"]
    for user in ("<@U2>", "<@U3>", "<@U4>", "<@U5>", "<@U6>"):
        assert user in text
    assert "App Home" in text


def test_logged_minimal():
    blocks = b.build_logged(
        account_name="A" * 80,
        kind="qbr",
        asked=[],
        away=[],
        skipped=[],
        undelivered=[],
        own_opened=True,
    )
    assert_message_ok(blocks)
    assert "App Home" not in blocks[0]["text"]["text"]


def test_logged_with_many_users_stays_within_limits():
    many = [f"U{i:08d}" for i in range(400)]
    blocks = b.build_logged(
        account_name="Acme",
        kind="call",
        asked=many,
        away=many,
        skipped=[],
        undelivered=many,
        own_opened=False,
    )
    assert_message_ok(blocks)


def test_logged_for_a_thousand_names_a_few_and_keeps_every_line():
    """Every line survives (each list is cut short), where the section cap would cut the rest."""
    many = [f"U{i:08d}" for i in range(1000)]
    blocks = b.build_logged(
        account_name="Acme",
        kind="call",
        asked=many,
        away=many[:30],
        skipped=[(u, "is a bot") for u in many[:40]],
        undelivered=many[:2],
        own_opened=False,
    )
    assert_message_ok(blocks)
    text = blocks[0]["text"]["text"]
    assert "<@U00000000>" in text and "and 975 more." in text
    assert "and 5 more is away" in text
    assert "15 more mentioned get no check-in." in text
    assert "Couldn't DM <@U00000000>, <@U00000001> yet" in text
    assert "App Home" in text


def test_sending_says_how_many_and_escapes():
    blocks = b.build_sending(account_name=EVIL, kind="call", count=1000)
    assert_message_ok(blocks)
    assert_no_raw_tokens(blocks)
    assert "1,000 teammates" in blocks[0]["text"]["text"]


# --- helpers ------------------------------------------------------------------------------


def test_slack_date_has_readable_fallback():
    out = b.slack_date(NOW)
    assert out.startswith(f"<!date^{int(NOW.timestamp())}^")
    assert out.endswith("|2026-11-23>")


def test_slack_day():
    assert b.slack_day(date(2026, 11, 23)) == "Mon 23 Nov 2026"
