"""The WooCommerce webhook receiver: verified before parsing, deduplicated, stored in one transaction."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mailwright.connectors import woocommerce
from mailwright.connectors.common import verify_base64_hmac
from mailwright.connectors.service import connection_data
from mailwright.core.errors import DomainError, InvalidInput, NotFound, PayloadTooLarge
from mailwright.core.runtime import Runtime
from mailwright.core.web import RuntimeDep
from mailwright.events import service as events
from mailwright.events.models import WebhookReceipt
from mailwright.events.router import decode_json
from mailwright.events.schemas import IncomingEvent

router = APIRouter(prefix="/webhooks", tags=["ingest (WooCommerce webhooks)"])

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


class WebhookNotConfigured(DomainError):
    """The connection has no webhook secret, so deliveries cannot be verified."""

    status = 503
    code = "not_configured"


def _claim(session: Session, delivery_id: str, topic: str, now: datetime) -> bool:
    """Record the delivery; False when it was recorded before (a redelivery)."""
    values = {
        "source": woocommerce.SOURCE,
        "delivery_id": delivery_id,
        "topic": topic[:100],
        "received_at": now,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(WebhookReceipt).values(values).on_conflict_do_nothing(index_elements=["source", "delivery_id"])
    )
    return session.scalar(stmt.returning(WebhookReceipt.id)) is not None


def _store(runtime: Runtime, delivery_id: str, topic: str, found: list[IncomingEvent]) -> dict[str, Any]:
    # Receipt and events commit together: a failure leaves no receipt, so WooCommerce's retry is processed.
    with runtime.uow() as uow:
        if not _claim(uow.session, delivery_id, topic, uow.now()):
            return {"status": "duplicate", "events": 0}
        result = events.ingest(uow, found, notify=events.EVENTS_INGESTED_JOB in runtime.registry.handlers)
        return {"status": "accepted", "events": result.accepted}


def _secret(runtime: Runtime, name: str) -> tuple[woocommerce.Shop, str]:
    with runtime.uow() as uow:
        try:
            data = connection_data(uow.session, name)
        except NotFound as exc:
            raise NotFound(f"no WooCommerce connection named {name!r}", field="connection") from exc
    if data.kind != "woocommerce":
        raise NotFound(
            f"connection {name!r} is a {data.kind} connection, not WooCommerce", field="connection"
        )
    secret = str(data.config.get("webhook_secret") or "")
    if not secret:
        raise WebhookNotConfigured(
            f"set the webhook secret of {name}: mailwright connect woocommerce {name} --webhook-secret ...",
            field="config.webhook_secret",
        )
    return woocommerce.shop_of(data, runtime.settings.shop_currency), secret


@router.post("/woocommerce/{connection}", summary="Receive a WooCommerce webhook")
async def woocommerce_webhook(connection: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Verify X-WC-Webhook-Signature, then store what the topic means (once per delivery id)."""
    raw = await request.body()
    topic = (request.headers.get(woocommerce.TOPIC_HEADER) or "").strip().lower()
    shop, secret = await run_in_threadpool(_secret, runtime, connection)
    if woocommerce.is_ping(raw, topic) and woocommerce.SIGNATURE_HEADER.lower() not in request.headers:
        # Saving a webhook in WooCommerce sends this unsigned ping; it must get a 2xx or the save fails.
        return JSONResponse({"status": "ok", "ping": True})
    # The signature comes first: nothing about an unsigned body is parsed or stored.
    verify_base64_hmac(
        raw, request.headers.get(woocommerce.SIGNATURE_HEADER), secret, woocommerce.SIGNATURE_HEADER
    )
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"body is over the limit of {MAX_WEBHOOK_BYTES} bytes")
    if not topic:
        raise InvalidInput(f"missing {woocommerce.TOPIC_HEADER} header", field=woocommerce.TOPIC_HEADER)
    if topic not in woocommerce.TOPICS:
        # WooCommerce disables a webhook whose deliveries keep failing, so an unused topic is a 200.
        return JSONResponse({"status": "ignored", "topic": topic, "reason": "topic not handled"})
    delivery = (request.headers.get(woocommerce.DELIVERY_HEADER) or "").strip()
    if not delivery:
        raise InvalidInput(f"missing {woocommerce.DELIVERY_HEADER} header", field=woocommerce.DELIVERY_HEADER)
    found = woocommerce.events_for(topic, decode_json(raw), shop)
    if not found:
        return JSONResponse({"status": "ignored", "topic": topic, "reason": "nothing to record"})
    outcome = await run_in_threadpool(_store, runtime, f"{shop.connection_id}:{delivery[:150]}", topic, found)
    return JSONResponse({"topic": topic, **outcome})
