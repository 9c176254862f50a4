"""GDPR: export everything held about a contact, and erase it.

Erasure keeps an anonymous tombstone of the profile instead of deleting it, so the shop's figures
(revenue, sends, opens, clicks) stay right: personal columns are blanked, identities, scores and
consent evidence deleted, event properties stripped of personal fields (addresses, names, phone
numbers, IPs, user agents, free-text diagnostics, query strings of URLs), outbox rows lose their
address, subject, body and context, and the address stays on the suppression list only as its hash,
so it is never mailed again and cannot be signed up again.
"""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import inspect, select, text, update
from sqlalchemy.orm import Session

from mailwright.contacts import service as contacts
from mailwright.core.errors import NotFound
from mailwright.core.uow import UnitOfWork
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.events.models import Event
from mailwright.orders import service as orders
from mailwright.tracking import repository
from mailwright.tracking.models import BounceRecord, ConsentRecord

# Property names that hold personal data wherever they appear (compared lower-cased, without _ and -).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "emailaddress",
        "to",
        "toaddress",
        "from",
        "recipient",
        "name",
        "firstname",
        "lastname",
        "fullname",
        "phone",
        "phonenumber",
        "address",
        "address1",
        "address2",
        "street",
        "city",
        "zip",
        "postalcode",
        "postcode",
        "birthday",
        "ip",
        "useragent",
        "diagnostic",
        "traits",
        "context",
        "billingaddress",
        "shippingaddress",
        "customer",
        "userid",
        "anonymousid",
    }
)
_EXPORT_PAGE = 1000


def _normal(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def anonymize_properties(value: Any) -> Any:
    """A copy of event properties without personal fields; URLs keep their path, not their query."""
    if isinstance(value, dict):
        return {k: anonymize_properties(v) for k, v in value.items() if _normal(str(k)) not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [anonymize_properties(v) for v in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        return urlunsplit(parts._replace(query="", fragment=""))
    return value


def contact_for_email(session: Session, email: str) -> int:
    """The contact id of an address, or NotFound naming the email."""
    found = contacts.find_by_email(session, email)
    if found is None:
        raise NotFound(f"no contact with email {email}", field="email")
    return found.id


def export(uow: UnitOfWork, contact_id: int) -> dict[str, Any]:
    """Everything held about a contact, as plain JSON-ready data."""
    session = uow.session
    profile = contacts.get_profile(session, contact_id)
    state = contacts.consent_state(session, contact_id)
    all_events: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = events.list_events(session, contact_id=contact_id, limit=_EXPORT_PAGE, offset=offset)
        all_events.extend(e.model_dump(mode="json") for e in page)
        if len(page) < _EXPORT_PAGE:
            break
        offset += _EXPORT_PAGE
    predictions = contacts.get_predictions(session, contact_id)
    return {
        "profile": {
            **profile.model_dump(mode="json"),
            "marketing_paused_until": state.marketing_paused_until.isoformat()
            if state.marketing_paused_until
            else None,
            "unsubscribed_topics": list(state.unsubscribed_topics),
            "suppressed": bool(profile.email) and contacts.is_suppressed(session, profile.email or ""),
        },
        "identities": [
            {**i, "created_at": i["created_at"].isoformat()}
            for i in contacts.identities_of(session, contact_id)
        ],
        "consent_records": [_consent_out(r) for r in repository.consent_records_of(session, contact_id)],
        "events": all_events,
        "orders": [
            o.model_dump(mode="json")
            for o in orders.list_orders(session, contact_id=contact_id, limit=100_000)
        ],
        "messages": _messages(session, contact_id),
        "bounces": _bounces(session, contact_id),
        "predictions": predictions.model_dump(mode="json") if predictions else None,
        "segment_memberships": _segment_memberships(session, contact_id),
    }


def _consent_out(record: ConsentRecord) -> dict[str, Any]:
    return {
        "action": record.action,
        "occurred_at": record.occurred_at.isoformat(),
        "ip": record.ip,
        "user_agent": record.user_agent,
        "form": record.form,
        "source": record.source,
        "message_id": record.message_public_id,
        "details": record.details,
    }


def _messages(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.contact_id == contact_id).order_by(OutboxMessage.id)
    )
    return [
        {
            "message_id": r.public_id,
            "to_address": r.to_address,
            "template": r.template_name,
            "category": r.category,
            "source_kind": r.source_kind,
            "source_id": r.source_id,
            "topic": r.topic,
            "status": r.status,
            "skip_reason": r.skip_reason,
            "subject": r.subject,
            "send_at": r.send_at.isoformat() if r.send_at else None,
            "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            "links": list(r.links or []),
        }
        for r in rows
    ]


def _bounces(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(BounceRecord).where(BounceRecord.contact_id == contact_id).order_by(BounceRecord.id)
    )
    return [
        {
            "kind": r.kind,
            "status": r.status,
            "diagnostic": r.diagnostic,
            "message_id": r.message_public_id,
            "received_at": r.received_at.isoformat(),
        }
        for r in rows
    ]


def _segment_memberships(session: Session, contact_id: int) -> list[dict[str, Any]] | None:
    """Segment memberships, when the segments domain's table exists in this installation."""
    # Inspect through the session's own connection: a second one would wait on SQLite's write lock.
    if not inspect(session.connection()).has_table("segment_memberships"):
        return None
    rows = session.execute(
        text("SELECT * FROM segment_memberships WHERE contact_id = :contact_id"), {"contact_id": contact_id}
    )
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row._mapping.items()}
        for row in rows
    ]


# Queued by every erasure; the connectors domain registers it (its webhook payloads name the contact).
ERASED_JOB = "contacts.erased"


def erase(uow: UnitOfWork, contact_id: int, *, source: str) -> dict[str, int]:
    """Erase a contact's personal data (see the module note); returns what was changed, by kind."""
    session = uow.session
    now = uow.now()
    state = contacts.consent_state(session, contact_id)
    if state.email:
        contacts.suppress(session, state.email, reason="erased", source=source, now=now)
    ids = [contact_id, *contacts.anonymize_profile(session, contact_id, now=now)]
    changed_events = 0
    for event in session.scalars(select(Event).where(Event.contact_id.in_(ids))):
        cleaned = anonymize_properties(event.properties or {})
        if cleaned != event.properties:
            event.properties = cleaned
            changed_events += 1
    messages = session.execute(  # type: ignore[attr-defined]
        update(OutboxMessage)
        .where(OutboxMessage.contact_id.in_(ids))
        .values(to_address=None, html=None, subject=None, context={}, last_error=None, updated_at=now)
    ).rowcount
    session.execute(update(BounceRecord).where(BounceRecord.contact_id.in_(ids)).values(diagnostic=None))
    consent = session.execute(
        ConsentRecord.__table__.delete().where(ConsentRecord.contact_id.in_(ids))  # type: ignore[attr-defined]
    ).rowcount
    session.flush()
    # Higher layers that copied personal data (outbound webhook payloads) forget it in the same transaction.
    uow.enqueue(ERASED_JOB, contact_ids=ids)
    return {
        "profiles": len(ids),
        "events_anonymized": changed_events,
        "messages_blanked": int(messages or 0),
        "consent_records_deleted": int(consent or 0),
    }
