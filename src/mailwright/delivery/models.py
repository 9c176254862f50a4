"""The outbox: one row per email, its attempts, and the sender's pause state."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime

# queued -> sending -> sent | failed | bounced; queued -> skipped (a guard said no, `skip_reason` says which);
# sending -> review (found in `sending` after a crash: never re-sent blindly, an operator decides).
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "skipped", "bounced", "review")


class OutboxMessage(Base):
    """One email to one contact, from a flow run's node or a campaign; sent at most once per idempotency key."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The public id: Message-ID's local part, the VERP address (bounce+<public_id>@...) and tracking tokens.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    # Unique: a flow node or a campaign queues the same key twice at most once ("flow:12:node:3:run:77").
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # Kept at queue time; the erasure of a contact blanks it.
    to_address: Mapped[str | None] = mapped_column(String(320), default=None)
    template_name: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int | None] = mapped_column(default=None)
    # marketing (every guard applies) | transactional (exempt from frequency cap and quiet hours only)
    category: Mapped[str] = mapped_column(String(20), default="marketing")
    # flow | campaign | system (double opt-in confirmations and the like); source_id names the flow run node
    # or the campaign, so analytics can attribute what the message earned.
    source_kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(100), default=None)
    # A preference-centre topic ("newsletter", "offers"); a contact who left that topic is skipped.
    topic: Mapped[str | None] = mapped_column(String(50), default=None)
    # The trigger event and anything else the template needs besides the profile (ids and small values).
    context: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    skip_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    send_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    # Who holds it while `sending`, and since when (a worker id), to find rows a crash left behind.
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # What went out: the subject, the URLs the message links to (the click redirect allows only these),
    # and the rendered bodies for "view in browser".
    subject: Mapped[str | None] = mapped_column(String(500), default=None)
    links: Mapped[list[str]] = mapped_column(JsonType, default=list)
    html: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_outbox_messages_status_send_at", "status", "send_at"),
        Index("ix_outbox_messages_contact_sent_at", "contact_id", "sent_at"),
    )


class DeliveryAttempt(Base):
    """One try at handing a message to the sender: the reply code and text, and what it meant."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # sent | retry (4xx, connection) | hard_bounce (5xx on the recipient) | sender_blocked (5.7.x) | error
    outcome: Mapped[str] = mapped_column(String(20))
    smtp_code: Mapped[int | None] = mapped_column(default=None)
    enhanced_status: Mapped[str | None] = mapped_column(String(16), default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    worker: Mapped[str | None] = mapped_column(String(100), default=None)


class SenderState(Base):
    """The sender's pause switch: a 5.7.x reply (authentication, reputation) stops all sending until cleared."""

    __tablename__ = "sender_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    paused: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
