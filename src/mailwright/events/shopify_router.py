"""HTTP ingestion: Shopify webhooks, verified, deduplicated and stored in one transaction."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mailwright.contacts import service as contacts
from mailwright.core.errors import DomainError, InvalidInput, PayloadTooLarge
from mailwright.core.runtime import Runtime
from mailwright.core.web import RuntimeDep
from mailwright.events import service, shopify
from mailwright.events.models import WebhookReceipt
from mailwright.events.router import decode_json
from mailwright.events.schemas import IncomingEvent
from mailwright.orders.models import Order

router = APIRouter(prefix="/webhooks", tags=["ingest (Shopify webhooks)"])

# Far above any real order or product payload, low enough that one request cannot exhaust memory.
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


class WebhookNotConfigured(DomainError):
    """The webhook endpoint cannot verify deliveries because no secret is configured."""

    status = 503
    code = "not_configured"


def _claim_delivery(session: Session, delivery_id: str, topic: str, now: datetime) -> bool:
    """Record the delivery; False when it was already recorded (a redelivery)."""
    # ON CONFLICT DO NOTHING: a concurrent redelivery waits for the first one and then sees it as done.
    # RETURNING rather than rowcount, which psycopg reports as -1 for this statement.
    values = {"source": shopify.SOURCE, "delivery_id": delivery_id, "topic": topic[:100], "received_at": now}
    keys = ["source", "delivery_id"]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(WebhookReceipt).values(values).on_conflict_do_nothing(index_elements=keys)
    return session.scalar(stmt.returning(WebhookReceipt.id)) is not None


def _with_order_owner(session: Session, event: IncomingEvent) -> IncomingEvent | None:
    """The event attributed to the customer who placed its order, or None when the order is unknown."""
    contact_id = session.scalar(select(Order.contact_id).where(Order.external_id == event.refund_order_id))
    if contact_id is None:
        return None
    profile = contacts.get_profile(session, contact_id)
    if profile.external_id:
        event.user_id = profile.external_id
    elif profile.email:
        event.email = profile.email
    elif profile.anonymous_ids:
        event.anonymous_id = profile.anonymous_ids[0]
    else:
        return None
    return event


def _store(runtime: Runtime, delivery: shopify.Delivery, events: list[IncomingEvent]) -> dict[str, Any]:
    # Receipt, events and their effects commit together: the 200 goes out only after the commit,
    # and a failure leaves no receipt behind, so Shopify's retry is processed in full.
    with runtime.uow() as uow:
        if not _claim_delivery(uow.session, delivery.event_id, delivery.topic, uow.now()):
            return {"status": "duplicate", "events": 0}
        kept: list[IncomingEvent] = []
        for event in events:
            owned = _with_order_owner(uow.session, event) if shopify.needs_order_owner(event) else event
            if owned is not None:
                kept.append(owned)
        if not kept:
            return {"status": "ignored", "events": 0, "reason": "nothing to record (unknown order?)"}
        result = service.ingest(uow, kept, notify=service.EVENTS_INGESTED_JOB in runtime.registry.handlers)
        return {"status": "accepted", "events": result.accepted}


@router.post("/shopify", summary="Receive a Shopify webhook")
async def shopify_webhook(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Verify a Shopify webhook's signature, then store what its topic means (once per event id)."""
    secret = runtime.settings.shopify_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise WebhookNotConfigured(
            "Shopify webhooks are not configured: set MAILWRIGHT_SHOPIFY_WEBHOOK_SECRET "
            "(setting shopify_webhook_secret) to the app's client secret",
            field="shopify_webhook_secret",
        )
    raw = await request.body()
    # The signature comes first: nothing about an unsigned body is parsed, stored or reported.
    shopify.verify_signature(raw, request.headers.get(shopify.HMAC_HEADER), secret.get_secret_value())
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"body is over the limit of {MAX_WEBHOOK_BYTES} bytes")
    topic = (request.headers.get(shopify.TOPIC_HEADER) or "").strip().lower()
    if not topic:
        raise InvalidInput(f"missing {shopify.TOPIC_HEADER} header", field=shopify.TOPIC_HEADER)
    if not shopify.is_supported(topic):
        # Shopify disables a subscription whose deliveries keep failing, so a topic we do not use is a 200.
        return JSONResponse({"status": "ignored", "topic": topic, "reason": "topic not handled"})
    event_id = request.headers.get(shopify.EVENT_ID_HEADER) or request.headers.get(shopify.WEBHOOK_ID_HEADER)
    if not event_id or not event_id.strip():
        raise InvalidInput(
            f"missing {shopify.EVENT_ID_HEADER} (or {shopify.WEBHOOK_ID_HEADER}) header",
            field=shopify.EVENT_ID_HEADER,
        )
    delivery = shopify.Delivery(
        topic=topic,
        event_id=event_id.strip()[:150],
        received_at=runtime.clock.now(),
        shop_domain=request.headers.get(shopify.SHOP_DOMAIN_HEADER),
        shop_currency=runtime.settings.shop_currency,
    )
    events = shopify.events_for(delivery, decode_json(raw))
    if not events:
        return JSONResponse({"status": "ignored", "topic": topic, "reason": "nothing to record"})
    outcome = await run_in_threadpool(_store, runtime, delivery, events)
    return JSONResponse({"topic": topic, **outcome})
