"""Typed settings read from MAILWRIGHT_* environment variables and an optional .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Mailwright installation; the defaults run with no configuration at all."""

    model_config = SettingsConfigDict(env_prefix="MAILWRIGHT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/mailwright.db",
        description="SQLAlchemy URL; SQLite (embedded) or PostgreSQL (postgresql+psycopg://...).",
    )
    # NORMAL (with WAL): a committed event survives a crash or kill of the process, and the file is never
    # corrupted; a power cut may lose the last transactions. FULL also survives power cuts, at an fsync
    # per commit (about a fifth of the ingest rate here). Production runs on PostgreSQL anyway.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    admin_token: SecretStr | None = None
    shopify_webhook_secret: SecretStr | None = None
    shop_name: str = "Mailwright Demo Shop"
    shop_currency: str = "GBP"
    default_locale: str = "en"
    default_timezone: str = "UTC"
    max_event_bytes: int = 32 * 1024
    max_batch_bytes: int = 500 * 1024
    job_max_attempts: int = 5
    job_backoff_seconds: float = 10.0
    job_lock_timeout_seconds: float = 600.0
    worker_poll_seconds: float = 1.0
    # Where recipients reach tracking, unsubscribe and sign-up pages (links in every email start with it).
    public_url: str = "http://127.0.0.1:8000"
    # HMAC key of tracking and unsubscribe tokens. Unset: a random key is made once and kept in
    # `signing_key_file`, so links in mail already sent stay valid across restarts.
    signing_key: SecretStr | None = None
    signing_key_file: Path = Path("var/signing.key")
    # Jobs run right after the commit that queued them, in the same process (tests and one-off CLI runs).
    inline_jobs: bool = False

    def sqlite_path(self) -> Path | None:
        """The file behind a sqlite URL, or None for other databases and in-memory SQLite."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        rest = self.database_url[len(prefix) :]
        if not rest or rest == ":memory:":
            return None
        return Path(rest)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
