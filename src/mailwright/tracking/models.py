"""Consent evidence, bounce and complaint records, and sign-up attempts (the per-IP rate limit)."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime


class ConsentRecord(Base):
    """One consent change of one contact and its evidence: when, from which IP and browser, which form."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    # signup_pending | confirmed | subscribed | unsubscribed | topics | paused | resumed | complaint
    action: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(500), default=None)
    form: Mapped[str | None] = mapped_column(String(100), default=None)
    source: Mapped[str | None] = mapped_column(String(100), default=None)
    # The outbox message the action came from (an unsubscribe link), when there is one.
    message_public_id: Mapped[str | None] = mapped_column(String(32), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class BounceRecord(Base):
    """One bounce or complaint as it arrived; the suppression rules and the health report count these."""

    __tablename__ = "bounce_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Stable per report and recipient, so a report delivered twice (Maildir re-scan, SMTP retry) counts once.
    report_key: Mapped[str] = mapped_column(String(200), unique=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), default=None
    )
    message_public_id: Mapped[str | None] = mapped_column(String(32), default=None)
    # hard | soft | sender (5.7.x: the sender's problem) | complaint
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16), default=None)
    diagnostic: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_bounce_records_contact_kind_received", "contact_id", "kind", "received_at"),
        Index("ix_bounce_records_received_at", "received_at"),
    )


class SignupAttempt(Base):
    """A sign-up request from one IP; the rate limit counts these in a sliding window (shared by processes)."""

    __tablename__ = "signup_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ip: Mapped[str] = mapped_column(String(45))
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_signup_attempts_ip_attempted_at", "ip", "attempted_at"),)
