"""The one table of everything that happens to a contact."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime


class Event(Base):
    """An event: its name, properties, when it happened and arrived, where from, and its dedupe id."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))  # track | identify | page | screen | alias
    name: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_events_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_events_name_occurred", "name", "occurred_at"),
    )


class WebhookReceipt(Base):
    """A store webhook delivery already handled, so a redelivery is acknowledged and ignored."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("uq_webhook_receipts_source_delivery", "source", "delivery_id", unique=True),)
