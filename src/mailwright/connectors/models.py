"""Connector tables: connections to other systems, CRM links, outbound webhook endpoints and their log."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime

CONNECTION_KINDS = ("woocommerce", "magento", "hubspot", "zoho")


class Connection(Base):
    """One configured link to a store or CRM: its kind, settings (secrets included) and sync position."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A short unique name the CLI and the WooCommerce receiver URL use ("shop", "crm").
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    # URL, keys, tokens: stored in the database as given (the README says so); never shown back in full.
    config: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # CRM field mapping: {"pull": {crm property: mailwright field}, "push": {mailwright field: crm property}}.
    field_mapping: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Where the next incremental pull starts, per resource: {"orders": "2026-11-01 10:00:00", ...}.
    cursor: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    last_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Set once the user has seen the field mapping (the first sync refuses to run before).
    mapping_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CrmLink(Base):
    """A contact as a CRM knows it: its record id there and the field values last synced either way."""

    __tablename__ = "crm_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(100))
    # The CRM record's own modification time when last read.
    remote_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # {crm property: value} last written to the CRM, so an unchanged value is not pushed again.
    pushed: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    pushed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        UniqueConstraint("connection_id", "remote_id", name="uq_crm_links_connection_remote"),
        Index("ix_crm_links_connection_contact", "connection_id", "contact_id", unique=True),
    )


class WebhookEndpoint(Base):
    """A URL that receives signed POSTs of the Mailwright events it subscribed to."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    # The HMAC key of the Mailwright-Signature header, shown once at creation and kept here.
    secret: Mapped[str] = mapped_column(String(200))
    event_names: Mapped[list[str]] = mapped_column(JsonType, default=list)
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # The first failed attempt of the current streak; cleared by a success.
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Creation, or the last time it was enabled again: events from before are not sent (they happened
    # while nobody listened, and a flood of old events after a repair would surprise the receiver).
    listening_since: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookDelivery(Base):
    """One event to send to one endpoint: its payload, state and the next retry."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Sent as Mailwright-Delivery: receivers dedupe on it (a retry carries the same id).
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigId)
    event_name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # pending -> delivered | failed (gave up after the retry window) | cancelled (endpoint disabled)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )


class WebhookAttempt(Base):
    """One POST of a delivery: when, the HTTP status or the error, and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column()
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
