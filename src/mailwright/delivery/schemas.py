"""Delivery data crossing the domain boundary: queued messages, outbox rows, attempts, status."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class MessageIn(BaseModel):
    """One email to queue (the arguments of `enqueue`, for `enqueue_many`)."""

    model_config = ConfigDict(frozen=True)

    contact_id: int
    template_name: str
    idempotency_key: str
    source_kind: str
    source_id: str | None = None
    category: str = "marketing"
    topic: str | None = None
    send_at: datetime | None = None
    context: dict[str, Any] | None = None


class QueuedMessage(BaseModel):
    """What `enqueue` hands back: the outbox row for an idempotency key (new or already there)."""

    model_config = ConfigDict(frozen=True)

    id: int
    public_id: str
    status: str
    created: bool


class AttemptOut(BaseModel):
    """One try at handing a message to the sender."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    attempted_at: datetime
    outcome: str
    smtp_code: int | None
    enhanced_status: str | None
    detail: str | None
    worker: str | None


class OutboxOut(BaseModel):
    """One outbox row as the API and CLI show it (without the rendered body)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    public_id: str
    idempotency_key: str
    contact_id: int
    to_address: str | None
    template_name: str
    template_version: int | None
    category: str
    source_kind: str
    source_id: str | None
    topic: str | None
    status: str
    skip_reason: str | None
    send_at: datetime
    attempts: int
    locked_by: str | None
    locked_at: datetime | None
    subject: str | None
    sent_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class OutboxDetail(OutboxOut):
    """One outbox row with its links and its attempt history."""

    links: list[str]
    context: dict[str, Any]
    attempts_log: list[AttemptOut] = []


class DeliveryStatus(BaseModel):
    """The outbox by status, and whether the sender is paused (and why)."""

    counts: dict[str, int]
    due: int
    paused: bool
    pause_reason: str | None
    paused_at: datetime | None
    review: int
    sender: str


class SendReport(BaseModel):
    """What one `send_due` pass did."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    postponed: int = 0
    failed: int = 0
    retried: int = 0
    bounced: int = 0
    blocked: int = 0
    paused: bool = False

    def add(self, other: "SendReport") -> None:
        """Add another pass's counts to this one."""
        for name in ("claimed", "sent", "skipped", "postponed", "failed", "retried", "bounced", "blocked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused = self.paused or other.paused
