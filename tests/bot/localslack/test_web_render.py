"""Block Kit → HTML for the workspace page: mrkdwn, dates, escaping, blocks, modal inputs."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import blocks, promise_blocks
from bot.localslack.render import (
    Form,
    Viewer,
    blocks_html,
    form_state,
    format_date,
    input_elements,
    message_html,
    mrkdwn_html,
    plain_html,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 12:00 in Helsinki
VIEWER = Viewer(
    user_id="U1",
    tz="Europe/Helsinki",
    now=NOW,
    users={"U1": "maija", "U2": "oliver"},
    channels={"C1": "account-health"},
)


def test_mrkdwn_emphasis_code_and_line_breaks() -> None:
    html = mrkdwn_html("*bold* _italic_ ~gone~ `a*b_c` snake_case_name\n```x = *1*```", VIEWER)
    assert "<b>bold</b> <i>italic</i> <s>gone</s>" in html
    assert "<code>a*b_c</code> snake_case_name<br><pre>x = *1*</pre>" in html


def test_mentions_channels_broadcasts_and_links() -> None:
    html = mrkdwn_html(
        "<@U2|old> <@U1> <@U9|ghost> <#C1|x> <!here> <https://example.com/a?b=1&amp;c=2|site> "
        "<mailto:a@example.com>",
        VIEWER,
    )
    assert '<span class="mention" data-user="U2">@oliver</span>' in html
    assert '<span class="mention me" data-user="U1">@maija</span>' in html  # the reader
    assert "@ghost" in html and "#account-health" in html and "@here" in html
    assert '<a href="https://example.com/a?b=1&amp;c=2" target="_blank"' in html
    assert ">site</a>" in html and 'href="mailto:a@example.com"' in html


def test_user_text_is_shown_as_typed_never_as_markup() -> None:
    # what the bot sends: user text escaped for Slack
    html = mrkdwn_html("“&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;”", VIEWER)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;" in html
    # raw angle brackets that are not Slack tokens, and unsafe link schemes
    assert mrkdwn_html("<script>x</script>", VIEWER) == "&lt;script&gt;x&lt;/script&gt;"
    evil = mrkdwn_html("<javascript:alert(1)|click>", VIEWER)
    assert "<a" not in evil and "javascript:alert(1)|click" in evil
    assert plain_html("Create “<img src=x onerror=alert(1)>”") == (
        "Create “&lt;img src=x onerror=alert(1)&gt;”"
    )
    quoted = mrkdwn_html('<@U2|a" onmouseover="x>', Viewer(users={}))
    assert 'data-user="U2"' in quoted and 'onmouseover="x' not in quoted


def test_dates_in_the_readers_timezone() -> None:
    stamp = int(datetime(2026, 11, 23, 23, 30, tzinfo=UTC).timestamp())  # Tue 01:30 Helsinki
    assert format_date(stamp, "{date_short_pretty}", VIEWER) == "Tomorrow"
    assert format_date(stamp, "{date_num} {time}", VIEWER) == "2026-11-24 01:30"
    assert format_date(stamp, "{date_long}", VIEWER) == "Tuesday, November 24th, 2026"
    assert format_date(stamp, "{date_short}", Viewer(tz="America/New_York", now=NOW)) == (
        "Nov 23, 2026"
    )
    later = int(datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp())
    assert format_date(later, "{date_pretty}", VIEWER) == "December 1st, 2026"
    assert format_date(later, "{ago}", VIEWER) == "in 7 days"
    html = mrkdwn_html(f"due <!date^{stamp}^{{date_short_pretty}}|2026-11-24>", VIEWER)
    assert html.startswith("due <time datetime=") and ">Tomorrow</time>" in html
    assert mrkdwn_html("<!date^nonsense^{date}|fallback &amp; co>", VIEWER) == "fallback &amp; co"


def test_emoji_codes_become_characters() -> None:
    assert mrkdwn_html(":white_check_mark: done :no_such_emoji:", VIEWER) == (
        "✅ done :no_such_emoji:"
    )


def test_every_block_kind_the_bot_sends() -> None:
    html = blocks_html(
        [
            {"type": "header", "text": {"type": "plain_text", "text": "Trust digest"}},
            {
                "type": "section",
                "block_id": "s1",
                "text": {"type": "mrkdwn", "text": "*Acme*"},
                "fields": [
                    {"type": "mrkdwn", "text": "tier A"},
                    {"type": "plain_text", "text": "B"},
                ],
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open"},
                    "action_id": "open_account",
                    "value": "7",
                },
            },
            {"type": "divider"},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "by <@U2>"},
                    {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"},
                ],
            },
            {
                "type": "actions",
                "block_id": "checkin_actions_3",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "5 · strong"},
                        "action_id": "rate_checkin_5",
                        "value": "3",
                        "style": "primary",
                    },
                    {
                        "type": "static_select",
                        "action_id": "pick",
                        "options": [{"text": {"type": "plain_text", "text": "x"}, "value": "x"}],
                    },
                ],
            },
            {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "nope"},
            {"type": "image", "slack_file": {"id": "F1"}, "alt_text": "chart"},
        ],
        VIEWER,
    )
    assert '<div class="bk-header">Trust digest</div>' in html
    assert '<div class="bk-field">tier A</div>' in html
    assert (
        'data-action-id="open_account" data-block-id="s1" data-type="button" data-value="7"' in html
    )
    assert '<hr class="bk-divider">' in html and "@oliver" in html
    assert 'class="bk-button primary"' in html and 'data-block-id="checkin_actions_3"' in html
    assert '<select class="bk-live"' in html
    assert "javascript:" not in html and "[image: nope]" in html
    assert 'src="/files/F1"' in html


def test_message_with_a_file_and_no_blocks() -> None:
    html = message_html({"text": "Trend <b>", "files": [{"id": "F9", "title": "chart"}]}, VIEWER)
    assert "Trend &lt;b&gt;" in html and '<img src="/files/F9" alt="chart">' in html


def test_modal_inputs_show_initial_values_typed_values_and_errors() -> None:
    modal = promise_blocks.build_new_promise_modal(
        owner="U2", due=datetime(2026, 11, 27).date(), interactions=[(5, "call with Acme")]
    )
    form = Form(
        values={
            "promise_what": {"promise_what_input": {"type": "plain_text_input", "value": "<x>"}}
        },
        errors={"promise_due": "Pick today or a later day."},
        options={
            "promise_account/account_select": [
                {"text": {"type": "plain_text", "text": "Acme & Co"}, "value": "1"}
            ]
        },
    )
    html = blocks_html(modal["blocks"], VIEWER, form)
    assert '<textarea name="input-1"' in html and "&lt;x&gt;</textarea>" in html
    assert '<option value="1">Acme &amp; Co</option>' in html  # loaded by block_suggestion
    assert '<option value="U2" selected>@oliver</option>' in html  # initial_user
    assert 'type="date" name="input-3" value="2026-11-27"' in html
    assert 'role="alert">Pick today or a later day.</div>' in html
    assert [b for b, _, _ in input_elements(modal["blocks"])] == [
        "promise_account",
        "promise_what",
        "promise_owner",
        "promise_due",
        "promise_interaction",
    ]


def test_form_fields_become_state_values_as_slack_sends_them() -> None:
    checkin = blocks.build_interaction_modal()
    values = form_state(
        checkin["blocks"],
        {"input-0": ["12"], "input-1": ["qbr"], "input-2": ["U1", "U2"], "input-3": [""]},
        external={
            "account/account_select": [
                {"text": {"type": "plain_text", "text": "Acme"}, "value": "12"}
            ]
        },
    )
    assert values["account"]["account_select"] == {
        "type": "external_select",
        "selected_option": {"text": {"type": "plain_text", "text": "Acme"}, "value": "12"},
    }
    kind = values["kind"]["kind_input"]
    assert kind["type"] == "static_select" and kind["selected_option"]["value"] == "qbr"
    assert values["participants"]["participants_input"] == {
        "type": "multi_users_select",
        "selected_users": ["U1", "U2"],
    }
    assert values["note"]["note_input"] == {"type": "plain_text_input", "value": None}


def test_radio_buttons_and_dates_round_trip() -> None:
    view_blocks = [
        {
            "type": "input",
            "block_id": "told",
            "element": {
                "type": "radio_buttons",
                "action_id": "told_input",
                "options": [
                    {"text": {"type": "plain_text", "text": "Yes"}, "value": "yes"},
                    {"text": {"type": "plain_text", "text": "No"}, "value": "no"},
                ],
            },
            "label": {"type": "plain_text", "text": "Told?"},
        },
        {
            "type": "input",
            "block_id": "due",
            "element": {"type": "datepicker", "action_id": "due_input"},
            "label": {"type": "plain_text", "text": "Due"},
        },
    ]
    values = form_state(view_blocks, {"input-0": ["no"], "input-1": ["2026-12-04"]})
    assert values["told"]["told_input"]["selected_option"]["value"] == "no"
    assert values["due"]["due_input"] == {"type": "datepicker", "selected_date": "2026-12-04"}
    html = blocks_html(view_blocks, VIEWER, Form(values=values))
    assert 'value="no" checked>' in html and 'value="2026-12-04"' in html
    empty = form_state(view_blocks, {})
    assert empty["told"]["told_input"]["selected_option"] is None
