"""Ingestion: every way in (Segment API, Shopify, CSV) ends here, one transaction per batch."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.contacts import service as contacts
from mailwright.contacts.bulk import BatchProfiles
from mailwright.contacts.schemas import OrderRollup
from mailwright.core.db import in_values, lock_keys, table_of
from mailwright.core.uow import UnitOfWork
from mailwright.events import repository
from mailwright.events import vocabulary as v
from mailwright.events.models import Event
from mailwright.events.schemas import ContactEvent, EventOut, IncomingEvent, IngestResult, RejectedItem
from mailwright.orders import service as orders
from mailwright.orders.schemas import OrderIn

# Queued after each batch that stored events; segments and flows register handlers for it.
EVENTS_INGESTED_JOB = "events.ingested"

_ACTIVITY_KIND = {v.EMAIL_OPENED: contacts.OPEN_ACTIVITY, v.EMAIL_CLICKED: contacts.CLICK_ACTIVITY}


def ingest(
    uow: UnitOfWork,
    events: Sequence[IncomingEvent],
    *,
    rejected: Sequence[RejectedItem] = (),
    notify: bool = False,
) -> IngestResult:
    """Store a batch of validated events and apply what they mean to profiles, catalog and orders.

    Nothing commits here: the caller's unit of work commits the whole batch at once, so an event that
    was acknowledged is stored with all its consequences, and a failure leaves nothing half-written.
    """
    session = uow.session
    now = uow.now()
    result = IngestResult(rejected=list(rejected))
    # Concurrent batches naming the same customer, product, order or message wait for each other.
    lock_keys(session, _natural_keys(events))
    seen = repository.existing_message_ids(session, (e.message_id for e in events))
    fresh: list[IncomingEvent] = []
    for event in events:
        if event.message_id in seen:
            result.duplicates += 1
            continue
        seen.add(event.message_id)
        fresh.append(event)
    catalog_changes = [product for event in fresh if event.catalog_only for product in event.products]
    if catalog_changes:
        catalog.upsert_products(session, catalog_changes, now)
    fresh = [event for event in fresh if not event.catalog_only]
    if not fresh:
        return result

    profiles = BatchProfiles(session, now)
    profiles.preload(_identity_keys(fresh))
    # Ids for the profiles this batch creates, in one round trip (an upper bound; gaps are harmless).
    profiles.reserve(sum(1 for e in fresh if not any(profiles.known(k) for k in _identity_keys([e]))))
    owners: list[int] = []
    for event in fresh:
        if event.type == "alias" and event.previous_id:
            # alias(previousId -> userId): the earlier identity is the same person as the new one.
            profiles.resolve(user_id=event.user_id, anonymous_id=event.previous_id, email=None)
        owners.append(
            profiles.resolve(user_id=event.user_id, anonymous_id=event.anonymous_id, email=event.email)
        )
    owners = [profiles.final(owner) for owner in owners]

    products = []
    new_orders: list[OrderIn] = []
    erase_ids: set[int] = set()
    rows: list[dict[str, Any]] = []
    for event, contact_id in zip(fresh, owners, strict=True):
        if event.profile:
            profiles.set_fields(contact_id, event.profile)
        if event.consent is not None:
            profiles.set_consent(contact_id, event.consent, event.source, event.consent_at or now)
        activity = (
            contacts.SITE_ACTIVITY if event.name in v.SITE_ACTIVITY_EVENTS else _ACTIVITY_KIND.get(event.name)
        )
        profiles.note_activity(contact_id, activity, event.occurred_at)
        products.extend(event.products)
        if event.order is not None:
            draft = event.order
            new_orders.append(
                OrderIn(
                    external_id=draft.external_id,
                    contact_id=contact_id,
                    placed_at=event.occurred_at,
                    currency=draft.currency,
                    total_minor=draft.total_minor,
                    subtotal_minor=draft.subtotal_minor,
                    tax_minor=draft.tax_minor,
                    shipping_minor=draft.shipping_minor,
                    discount_minor=draft.discount_minor,
                    coupon=draft.coupon,
                    source=event.source,
                    lines=draft.lines,
                )
            )
        if event.erase:
            erase_ids.add(contact_id)
        rows.append(
            {
                "message_id": event.message_id,
                "contact_id": contact_id,
                "type": event.type,
                "name": event.name,
                "properties": event.properties,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "source": event.source,
            }
        )
    merges = profiles.write()
    for merge in merges:
        repository.reassign_contact(session, merge.source_id, merge.target_id)
        orders.reassign_contact(session, merge.source_id, merge.target_id)
    order_contacts: set[int] = {m.target_id for m in merges}
    if products:
        catalog.upsert_products(session, products, now)
    recorded = orders.record_orders(session, new_orders, now)
    order_contacts |= recorded.recompute
    for event in fresh:
        if event.refund_order_id:
            touched = orders.record_refund(session, event.refund_order_id, event.refund_minor, now)
            if touched is not None:
                order_contacts.add(touched)
        if event.cancel_order_id:
            touched = orders.record_cancellation(session, event.cancel_order_id, now)
            if touched is not None:
                order_contacts.add(touched)
    _insert_events(session, rows)
    if order_contacts:
        totals = orders.totals_for(session, order_contacts)
        contacts.apply_order_rollups(session, [OrderRollup(**t.model_dump()) for t in totals], now)
    # Contacts whose only change is new orders get them added in SQL: no aggregate over their history.
    contacts.add_order_rollups(
        session,
        [OrderRollup(**t.model_dump()) for cid, t in recorded.added.items() if cid not in order_contacts],
        now,
    )
    for contact_id in erase_ids:
        contacts.erase(session, contact_id, source="ingest", now=now)
    result.accepted = len(rows)
    result.contact_ids = sorted(set(owners) - erase_ids)
    if notify and result.contact_ids:
        uow.enqueue(
            EVENTS_INGESTED_JOB, contact_ids=result.contact_ids, names=sorted({e.name for e in fresh})
        )
    return result


def record_contact_events(uow: UnitOfWork, events: Sequence[ContactEvent], *, notify: bool = True) -> int:
    """Store Mailwright's own events about known contacts (Email Sent, Opened, Clicked, Bounced, ...).

    Idempotent on each event's message id, like ingestion; moves the open/click roll-ups forward and,
    when `notify`, queues `events.ingested` so segments and flows see them. Returns how many were new.
    """
    session = uow.session
    now = uow.now()
    events = list(events)
    if not events:
        return 0
    seen = repository.existing_message_ids(session, (e.message_id for e in events))
    rows: list[dict[str, Any]] = []
    activities: list[tuple[int, str | None, datetime]] = []
    for event in events:
        if event.message_id in seen:
            continue
        seen.add(event.message_id)
        rows.append(
            {
                "message_id": event.message_id,
                "contact_id": event.contact_id,
                "type": "track",
                "name": event.name,
                "properties": event.properties,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "source": event.source,
            }
        )
        activities.append((event.contact_id, _ACTIVITY_KIND.get(event.name), event.occurred_at))
    if not rows:
        return 0
    # One roll-up UPDATE for a batch of sends (they share a moment), not one per contact.
    contacts.note_activities(session, activities)
    _insert_events(session, rows)
    if notify:
        uow.enqueue(
            EVENTS_INGESTED_JOB,
            contact_ids=sorted({r["contact_id"] for r in rows}),
            names=sorted({r["name"] for r in rows}),
        )
    return len(rows)


def _natural_keys(events: Sequence[IncomingEvent]) -> set[str]:
    keys = {f"{kind}:{value}" for kind, value in _identity_keys(events)}
    for event in events:
        keys.add(f"message:{event.message_id}")
        keys.update(f"product:{p.external_id}" for p in event.products)
        for order_id in (
            event.order.external_id if event.order else None,
            event.refund_order_id,
            event.cancel_order_id,
        ):
            if order_id:
                keys.add(f"order:{order_id}")
    return keys


def _identity_keys(events: Sequence[IncomingEvent]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for event in events:
        if event.user_id:
            keys.append(("user_id", event.user_id))
        if event.anonymous_id:
            keys.append(("anonymous_id", event.anonymous_id))
        if event.previous_id:
            keys.append(("anonymous_id", event.previous_id))
        if event.email:
            keys.append(("email", event.email))
    return keys


def _insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    # ON CONFLICT DO NOTHING: a concurrent request with the same messageId must not fail the batch.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            postgresql.insert(table_of(Event)).on_conflict_do_nothing(index_elements=["message_id"]), rows
        )
    elif dialect == "sqlite":
        session.execute(
            sqlite.insert(table_of(Event)).on_conflict_do_nothing(index_elements=["message_id"]), rows
        )
    else:
        session.execute(insert(table_of(Event)), rows)


def list_events(
    session: Session,
    *,
    contact_id: int | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[EventOut]:
    """Events newest first, filtered by contact and name."""
    return [
        EventOut.model_validate(e)
        for e in repository.list_events(session, contact_id=contact_id, name=name, limit=limit, offset=offset)
    ]


def events_received_since(
    session: Session, contact_ids: Sequence[int], names: Sequence[str], *, since: datetime
) -> list[EventOut]:
    """Events of these contacts with these names received at or after `since`, oldest first."""
    if not contact_ids or not names:
        return []
    stmt = (
        select(Event)
        .where(
            in_values(session, Event.contact_id, list(contact_ids)),
            in_values(session, Event.name, list(names)),
            Event.received_at >= since,
        )
        .order_by(Event.received_at, Event.id)
    )
    return [EventOut.model_validate(e) for e in session.scalars(stmt)]
