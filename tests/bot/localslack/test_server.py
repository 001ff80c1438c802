"""Tests of SlackStub driven by the real slack_sdk AsyncWebClient over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack.server import SlackStub

TOKEN = "xoxb-test"


class FakeClock:
    """A manually advanced monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A controllable clock for trigger-id expiry."""
    return FakeClock()


@pytest.fixture
async def stub(clock: FakeClock) -> AsyncIterator[SlackStub]:
    """A running stub with a user, a bot user, and two channels."""
    s = SlackStub(bot_token=TOKEN, team_id="T0001", bot_user_id="UBOT", clock=clock)
    s.add_user("U1", name="alice", tz="Europe/Helsinki", real_name="Alice A")
    s.add_user("U2", name="bob")
    s.add_user("UGONE", name="gone", deleted=True)
    s.add_user("UOTHERBOT", name="otherbot", is_bot=True)
    s.add_channel("C1", name="general", members=["U1", "UBOT"])
    s.add_channel("C2", name="random", members=["U1"])
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def client(stub: SlackStub) -> AsyncWebClient:
    """The real SDK client pointed at the stub."""
    return AsyncWebClient(token=TOKEN, base_url=stub.api_url)


def section(text: str) -> dict[str, Any]:
    """A section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(title: str = "Check-in") -> dict[str, Any]:
    """A minimal modal."""
    return {
        "type": "modal",
        "callback_id": "checkin",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [section("hello")],
    }


async def test_api_url_shape(stub: SlackStub) -> None:
    """api_url is a loopback URL with a trailing slash."""
    assert stub.api_url.startswith("http://127.0.0.1:")
    assert stub.api_url.endswith("/api/")


async def test_auth_test(client: AsyncWebClient) -> None:
    """auth.test returns the bot identity."""
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == "UBOT"
    assert resp["team_id"] == "T0001"
    assert {"url", "team", "user", "bot_id"} <= set(resp.data)


async def test_post_and_update_roundtrip(client: AsyncWebClient, stub: SlackStub) -> None:
    """A posted message can be updated and the stub reflects the latest state."""
    posted = await client.chat_postMessage(channel="C1", text="hi", blocks=[section("one")])
    assert posted["channel"] == "C1"
    assert posted["message"]["blocks"] == [section("one")]
    ts = posted["ts"]
    second = await client.chat_postMessage(channel="C1", text="again", thread_ts=ts)
    assert second["ts"] > ts
    updated = await client.chat_update(channel="C1", ts=ts, text="bye", blocks=[section("two")])
    assert updated["ts"] == ts
    assert updated["text"] == "bye"
    msgs = stub.messages("C1")
    assert [m["text"] for m in msgs] == ["bye", "again"]
    assert msgs[0]["blocks"] == [section("two")]
    assert msgs[0]["user"] == "UBOT"
    assert msgs[1]["thread_ts"] == ts
    assert len(stub.calls_to("chat.postMessage")) == 2
    assert stub.calls_to("chat.update")[0].args["blocks"] == [section("two")]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_message_errors(client: AsyncWebClient) -> None:
    """Unknown channel, bot not in channel, no text, unknown ts."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "CNOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C2", "text": "x"}, "not_in_channel"),
        ({"channel": "C1"}, "no_text"),
    ]
    for kwargs, error in cases:
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(**kwargs)
        assert exc.value.response["error"] == error
    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert exc.value.response["error"] == "message_not_found"


async def test_post_to_user_id_goes_to_dm(client: AsyncWebClient, stub: SlackStub) -> None:
    """Posting to a user id lands in the DM with that user."""
    resp = await client.chat_postMessage(channel="U1", text="psst")
    assert resp["channel"] == stub.dm_channel_for("U1")
    assert stub.messages(stub.dm_channel_for("U1"))[0]["text"] == "psst"
    assert stub.messages("U1")[0]["text"] == "psst"


async def test_users_info(client: AsyncWebClient) -> None:
    """users.info returns Slack's user shape with a zoneinfo offset."""
    resp = await client.users_info(user="U1")
    user = resp["user"]
    assert user["id"] == "U1"
    assert user["name"] == "alice"
    assert user["tz"] == "Europe/Helsinki"
    assert user["tz_offset"] in (7200, 10800)
    assert user["profile"]["real_name"] == "Alice A"
    assert user["is_bot"] is False
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="UNOPE")
    assert exc.value.response["error"] == "user_not_found"


async def test_conversations_open(client: AsyncWebClient, stub: SlackStub) -> None:
    """conversations.open returns a stable DM id and Slack's errors."""
    resp = await client.conversations_open(users="U1")
    assert resp["channel"]["id"] == stub.dm_channel_for("U1")
    assert resp["channel"]["id"].startswith("D")
    mpim = await client.conversations_open(users="U1,U2")
    assert mpim["channel"]["id"].startswith("G")
    for users, error in [
        ("UNOPE", "user_not_found"),
        ("UGONE", "user_not_found"),
        ("UOTHERBOT", "cannot_dm_bot"),
    ]:
        with pytest.raises(SlackApiError) as exc:
            await client.conversations_open(users=users)
        assert exc.value.response["error"] == error
    posted = await client.chat_postMessage(channel=resp["channel"]["id"], text="hey")
    assert posted["ok"]


async def test_conversations_info(client: AsyncWebClient) -> None:
    """conversations.info returns the channel object."""
    resp = await client.conversations_info(channel="C2")
    assert resp["channel"]["name"] == "random"
    assert resp["channel"]["is_member"] is False
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_info(channel="CNOPE")
    assert exc.value.response["error"] == "channel_not_found"


async def test_post_ephemeral(client: AsyncWebClient, stub: SlackStub) -> None:
    """chat.postEphemeral records the ephemeral and checks membership."""
    resp = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert resp["message_ts"]
    assert stub.ephemerals[0]["user"] == "U1"
    assert stub.ephemerals[0]["text"] == "only you"
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postEphemeral(channel="C1", user="U2", text="x")
    assert exc.value.response["error"] == "user_not_in_channel"


async def test_views_open_trigger_ids(
    client: AsyncWebClient, stub: SlackStub, clock: FakeClock
) -> None:
    """views.open accepts only fresh, unused trigger ids issued by the stub."""
    trigger = stub.issue_trigger_id()
    resp = await client.views_open(trigger_id=trigger, view=modal())
    view = resp["view"]
    assert view["id"].startswith("V")
    assert view["state"] == {"values": {}}
    assert view["callback_id"] == "checkin"
    assert view["team_id"] == "T0001"
    assert {"hash", "type", "private_metadata"} <= set(view)
    assert stub.open_views[view["id"]]["title"]["text"] == "Check-in"

    with pytest.raises(SlackApiError) as exc:
        await client.views_open(trigger_id=trigger, view=modal())
    assert exc.value.response["error"] == "expired_trigger_id"

    with pytest.raises(SlackApiError) as exc:
        await client.views_open(trigger_id="123.456.abc", view=modal())
    assert exc.value.response["error"] == "invalid_trigger_id"

    old = stub.issue_trigger_id()
    clock.now += 3.5
    with pytest.raises(SlackApiError) as exc:
        await client.views_open(trigger_id=old, view=modal())
    assert exc.value.response["error"] == "expired_trigger_id"


async def test_views_push_and_update(client: AsyncWebClient, stub: SlackStub) -> None:
    """views.push opens another modal; views.update replaces one, honouring hash."""
    opened = (await client.views_open(trigger_id=stub.issue_trigger_id(), view=modal()))["view"]
    pushed = (await client.views_push(trigger_id=stub.issue_trigger_id(), view=modal("Two")))[
        "view"
    ]
    assert pushed["id"] != opened["id"]
    updated = await client.views_update(
        view_id=opened["id"], view=modal("Done"), hash=opened["hash"]
    )
    assert updated["view"]["id"] == opened["id"]
    assert stub.open_views[opened["id"]]["title"]["text"] == "Done"
    with pytest.raises(SlackApiError) as exc:
        await client.views_update(view_id=opened["id"], view=modal(), hash="stale.hash")
    assert exc.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as exc:
        await client.views_update(view_id="VNOPE", view=modal())
    assert exc.value.response["error"] == "not_found"


async def test_views_publish(client: AsyncWebClient, stub: SlackStub) -> None:
    """views.publish stores the home view per user, keeping its id across publishes."""
    home = {"type": "home", "blocks": [section("welcome")]}
    first = await client.views_publish(user_id="U1", view=home)
    assert first["view"]["type"] == "home"
    assert stub.home_views["U1"]["blocks"] == [section("welcome")]
    second = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert second["view"]["id"] == first["view"]["id"]
    assert stub.home_views["U1"]["blocks"] == []


async def test_auth_errors(stub: SlackStub) -> None:
    """Missing token -> not_authed, wrong token -> invalid_auth, unknown method -> 404."""
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(base_url=stub.api_url).auth_test()
    assert exc.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(token="xoxb-wrong", base_url=stub.api_url).auth_test()
    assert exc.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(token=TOKEN, base_url=stub.api_url).api_call("nope.nothing")
    assert exc.value.response.status_code == 404
    assert exc.value.response["error"] == "unknown_method"


async def test_form_and_query_token(stub: SlackStub) -> None:
    """Form-encoded bodies and query params (with a token field) are accepted."""
    async with aiohttp.ClientSession() as session:
        async with session.post(
            stub.api_url + "chat.postMessage",
            data={"token": TOKEN, "channel": "C1", "text": "form", "blocks": "[]"},
        ) as resp:
            body = await resp.json()
        assert body["ok"] is True
        async with session.get(stub.api_url + "users.info?user=U2&token=" + TOKEN) as resp:
            body = await resp.json()
        assert body["user"]["name"] == "bob"
    assert "token" not in stub.calls[0].args


async def test_fail_next(client: AsyncWebClient, stub: SlackStub) -> None:
    """fail_next answers ok:false the given number of times, then recovers."""
    stub.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel="C1", text="x")
        assert exc.value.response.status_code == 200
        assert exc.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert len(stub.calls_to("chat.postMessage")) == 1
    assert len(stub.calls_to("chat.postMessage", all=True)) == 3


async def test_rate_limit_without_retry(client: AsyncWebClient, stub: SlackStub) -> None:
    """rate_limit_next answers HTTP 429 with Retry-After."""
    stub.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "7"
    assert exc.value.response["error"] == "ratelimited"


async def test_rate_limit_retried_by_sdk(client: AsyncWebClient, stub: SlackStub) -> None:
    """The SDK's rate-limit retry handler honours Retry-After and then succeeds."""
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    stub.rate_limit_next("chat.postMessage", retry_after=0)
    resp = await client.chat_postMessage(channel="C1", text="x")
    assert resp["ok"]
    assert [c.status for c in stub.calls_to("chat.postMessage", all=True)] == [429, 200]
    assert len(stub.messages("C1")) == 1


async def test_server_error(client: AsyncWebClient, stub: SlackStub) -> None:
    """server_error_next answers with the given 5xx status."""
    stub.server_error_next("users.info", status=503)
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="U1")
    assert exc.value.response.status_code == 503
    assert (await client.users_info(user="U1"))["ok"]


async def test_limit_violation_invalid_blocks(client: AsyncWebClient, stub: SlackStub) -> None:
    """Block Kit limit violations answer invalid_blocks / invalid_arguments and are recorded."""
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="x", blocks=[section("y" * 3001)])
    assert exc.value.response["error"] == "invalid_blocks"
    assert len(stub.violations) == 1
    assert stub.violations[0].startswith("chat.postMessage:")
    assert stub.messages("C1") == []
    with pytest.raises(SlackApiError) as exc:
        await client.views_open(
            trigger_id=stub.issue_trigger_id(), view=modal("a title that is far too long")
        )
    assert exc.value.response["error"] == "invalid_arguments"
    assert len(stub.violations) == 2
    stub.clear()
    assert stub.violations == []
    assert stub.calls == []


async def test_file_upload_flow(client: AsyncWebClient, stub: SlackStub) -> None:
    """files_upload_v2 works end to end against the stub."""
    resp = await client.files_upload_v2(
        channel="C1", content="a,b\n1,2\n", filename="digest.csv", title="Digest"
    )
    assert resp["ok"]
    (file_id,) = stub.uploads
    assert stub.uploads[file_id].content == b"a,b\n1,2\n"
    assert stub.uploads[file_id].title == "Digest"
    complete = stub.calls_to("files.completeUploadExternal")[0]
    assert complete.response["files"] == [{"id": file_id, "title": "Digest"}]
    assert stub.messages("C1")[0]["files"] == [{"id": file_id, "title": "Digest"}]


async def test_complete_upload_without_bytes(client: AsyncWebClient) -> None:
    """Completing a file that was never uploaded fails."""
    url = await client.files_getUploadURLExternal(filename="x.txt", length=3)
    with pytest.raises(SlackApiError) as exc:
        await client.files_completeUploadExternal(files=[{"id": url["file_id"], "title": "x"}])
    assert exc.value.response["error"] == "file_not_found"


async def test_response_url_recording(stub: SlackStub) -> None:
    """JSON POSTed to a response_url is recorded and answered with 200 ok."""
    url = stub.new_response_url()
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"text": "done", "replace_original": True}) as resp:
            assert resp.status == 200
            assert await resp.text() == "ok"
        async with session.post(url.rsplit("/", 1)[0] + "/bogus", json={"text": "x"}) as resp:
            assert resp.status == 404
    assert len(stub.responses) == 1
    assert stub.responses[0].body == {"text": "done", "replace_original": True}
    assert url.endswith(stub.responses[0].url_token)


async def test_post_to_a_user_id_answers_as_slack_does(
    client: AsyncWebClient, stub: SlackStub
) -> None:
    """A bot user cannot be DMed, an unknown id is no channel; a deactivated user's DM stays."""
    for channel, error in [("UOTHERBOT", "cannot_dm_bot"), ("UNOPE", "channel_not_found")]:
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel=channel, text="psst")
        assert exc.value.response["error"] == error
    gone = await client.chat_postMessage(channel="UGONE", text="psst")
    assert gone["channel"] == stub.dm_channel_for("UGONE")
    assert [m["text"] for m in stub.messages("UGONE")] == ["psst"]


async def test_users_list_pages_through_every_member(
    client: AsyncWebClient, stub: SlackStub
) -> None:
    """users.list: Slack's member objects, `limit` per page, `next_cursor` empty at the end."""
    for n in range(5):
        stub.add_user(f"UX{n}", name=f"x{n}")
    everyone = [u.id for u in stub.users()]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.users_list(limit=3, cursor=cursor)
        pages += 1
        assert len(page["members"]) <= 3
        seen += [m["id"] for m in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == everyone  # bots and deactivated users too, each once
    assert pages == -(-len(everyone) // 3)
    alice = next(m for m in (await client.users_list())["members"] if m["id"] == "U1")
    assert alice == (await client.users_info(user="U1"))["user"]
    with pytest.raises(SlackApiError) as exc:
        await client.users_list(limit=3, cursor="bm90LWEtY3Vyc29y")
    assert exc.value.response["error"] == "invalid_cursor"
