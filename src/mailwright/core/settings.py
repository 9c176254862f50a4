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

    # --- Tracking, consent and deliverability (the tracking domain) ---
    # Sign-ups get a confirmation email and become `subscribed` only when its link is followed.
    double_opt_in: bool = True
    # The preference centre's topics (an outbox message's `topic` is one of these).
    preference_topics: list[str] = ["newsletter", "offers", "product_news"]
    marketing_pause_days: int = 30
    # Signed, HttpOnly cookie set by the click redirect, naming the contact for later site events.
    identity_cookie_name: str = "mw_contact"
    identity_cookie_days: int = 365
    # Shop origins (https://www.shop.com) whose pages may call POST /t/alias with the cookie (CORS).
    identity_allowed_origins: list[str] = []
    # An open this soon after sending is a machine (a security scanner or a prefetching proxy).
    machine_open_seconds: float = 5.0
    signup_rate_limit: int = 5
    signup_rate_window_seconds: int = 3600
    # Suppression rules: hard bounces once, soft bounces N times within the window, complaints once.
    hard_bounce_limit: int = 1
    soft_bounce_limit: int = 3
    soft_bounce_window_days: int = 14
    suppress_on_complaint: bool = True
    # Deliverability warnings (Gmail's complaint thresholds are 0.1 % and 0.3 %).
    bounce_rate_warning: float = 0.02
    complaint_rate_warning: float = 0.001
    complaint_rate_critical: float = 0.003
    # `mailwright inbound`: the SMTP endpoint for bounces and complaints, and the IMAP poller.
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 2525
    imap_host: str | None = None
    imap_port: int = 993
    imap_ssl: bool = True
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    # --- end of tracking settings ---

    # --- delivery (outbox, senders, DKIM, guards) -------------------------------------------------
    from_address: str = "shop@example.com"
    from_name: str = "Mailwright Demo Shop"
    reply_to: str | None = None
    # VERP return paths (bounce+<public id>@...) and the List-Unsubscribe mailto go to this domain.
    bounce_domain: str = "example.com"
    # List-Id (RFC 2919) and the sender part of Feedback-ID.
    list_id: str = "newsletter.example.com"
    sender: Literal["maildir", "smtp", "fake"] = "maildir"
    maildir_path: Path = Path("var/maildir")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = 30.0
    # 0: no limit. Per-domain concurrency caps simultaneous sends (and connections) to one domain.
    messages_per_second: float = 0.0
    per_domain_concurrency: int = 4
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key_file: Path | None = None
    frequency_cap_hours: float = 16.0
    # Local hours in the contact's time zone; marketing mail due inside them waits until they end.
    quiet_hours_start: int = 21
    quiet_hours_end: int = 8
    max_send_attempts: int = 5
    retry_backoff_seconds: float = 60.0
    # How many due messages a worker claims at once: at most this many can be left `sending` by a crash.
    send_batch_size: int = 25
    # A message still `sending` after this long was held by a worker that died: marked for review.
    delivery_lock_timeout_seconds: float = 900.0
    # Appended to tracked links when set (utm_source, utm_medium; utm_campaign is the template name).
    utm_source: str | None = None
    utm_medium: str | None = "email"

    # --- campaigns ---------------------------------------------------------------------------------
    # Recipients queued per transaction when a campaign starts.
    campaign_batch_size: int = 2000
    # Local hour for best-hour campaigns when a contact has no prediction and the shop no clicks yet.
    campaign_default_send_hour: int = Field(default=10, ge=0, le=23)
    # A/B winner: posterior probability of being best needed, recipients needed per variant, draws.
    campaign_ab_threshold: float = 0.9
    campaign_ab_min_sample: int = 100
    campaign_ab_draws: int = 20_000
    # How often the worker looks for campaigns to start and A/B tests to decide.
    campaign_check_seconds: float = 60.0
    # --- end of campaigns settings ---

    # --- segments ---
    # A segment with fewer members than this is flagged as too small to be worth a message.
    segment_min_members: int = 50
    # A new segment sharing more than this share of its members with an existing one is flagged.
    segment_overlap_warning: float = 0.95

    # --- analytics ---
    # An order is credited to the last email the customer clicked within this many days before it.
    attribution_window_days: int = 5
    # Off by default: privacy proxies "open" every message, so an open says little about who bought.
    attribute_opens: bool = False
    attribution_open_window_days: int = 1

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
