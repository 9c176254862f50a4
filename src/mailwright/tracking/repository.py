"""Queries of the tracking domain: outbox rows by public id, consent evidence, bounces, sign-up attempts.

The outbox is delivery's table; tracking reads it (and marks a row bounced) with these small queries,
which is allowed by the layers (tracking sits above delivery) and keeps the hot pixel path to one SELECT.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailwright.delivery.models import OutboxMessage
from mailwright.tracking.models import BounceRecord, ConsentRecord, SignupAttempt


@dataclass(frozen=True)
class SentMessage:
    """What tracking needs of one outbox message."""

    id: int
    public_id: str
    contact_id: int
    to_address: str | None
    template_name: str
    category: str
    source_kind: str
    source_id: str | None
    topic: str | None
    status: str
    links: tuple[str, ...]
    html: str | None
    subject: str | None
    sent_at: datetime | None

    def event_properties(self) -> dict[str, Any]:
        """The properties every event about this message carries, so analytics can attribute it."""
        return {
            "message_id": self.public_id,
            "template": self.template_name,
            "source_kind": self.source_kind,
            "source_id": self.source_id,
        }


def message_by_public_id(session: Session, public_id: str) -> SentMessage | None:
    """The outbox message with this public id, if any."""
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.public_id == public_id)).first()
    if row is None:
        return None
    return SentMessage(
        id=row.id,
        public_id=row.public_id,
        contact_id=row.contact_id,
        to_address=row.to_address,
        template_name=row.template_name,
        category=row.category,
        source_kind=row.source_kind,
        source_id=row.source_id,
        topic=row.topic,
        status=row.status,
        links=tuple(row.links or ()),
        html=row.html,
        subject=row.subject,
        sent_at=row.sent_at,
    )


def latest_message_to(session: Session, address: str) -> SentMessage | None:
    """The most recent message sent to an address (a bounce that names only the recipient)."""
    public_id = session.scalar(
        select(OutboxMessage.public_id)
        .where(OutboxMessage.to_address == address, OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(1)
    )
    return None if public_id is None else message_by_public_id(session, public_id)


def mark_bounced(session: Session, message_id: int, detail: str, now: datetime) -> None:
    """Set an outbox row to `bounced` (a hard bounce arrived for it)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status="bounced", last_error=detail, updated_at=now)
    )


def add_consent_record(session: Session, record: ConsentRecord) -> None:
    """Store one piece of consent evidence."""
    session.add(record)


def consent_records_of(session: Session, contact_id: int) -> list[ConsentRecord]:
    """A contact's consent evidence, oldest first."""
    return list(
        session.scalars(
            select(ConsentRecord).where(ConsentRecord.contact_id == contact_id).order_by(ConsentRecord.id)
        )
    )


def latest_signup(session: Session, contact_id: int) -> ConsentRecord | None:
    """The contact's last sign-up request (the form and source a confirmation completes)."""
    return session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.contact_id == contact_id, ConsentRecord.action == "signup_pending")
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    ).first()


def bounce_seen(session: Session, report_key: str) -> bool:
    """Whether this report (for this recipient) was already processed."""
    return session.scalar(select(BounceRecord.id).where(BounceRecord.report_key == report_key)) is not None


def add_bounce(session: Session, record: BounceRecord) -> None:
    """Store one bounce or complaint."""
    session.add(record)
    session.flush()


def count_bounces(session: Session, contact_id: int, kind: str, since: datetime) -> int:
    """How many bounces of a kind a contact had since a time."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(BounceRecord)
            .where(
                BounceRecord.contact_id == contact_id,
                BounceRecord.kind == kind,
                BounceRecord.received_at >= since,
            )
        )
        or 0
    )


def note_signup_attempt(session: Session, ip: str, now: datetime, window_start: datetime) -> int:
    """Record a sign-up attempt from an IP; returns how many that IP made in the window (this one included)."""
    # Old attempts of this IP are dropped as we go, so the table stays as small as the window.
    session.execute(
        delete(SignupAttempt).where(SignupAttempt.ip == ip, SignupAttempt.attempted_at < window_start)
    )
    session.add(SignupAttempt(ip=ip, attempted_at=now))
    session.flush()
    return int(
        session.scalar(
            select(func.count())
            .select_from(SignupAttempt)
            .where(SignupAttempt.ip == ip, SignupAttempt.attempted_at >= window_start)
        )
        or 0
    )


def purge_signup_attempts(session: Session, before: datetime) -> int:
    """Delete sign-up attempts older than a time; returns how many."""
    result = session.execute(delete(SignupAttempt).where(SignupAttempt.attempted_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
