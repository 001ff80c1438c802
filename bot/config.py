"""Typed settings: the only place that reads the environment (and `.env`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    """Everything trustloop can be configured with."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite+aiosqlite:///trustloop.db"
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"

    checkin_reminder_hours: float = Field(default=4.0, gt=0)
    checkin_expiry_hours: float = Field(default=72.0, gt=0)
    quiet_hours_start: int = Field(default=21, ge=0, le=23)
    quiet_hours_end: int = Field(default=8, ge=0, le=23)
    default_timezone: str = "UTC"
    tick_interval_seconds: int = Field(default=60, ge=5)
    log_level: str = "INFO"

    # How often each tier expects contact (the risk model's "silence" rule), in days.
    cadence_a_days: int = Field(default=7, ge=1, le=365)
    cadence_b_days: int = Field(default=14, ge=1, le=365)
    cadence_c_days: int = Field(default=30, ge=1, le=365)
    # Besides workspace admins, who may subscribe channels to the digest (user ids, commas).
    digest_managers: str = ""

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `SLACK_APP_TOKEN=` in a .env template means "not set", not "Socket Mode".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a SQLAlchemy URL such as sqlite+aiosqlite:///trustloop.db")
        return value

    @field_validator("digest_managers")
    @classmethod
    def _user_ids(cls, value: str) -> str:
        ids = [x.strip() for x in value.split(",") if x.strip()]
        bad = [x for x in ids if not x.isalnum() or x[:1] not in {"U", "W"}]
        if bad:
            raise ValueError(f"must be Slack user ids (U0123ABCD,...), not {bad[0]}")
        return ",".join(ids)

    @property
    def manager_ids(self) -> frozenset[str]:
        """Users allowed to manage digest subscriptions besides workspace admins."""
        return frozenset(x for x in self.digest_managers.split(",") if x)

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set: `run` uses Socket Mode."""
        return self.slack_app_token is not None

    def require_run(self) -> None:
        """Check what `trustloop run` needs; raise SettingsError naming the variable."""
        if self.slack_bot_token is None or not self.slack_bot_token.get_secret_value():
            raise SettingsError("SLACK_BOT_TOKEN is required for `trustloop run` (xoxb-...).")
        if not self.socket_mode and (
            self.slack_signing_secret is None or not self.slack_signing_secret.get_secret_value()
        ):
            raise SettingsError(
                "SLACK_SIGNING_SECRET is required in HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)."
            )
        if self.socket_mode and not self.slack_app_token.get_secret_value().startswith(  # type: ignore[union-attr]
            "xapp-"
        ):
            raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with xapp-.")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError naming a bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err.get("loc") else "setting"
        raise SettingsError(f"{name}: {err['msg']}") from None
