"""The Slack user cache in bulk (users.list pages) and the DM channel remembered per user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import queries
from storage.models import SlackUser

T1, T2 = "T1", "T2"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def user(n: int, team: str = T1, *, at: datetime = NOW, **kw: object) -> SlackUser:
    fields: dict[str, object] = {
        "team_id": team,
        "user_id": f"U{n:05d}",
        "name": f"user{n}",
        "tz": "Europe/Helsinki",
        "is_bot": False,
        "deleted": False,
        "is_admin": False,
        "fetched_at": at,
    }
    fields.update(kw)
    return SlackUser(**fields)  # type: ignore[arg-type]


async def test_many_users_are_stored_at_once_past_one_statement(conn):
    many = [user(n) for n in range(queries.USER_ROWS_PER_STATEMENT * 2 + 7)]
    await queries.upsert_users(conn, many)
    found = await queries.get_users(conn, team_id=T1, user_ids=[u.user_id for u in many])
    assert found == {u.user_id: u for u in many}


async def test_a_refresh_updates_users_and_keeps_their_dm_channel(conn):
    await queries.upsert_users(conn, [user(1), user(2)])
    await queries.remember_dm_channels(conn, team_id=T1, channels={"U00001": "D1"})
    later = NOW + timedelta(hours=25)
    await queries.upsert_users(
        conn, [user(1, at=later, name="renamed", deleted=True, is_admin=True), user(3, at=later)]
    )
    found = await queries.get_users(conn, team_id=T1, user_ids=["U00001", "U00002", "U00003"])
    assert found["U00001"] == user(1, at=later, name="renamed", deleted=True, is_admin=True)
    assert found["U00002"] == user(2)  # not in this page: left as it was
    assert set(found) == {"U00001", "U00002", "U00003"}
    assert await queries.get_dm_channel(conn, team_id=T1, user_id="U00001") == "D1"
    assert await queries.get_dm_channel(conn, team_id=T1, user_id="U00002") is None


async def test_dm_channels_are_workspace_scoped_and_can_change(conn):
    await queries.upsert_users(conn, [user(1), user(1, team=T2)])
    await queries.remember_dm_channels(conn, team_id=T1, channels={"U00001": "D1"})
    assert await queries.get_dm_channel(conn, team_id=T2, user_id="U00001") is None
    await queries.remember_dm_channels(conn, team_id=T1, channels={"U00001": "D2"})
    assert await queries.get_dm_channel(conn, team_id=T1, user_id="U00001") == "D2"
