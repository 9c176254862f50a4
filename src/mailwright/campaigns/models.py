"""Campaigns and the snapshot of their recipients."""

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailwright.core.db import Base, BigId, JsonType, UtcDateTime

# draft -> scheduled -> sending -> sent; with an A/B test: scheduled -> testing (the test share is queued,
# the rest waits) -> sending (the winner goes to the rest) -> sent; draft | scheduled | testing -> cancelled.
CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "testing", "sent", "cancelled")
# pending (snapshotted, not queued yet) -> queued (an outbox row exists) | cancelled (the campaign was)
# | dropped (the contact was erased or merged away between the snapshot and the queueing)
RECIPIENT_STATUSES = ("pending", "queued", "cancelled", "dropped")


class Campaign(Base):
    """A one-off send to one or more segments, with its schedule, throttle and optional A/B test."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The content when there is no A/B test (and the control's when a variant names none).
    template_name: Mapped[str] = mapped_column(String(100))
    # A preference-centre topic; contacts who left it are skipped by delivery.
    topic: Mapped[str | None] = mapped_column(String(50), default=None)
    segment_ids: Mapped[list[int]] = mapped_column(JsonType, default=list)
    exclusion_segment_ids: Mapped[list[int]] = mapped_column(JsonType, default=list)
    # fixed | local_time | best_hour
    schedule_kind: Mapped[str] = mapped_column(String(16), default="fixed")
    # When the campaign starts (snapshot of recipients); for fixed schedules also when it is sent.
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # "HH:MM" in each contact's zone, for local_time schedules.
    local_time: Mapped[str | None] = mapped_column(String(5), default=None)
    throttle_per_hour: Mapped[int | None] = mapped_column(default=None)
    # A/B test: [{"name": "A", "template_name": ..., "subject_variant": ...}, ...]; empty: no test.
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    test_share: Mapped[float | None] = mapped_column(Float, default=None)
    test_wait_hours: Mapped[float | None] = mapped_column(Float, default=None)
    # The share of the snapshot kept as a holdout (sent nothing) to measure what the campaign earned.
    holdout_percent: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # opens | clicks | orders | revenue_per_recipient
    winner_metric: Mapped[str | None] = mapped_column(String(32), default=None)
    winner: Mapped[str | None] = mapped_column(String(20), default=None)
    # The decision with its numbers (see abtest.py), once made.
    decision: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    decide_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # What the snapshot found: recipients, contacts left out and why, best-hour sources.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_campaigns_status_scheduled_at", "status", "scheduled_at"),)


class CampaignRecipient(Base):
    """One contact in a campaign's snapshot: its variant, its send time and its outbox message."""

    __tablename__ = "campaign_recipients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The test variant ("A", "B", ...), or None for the rest until the winner is known (then the winner's).
    variant: Mapped[str | None] = mapped_column(String(20), default=None)
    # test | rest | all (no A/B test) | holdout (sent nothing: the control group)
    phase: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    outbox_public_id: Mapped[str | None] = mapped_column(String(32), default=None)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_campaign_contact"),
        Index("ix_campaign_recipients_campaign_status", "campaign_id", "status"),
    )
