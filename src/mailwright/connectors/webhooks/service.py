"""Outbound webhooks: endpoints, the fan-out of new events into deliveries, signed POSTs and their retries.

A delivery is retried with exponential backoff (1 min, 2 min, 4 min ... capped at 1 h) for
RETRY_WINDOW after the event; an endpoint whose every attempt has failed for RETRY_WINDOW, or that
failed MAX_CONSECUTIVE_FAILURES times in a row, is disabled with the reason stored and shown.
"""

import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from mailwright.connectors.http import HttpOptions, default_options
from mailwright.connectors.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from mailwright.connectors.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
)
from mailwright.connectors.webhooks import signing
from mailwright.contacts import service as contacts
from mailwright.core.db import in_values, lock_keys
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events
from mailwright.events import vocabulary as v
from mailwright.events.models import Event

DELIVER_JOB = "connectors.webhooks.deliver"
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY_INTERVAL = timedelta(hours=1)
MAX_CONSECUTIVE_FAILURES = 100
# Only so much of a receiver's answer is kept in the log.
MAX_ERROR_CHARS = 500

SEGMENT_ENTERED = "Segment Entered"
SEGMENT_EXITED = "Segment Exited"
MAILWRIGHT_EVENTS = (
    v.EMAIL_SENT,
    v.EMAIL_OPENED,
    v.EMAIL_CLICKED,
    v.EMAIL_BOUNCED,
    v.UNSUBSCRIBED,
    v.SUBSCRIBED,
    v.MARKED_AS_SPAM,
    SEGMENT_ENTERED,
    SEGMENT_EXITED,
)
STORE_EVENTS = (
    v.ORDER_COMPLETED,
    v.ORDER_REFUNDED,
    v.ORDER_CANCELLED,
    v.CHECKOUT_STARTED,
    v.PRODUCT_VIEWED,
    v.PRODUCT_ADDED,
)
SUBSCRIBABLE_EVENTS = MAILWRIGHT_EVENTS + STORE_EVENTS


# --- endpoints ------------------------------------------------------------------------------------


def _check_url(url: str, field: str = "url") -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{field} must be an http(s) URL with a host, got {url!r}", field=field)
    return url.strip()


def _check_events(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in SUBSCRIBABLE_EVENTS]
    if unknown:
        raise InvalidInput(
            f"events: unknown event name(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(SUBSCRIBABLE_EVENTS)}",
            field="events",
        )
    if not names:
        raise InvalidInput("events: subscribe to at least one event", field="events")
    return sorted(set(names))


def _endpoint_out(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> EndpointOut:
    out = EndpointOut.model_validate(endpoint)
    return out.model_copy(update={"secret": endpoint.secret if with_secret else None})


def _get(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id}", field="endpoint_id")
    return endpoint


def create_endpoint(session: Session, data: EndpointIn, now: datetime) -> EndpointOut:
    """Subscribe a URL to events; the answer carries the signing secret (shown this once)."""
    endpoint = WebhookEndpoint(
        url=_check_url(data.url),
        secret=data.secret or signing.new_secret(),
        event_names=_check_events(data.events),
        description=data.description,
        enabled=True,
        consecutive_failures=0,
        listening_since=now,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return _endpoint_out(endpoint, with_secret=True)


def list_endpoints(session: Session) -> list[EndpointOut]:
    """Every endpoint, oldest first."""
    rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return [_endpoint_out(e) for e in rows]


def get_endpoint(session: Session, endpoint_id: int) -> EndpointOut:
    """One endpoint."""
    return _endpoint_out(_get(session, endpoint_id))


def update_endpoint(session: Session, endpoint_id: int, patch: EndpointPatch, now: datetime) -> EndpointOut:
    """Change an endpoint; enabling it again clears the failure streak and the reason."""
    endpoint = _get(session, endpoint_id)
    if patch.url is not None:
        endpoint.url = _check_url(patch.url)
    if patch.events is not None:
        endpoint.event_names = _check_events(patch.events)
    if patch.description is not None:
        endpoint.description = patch.description
    if patch.enabled is not None:
        if patch.enabled and not endpoint.enabled:
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.listening_since = now
        elif not patch.enabled and endpoint.enabled:
            endpoint.disabled_reason = "disabled by hand"
            endpoint.disabled_at = now
        endpoint.enabled = patch.enabled
    endpoint.updated_at = now
    return _endpoint_out(endpoint)


def delete_endpoint(session: Session, endpoint_id: int) -> None:
    """Remove an endpoint and its delivery log."""
    _get(session, endpoint_id)
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


def list_deliveries(
    session: Session, endpoint_id: int, *, limit: int = 50, status: str | None = None
) -> list[DeliveryOut]:
    """An endpoint's deliveries, newest first, each with its attempts."""
    _get(session, endpoint_id)
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    deliveries = list(session.scalars(stmt))
    attempts: dict[int, list[AttemptOut]] = {}
    if deliveries:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(in_values(session, WebhookAttempt.delivery_id, [d.id for d in deliveries]))
            .order_by(WebhookAttempt.attempt)
        )
        for row in rows:
            attempts.setdefault(row.delivery_id, []).append(AttemptOut.model_validate(row))
    return [
        DeliveryOut.model_validate(d).model_copy(update={"log": attempts.get(d.id, [])}) for d in deliveries
    ]


# --- fan-out ----------------------------------------------------------------------------------------


def _payload(public_id: str, event: Any, contact: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": public_id,
        "type": event.name,
        "created_at": event.received_at.isoformat(),
        "data": {
            "event": {
                "id": event.message_id,
                "name": event.name,
                "occurred_at": event.occurred_at.isoformat(),
                "source": event.source,
                "properties": event.properties,
            },
            "contact": contact,
        },
    }


def fan_out(uow: UnitOfWork, contact_ids: list[int], names: list[str]) -> int:
    """Queue one delivery per (enabled endpoint, new matching event); returns how many were queued."""
    session = uow.session
    now = uow.now()
    wanted = set(names)
    endpoints = [
        e
        for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)))
        if wanted & set(e.event_names)
    ]
    if not endpoints or not contact_ids:
        return 0
    subscribed = sorted(wanted & {n for e in endpoints for n in e.event_names})
    # Two workers handling events of the same contact at once queue each delivery once, not twice.
    lock_keys(session, {f"webhook-fan-out:{contact_id}" for contact_id in contact_ids})
    # The job may run late (a worker was down): look back over the retry window, dedupe on the pair.
    since = min(min(e.listening_since for e in endpoints), now) - RETRY_WINDOW
    found = events.events_received_since(session, contact_ids, subscribed, since=since)
    if not found:
        return 0
    existing: set[tuple[int, int]] = {
        (int(endpoint_id), int(event_id))
        for endpoint_id, event_id in session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id).where(
                in_values(session, WebhookDelivery.event_id, [e.id for e in found]),
                in_values(session, WebhookDelivery.endpoint_id, [e.id for e in endpoints]),
            )
        )
    }
    people: dict[int, dict[str, Any]] = {}
    queued: list[WebhookDelivery] = []
    for endpoint in endpoints:
        for event in found:
            if event.name not in endpoint.event_names or (endpoint.id, event.id) in existing:
                continue
            if event.received_at < endpoint.listening_since:
                continue  # an endpoint hears of events from its creation (or re-enabling) on
            if event.contact_id not in people:
                profile = contacts.get_profile(session, event.contact_id)
                people[event.contact_id] = {
                    "id": profile.id,
                    "email": profile.email,
                    "external_id": profile.external_id,
                    "first_name": profile.first_name,
                    "last_name": profile.last_name,
                }
            public_id = "whd_" + secrets.token_hex(12)
            delivery = WebhookDelivery(
                public_id=public_id,
                endpoint_id=endpoint.id,
                event_id=event.id,
                event_name=event.name,
                payload=_payload(public_id, event, people[event.contact_id]),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(delivery)
            queued.append(delivery)
    session.flush()
    for delivery in queued:
        uow.enqueue(DELIVER_JOB, delivery_id=delivery.id)
    return len(queued)


# --- delivering -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedPost:
    """Everything one POST needs, read in a short transaction."""

    delivery_id: int
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class PostResult:
    """What the receiver did with one POST."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def prepare(session: Session, delivery_id: int, now: datetime) -> PreparedPost | None:
    """The signed request for a pending delivery, or None when there is nothing to send any more."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return None
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Mailwright-Webhooks/1",
        signing.SIGNATURE_HEADER: signing.sign(body, endpoint.secret, timestamp),
        "Mailwright-Event": delivery.event_name,
        "Mailwright-Delivery": delivery.public_id,
        "Mailwright-Attempt": str(delivery.attempts + 1),
    }
    return PreparedPost(delivery_id, endpoint.url, body, headers)


def post(prepared: PreparedPost, options: HttpOptions | None = None) -> PostResult:
    """Send one POST (no transaction is open meanwhile); redirects are not followed."""
    opts = options or default_options()
    started = time.monotonic()
    try:
        response = _client(opts).post(prepared.url, content=prepared.body, headers=prepared.headers)
    except httpx.TimeoutException:
        return PostResult(None, f"timed out after {opts.timeout_seconds:g} s", _ms(started))
    except httpx.HTTPError as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}: {response.text}"
    return PostResult(response.status_code, error[:MAX_ERROR_CHARS] if error else None, _ms(started))


# One client per (transport, timeout), shared by the worker's threads: building one loads the CA bundle
# (~60 ms), and a kept-alive connection to a receiver serves its next deliveries.
_clients: dict[tuple[int, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(options: HttpOptions) -> httpx.Client:
    key = (id(options.transport), options.timeout_seconds)
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(transport=options.transport, timeout=options.timeout_seconds)
            _clients[key] = client
        return client


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def next_retry_delay(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1 min doubling each time, at most 1 h."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, MAX_RETRY_INTERVAL)


def record(uow: UnitOfWork, delivery_id: int, result: PostResult) -> str:
    """Log an attempt, schedule the retry or give up, and disable an endpoint that keeps failing.

    Returns the delivery's status afterwards.
    """
    session = uow.session
    now = uow.now()
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return "missing"
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint is not None  # the delivery's foreign key cascades
    if delivery.status != "pending":
        # Cancelled while the POST was in flight (the endpoint was disabled): log it, change nothing else.
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempt=delivery.attempts + 1,
                attempted_at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        return delivery.status
    delivery.attempts += 1
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    next_at: datetime | None = None
    if result.ok:
        delivery.status = "delivered"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
    else:
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or now
        candidate = now + next_retry_delay(delivery.attempts)
        if candidate - delivery.created_at > RETRY_WINDOW:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            next_at = candidate
            delivery.next_attempt_at = candidate
        _maybe_disable(session, endpoint, result, now)
        if not endpoint.enabled:
            next_at = None
    endpoint.updated_at = now
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            attempted_at=now,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            next_attempt_at=next_at,
        )
    )
    if next_at is not None:
        uow.enqueue(DELIVER_JOB, run_at=next_at, delivery_id=delivery.id)
    return delivery.status


def _maybe_disable(session: Session, endpoint: WebhookEndpoint, result: PostResult, now: datetime) -> None:
    assert endpoint.failing_since is not None
    streak = now - endpoint.failing_since
    why = None
    if streak >= RETRY_WINDOW:
        hours = streak.total_seconds() / 3600
        why = f"every delivery failed for {hours:.0f} h"
    elif endpoint.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
        why = f"{endpoint.consecutive_failures} deliveries in a row failed"
    if why is None:
        return
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = (
        f"disabled automatically at {now.isoformat()}: {why} (last: {result.error or result.status_code})"
    )
    # What was still waiting would only fail again; it stays in the log as cancelled.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="cancelled", next_attempt_at=None)
    )


def forget_contacts(session: Session, contact_ids: list[int]) -> int:
    """Erasure: blank the payloads of deliveries about these contacts and cancel those not yet sent."""
    if not contact_ids:
        return 0
    event_ids = select(Event.id).where(in_values(session, Event.contact_id, contact_ids))
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.event_id.in_(event_ids))
        .values(
            payload={"erased": True},
            status=case((WebhookDelivery.status == "pending", "cancelled"), else_=WebhookDelivery.status),
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
