"""Queries on the campaign tables."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from mailwright.campaigns.models import Campaign, CampaignRecipient
from mailwright.core.db import in_values, table_of


def by_id(session: Session, campaign_id: int, *, for_update: bool = False) -> Campaign | None:
    """A campaign by id (row-locked on PostgreSQL when asked)."""
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def by_name(session: Session, name: str) -> Campaign | None:
    """A campaign by its unique name."""
    return session.scalars(select(Campaign).where(Campaign.name == name)).first()


def list_campaigns(session: Session, *, status: str | None, limit: int, offset: int) -> list[Campaign]:
    """Campaigns newest first."""
    stmt = select(Campaign).order_by(Campaign.id.desc()).limit(limit).offset(offset)
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    return list(session.scalars(stmt))


def due_to_start(session: Session, now: datetime) -> list[int]:
    """Scheduled campaigns whose start has come, and sending ones with recipients not queued yet."""
    scheduled = select(Campaign.id).where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
    sending = select(Campaign.id).where(
        Campaign.status == "sending",
        select(CampaignRecipient.id)
        .where(CampaignRecipient.campaign_id == Campaign.id, CampaignRecipient.status == "pending")
        .exists(),
    )
    ids = set(session.scalars(scheduled)) | set(session.scalars(sending))
    return sorted(ids)


def due_to_decide(session: Session, now: datetime) -> list[int]:
    """Campaigns in their A/B test whose waiting period is over."""
    stmt = (
        select(Campaign.id)
        .where(Campaign.status == "testing", Campaign.decide_at <= now)
        .order_by(Campaign.id)
    )
    return list(session.scalars(stmt))


def claim_status(
    session: Session, campaign_id: int, *, from_status: str, to_status: str, now: datetime
) -> bool:
    """Move a campaign from one status to another only if it is still in the first (one winner at a time)."""
    result = session.execute(
        update(table_of(Campaign))
        .where(table_of(Campaign).c.id == campaign_id, table_of(Campaign).c.status == from_status)
        .values(status=to_status, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def insert_recipients(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert snapshot rows in one executemany per chunk."""
    table = table_of(CampaignRecipient)
    for start in range(0, len(rows), 5000):
        session.execute(insert(table), list(rows[start : start + 5000]))


def pending_batch(session: Session, campaign_id: int, limit: int) -> list[CampaignRecipient]:
    """The next recipients of a campaign that are ready to queue (send_at known), in id order."""
    stmt = (
        select(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status == "pending",
            CampaignRecipient.send_at.is_not(None),
        )
        .order_by(CampaignRecipient.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recipients_of(
    session: Session, campaign_id: int, *, phase: str | None = None, status: str | None = None
) -> list[CampaignRecipient]:
    """Every recipient of a campaign (optionally of one phase and status), in id order."""
    stmt = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
    if phase is not None:
        stmt = stmt.where(CampaignRecipient.phase == phase)
    if status is not None:
        stmt = stmt.where(CampaignRecipient.status == status)
    return list(session.scalars(stmt.order_by(CampaignRecipient.id)))


def set_send_times(session: Session, campaign_id: int, values: Sequence[dict[str, Any]]) -> None:
    """Give recipients their variant and send time (rows: contact_id, variant, send_at)."""
    table = table_of(CampaignRecipient)
    stmt = (
        update(table)
        .where(table.c.campaign_id == campaign_id, table.c.contact_id == bindparam("b_contact_id"))
        .values(variant=bindparam("b_variant"), send_at=bindparam("b_send_at"))
    )
    rows = [
        {"b_contact_id": v["contact_id"], "b_variant": v["variant"], "b_send_at": v["send_at"]}
        for v in values
    ]
    for start in range(0, len(rows), 5000):
        session.connection().execute(stmt, rows[start : start + 5000])


def count_by_status(session: Session, campaign_id: int) -> dict[tuple[str | None, str], int]:
    """Recipients per (variant, status)."""
    rows = session.execute(
        select(CampaignRecipient.variant, CampaignRecipient.status, func.count())
        .where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.variant, CampaignRecipient.status)
    )
    return {(variant, status): int(n) for variant, status, n in rows}


def cancel_pending(session: Session, campaign_id: int) -> int:
    """Mark every recipient not queued yet as cancelled; returns how many."""
    table = table_of(CampaignRecipient)
    result = session.execute(
        update(table)
        .where(table.c.campaign_id == campaign_id, table.c.status == "pending")
        .values(status="cancelled")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def drop(session: Session, recipient_id: int) -> None:
    """A recipient whose contact was erased or merged away before its message was queued."""
    table = table_of(CampaignRecipient)
    session.execute(update(table).where(table.c.id == recipient_id).values(status="dropped"))


def mark_queued(session: Session, queued: Sequence[tuple[int, str]], now: datetime) -> None:
    """Record the outbox message of each recipient (rows: recipient id, outbox public id)."""
    if not queued:
        return
    table = table_of(CampaignRecipient)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(status="queued", outbox_public_id=bindparam("b_public_id"), queued_at=now)
    )
    session.connection().execute(stmt, [{"b_id": rid, "b_public_id": pid} for rid, pid in queued])


def contact_ids_in(session: Session, campaign_id: int, contact_ids: Sequence[int]) -> set[int]:
    """Which of these contacts are already in the campaign's snapshot."""
    if not contact_ids:
        return set()
    stmt = select(CampaignRecipient.contact_id).where(
        CampaignRecipient.campaign_id == campaign_id,
        in_values(session, CampaignRecipient.contact_id, contact_ids),
    )
    return set(session.scalars(stmt))
