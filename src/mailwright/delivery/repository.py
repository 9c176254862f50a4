"""Outbox queries: idempotent insert, claiming due rows, guard facts, the stale-lock sweep."""

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from mailwright.contacts import repository as contacts_repository
from mailwright.contacts.identity import normalize_email
from mailwright.contacts.models import Contact
from mailwright.core.db import in_values, table_of
from mailwright.core.errors import DomainError
from mailwright.core.ids import sha256_hex
from mailwright.delivery.guards import MARKETING, ContactFacts
from mailwright.delivery.models import DeliveryAttempt, OutboxMessage, SenderState

OUTBOX = table_of(OutboxMessage)
# Lower-case ASCII addresses of this shape are what normalize_email returns them as (it is the
# identity on them); the validator costs more per address than the rest of the guard checks together.
_PLAIN_ADDRESS = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+"
)
SENDER_NAME = "default"
# Rows per multi-row INSERT: 17 columns each stays under SQLite's and PostgreSQL's parameter limits.
_INSERT_CHUNK = 500


def insert_if_absent(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, in chunks: the unique idempotency key decides.

    Two transactions racing with one key both succeed, one of them inserting, and neither fails.
    """
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    # One statement run as an executemany: compiled once and cached, where a multi-row VALUES list was
    # compiled again for every batch (two thirds of a flow batch's time went there).
    stmt = builder(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(stmt, list(rows[start : start + _INSERT_CHUNK]))


def public_ids_by_key(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """The public ids of the keys already queued."""
    if not keys:
        return {}
    rows = session.execute(
        select(OutboxMessage.idempotency_key, OutboxMessage.public_id).where(
            in_values(session, OutboxMessage.idempotency_key, list(keys))
        )
    )
    return {key: public_id for key, public_id in rows}


def queued_by_key(session: Session, keys: Sequence[str]) -> dict[str, tuple[int, str, str]]:
    """(id, public id, status) of each key's row."""
    if not keys:
        return {}
    rows = session.execute(
        select(
            OutboxMessage.idempotency_key, OutboxMessage.id, OutboxMessage.public_id, OutboxMessage.status
        ).where(in_values(session, OutboxMessage.idempotency_key, list(keys)))
    )
    return {key: (row_id, public_id, status) for key, row_id, public_id, status in rows}


def contact_emails(session: Session, contact_ids: Sequence[int]) -> dict[int, str | None]:
    """The current address of each live (not merged-away) contact among these ids."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Contact.id, Contact.email).where(
            in_values(session, Contact.id, ids), Contact.merged_into_id.is_(None)
        )
    )
    return {contact_id: email for contact_id, email in rows}


def by_public_id(session: Session, public_id: str) -> OutboxMessage | None:
    """The outbox row of a public id."""
    return session.scalars(select(OutboxMessage).where(OutboxMessage.public_id == public_id)).first()


def claim_due(session: Session, now: datetime, limit: int, worker_id: str) -> list[int]:
    """Mark up to `limit` due queued rows `sending` by this worker; SKIP LOCKED lets workers share the outbox."""
    stmt = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "queued", OutboxMessage.send_at <= now)
        .order_by(OutboxMessage.send_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(in_values(session, OutboxMessage.id, ids))
            .values(status="sending", locked_by=worker_id, locked_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def held(session: Session, ids: Sequence[int], worker_id: str, *, bodies: bool = True) -> list[OutboxMessage]:
    """The rows this worker holds in `sending`, in claim order (`bodies=False`: HTML and links not read)."""
    if not ids:
        return []
    stmt = select(OutboxMessage).where(
        in_values(session, OutboxMessage.id, list(ids)),
        OutboxMessage.status == "sending",
        OutboxMessage.locked_by == worker_id,
    )
    if not bodies:  # recording the answers: 20 KB of HTML per row, just written, is not needed again
        stmt = stmt.options(defer(OutboxMessage.html), defer(OutboxMessage.links))
    rows = session.scalars(stmt)
    return sorted(rows, key=lambda r: (r.send_at, r.id))


def contact_facts(
    session: Session, contact_ids: Sequence[int], now: datetime, cap_since: datetime
) -> dict[int, ContactFacts]:
    """Guard facts per contact: consent, pause, topics, zone, merge, suppression and the last marketing send."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    # Read-only, one query for the batch: contacts.service offers profiles one by one, which would make
    # the guards the slowest step of sending.
    rows = session.execute(
        select(
            Contact.id,
            Contact.email,
            Contact.consent_status,
            Contact.marketing_paused_until,
            Contact.unsubscribed_topics,
            Contact.timezone,
            Contact.merged_into_id,
        ).where(in_values(session, Contact.id, ids))
    ).all()
    last_sent = dict(
        session.execute(
            select(OutboxMessage.contact_id, func.max(OutboxMessage.sent_at))
            .where(
                in_values(session, OutboxMessage.contact_id, ids),
                OutboxMessage.category == MARKETING,
                OutboxMessage.sent_at > cap_since,
            )
            .group_by(OutboxMessage.contact_id)
        ).all()
    )
    suppressed = suppressed_among(session, [r.email for r in rows if r.email])
    return {
        row.id: ContactFacts(
            contact_id=row.id,
            email=row.email,
            consent_status=row.consent_status,
            marketing_paused_until=row.marketing_paused_until,
            unsubscribed_topics=tuple(row.unsubscribed_topics or ()),
            timezone=row.timezone,
            merged_into_id=row.merged_into_id,
            suppressed=bool(row.email) and row.email in suppressed,
            last_marketing_sent_at=last_sent.get(row.id),
        )
        for row in rows
    }


def suppressed_among(session: Session, emails: Sequence[str]) -> set[str]:
    """Which of these addresses are on the suppression list, in one query (matched by hash, as erased ones are)."""
    hashes: dict[str, str] = {}
    for email in emails:
        if _PLAIN_ADDRESS.fullmatch(email):  # already its own normal form: skip the validator's cost
            hashes[sha256_hex(email)] = email
            continue
        try:
            hashes[sha256_hex(normalize_email(email))] = email
        except DomainError:  # stored addresses were validated on the way in; nothing to match otherwise
            continue
    return {hashes[h] for h in contacts_repository.suppressed_hashes(session, list(hashes))}


def release(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Give claimed rows back to the queue untouched (the sender was paused before they went)."""
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(in_values(session, OutboxMessage.id, list(ids)), OutboxMessage.status == "sending")
            .values(status="queued", locked_by=None, locked_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def mark_stale_for_review(session: Session, older_than: datetime, now: datetime) -> list[int]:
    """Rows left `sending` by a worker that died: `review`, never re-sent blindly."""
    ids = list(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status == "sending", OutboxMessage.locked_at < older_than
            )
        )
    )
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(in_values(session, OutboxMessage.id, ids), OutboxMessage.status == "sending")
            .values(
                status="review",
                last_error="left in sending by a worker that stopped; it may or may not have been delivered",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


def status_counts(session: Session) -> dict[str, int]:
    """How many outbox rows are in each status."""
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(n) for status, n in rows}


def due_count(session: Session, now: datetime) -> int:
    """Queued rows whose time has come."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "queued", OutboxMessage.send_at <= now)
        )
        or 0
    )


def sender_state(session: Session, *, for_update: bool = False) -> SenderState | None:
    """The sender's pause switch row."""
    stmt = select(SenderState).where(SenderState.name == SENDER_NAME)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def list_messages(
    session: Session, *, status: str | None, contact_id: int | None, limit: int, offset: int
) -> list[OutboxMessage]:
    """Outbox rows newest first, filtered by status and contact."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if contact_id is not None:
        stmt = stmt.where(OutboxMessage.contact_id == contact_id)
    return list(session.scalars(stmt))


def attempts_of(session: Session, message_id: int) -> list[DeliveryAttempt]:
    """A message's attempts, oldest first."""
    return list(
        session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.id)
        )
    )


def statuses(session: Session, public_ids: Sequence[str]) -> dict[str, str]:
    """public id -> status of the rows among these ids."""
    found: dict[str, str] = {}
    for start in range(0, len(public_ids), 5000):
        stmt = select(OutboxMessage.public_id, OutboxMessage.status).where(
            in_values(session, OutboxMessage.public_id, list(public_ids[start : start + 5000]))
        )
        found.update({public_id: status for public_id, status in session.execute(stmt)})
    return found


def skip_queued(session: Session, public_ids: Sequence[str], *, reason: str, now: datetime) -> int:
    """queued -> skipped with the reason for these rows (claimed or finished rows are left alone)."""
    withdrawn = 0
    for start in range(0, len(public_ids), 5000):
        result = session.execute(
            update(OutboxMessage)
            .where(
                in_values(session, OutboxMessage.public_id, list(public_ids[start : start + 5000])),
                OutboxMessage.status == "queued",
            )
            .values(status="skipped", skip_reason=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        withdrawn += int(getattr(result, "rowcount", 0) or 0)
    return withdrawn
