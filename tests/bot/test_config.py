"""Settings: explicit values, environment parsing, errors naming the variable, run checks."""

from __future__ import annotations

import pytest

from bot.config import Settings, SettingsError, load_settings

VARS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "PORT",
    "HOST",
    "CHECKIN_REMINDER_HOURS",
    "CHECKIN_EXPIRY_HOURS",
    "QUIET_HOURS_START",
    "QUIET_HOURS_END",
    "DEFAULT_TIMEZONE",
    "TICK_INTERVAL_SECONDS",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """Never read real tokens: empty environment and no .env in the working directory."""
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def settings(**kw) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


def load(**kw) -> Settings:
    return load_settings(_env_file=None, **kw)


def test_defaults():
    s = settings()
    assert s.slack_bot_token is None
    assert s.slack_signing_secret is None
    assert s.slack_app_token is None
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == "sqlite+aiosqlite:///trustloop.db"
    assert s.port == 3000
    assert s.socket_mode is False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api/"),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api/"),
        ("https://slack.example", "https://slack.example/"),
    ],
)
def test_slack_api_url_gets_trailing_slash(url, expected):
    assert settings(slack_api_url=url).slack_api_url == expected


def test_slack_api_url_from_env_gets_trailing_slash(monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", "http://localhost:9/api")
    assert load().slack_api_url == "http://localhost:9/api/"


def test_values_from_environment(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///other.db")
    s = load()
    assert s.slack_bot_token is not None
    assert s.slack_bot_token.get_secret_value() == "xoxb-from-env"
    assert s.port == 8080
    assert s.database_url == "sqlite+aiosqlite:///other.db"


def test_env_file_is_read(tmp_path):
    env = tmp_path / "custom.env"
    env.write_text("PORT=4321\nSLACK_SIGNING_SECRET=from-file\n", encoding="utf-8")
    s = load_settings(_env_file=str(env))
    assert s.port == 4321
    assert s.slack_signing_secret is not None
    assert s.slack_signing_secret.get_secret_value() == "from-file"


def test_secrets_are_not_shown_in_repr():
    s = settings(slack_bot_token="xoxb-123-abc", slack_signing_secret="s3cret")
    assert "xoxb-123-abc" not in repr(s)
    assert "s3cret" not in repr(s)
    assert "xoxb-123-abc" not in str(s)


def test_bad_port_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "abc")
    with pytest.raises(SettingsError) as err:
        load()
    assert str(err.value).startswith("PORT")


@pytest.mark.parametrize("port", ["0", "70000", "-1"])
def test_port_out_of_range(monkeypatch, port):
    monkeypatch.setenv("PORT", port)
    with pytest.raises(SettingsError, match=r"^PORT"):
        load()


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("SLACK_API_URL", "ftp://slack.example"),
        ("SLACK_API_URL", "slack.com/api"),
        ("DATABASE_URL", "trustloop.db"),
        ("QUIET_HOURS_START", "24"),
        ("CHECKIN_REMINDER_HOURS", "0"),
        ("TICK_INTERVAL_SECONDS", "1"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load()
    assert str(err.value).startswith(var)


def test_bad_override_names_the_variable():
    with pytest.raises(SettingsError, match=r"^PORT"):
        load(port="not-a-port")


def test_require_run_needs_bot_token():
    with pytest.raises(SettingsError, match=r"^SLACK_BOT_TOKEN"):
        settings(slack_signing_secret="s").require_run()


def test_require_run_rejects_empty_bot_token():
    with pytest.raises(SettingsError, match=r"^SLACK_BOT_TOKEN"):
        settings(slack_bot_token="", slack_signing_secret="s").require_run()


def test_require_run_http_mode_needs_signing_secret():
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET"):
        settings(slack_bot_token="xoxb-1").require_run()
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET"):
        settings(slack_bot_token="xoxb-1", slack_signing_secret="").require_run()


def test_require_run_http_mode_ok():
    s = settings(slack_bot_token="xoxb-1", slack_signing_secret="s")
    s.require_run()
    assert s.socket_mode is False


def test_require_run_socket_mode_ok_without_signing_secret():
    s = settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1-abc")
    s.require_run()
    assert s.socket_mode is True


@pytest.mark.parametrize("token", ["xoxb-2", "app-token", "XAPP-1"])
def test_require_run_rejects_bad_app_token(token):
    s = settings(slack_bot_token="xoxb-1", slack_signing_secret="s", slack_app_token=token)
    with pytest.raises(SettingsError, match=r"^SLACK_APP_TOKEN"):
        s.require_run()


def test_require_run_from_environment(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET"):
        load().require_run()
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-env")
    load().require_run()


def test_settings_are_frozen():
    s = settings()
    with pytest.raises(Exception):  # noqa: B017
        s.port = 1
