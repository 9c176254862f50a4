"""The Segment HTTP Tracking API's messages turned into Mailwright events."""

from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from mailwright.contacts.identity import (
    CONSENT_TRAITS,
    normalize_currency,
    normalize_email,
    profile_fields_from_traits,
)
from mailwright.core.clock import ensure_utc
from mailwright.core.errors import InvalidInput, PayloadTooLarge
from mailwright.core.ids import new_ulid
from mailwright.core.money import to_minor
from mailwright.events import commerce
from mailwright.events import vocabulary as v
from mailwright.events.schemas import IncomingEvent, RejectedItem, SegmentMessage


def _consent(traits: dict[str, Any]) -> str | None:
    for key in sorted(CONSENT_TRAITS):
        if key not in traits:
            continue
        value = traits[key]
        if isinstance(value, bool):
            return "subscribed" if value else "unsubscribed"
        if isinstance(value, str) and value in ("subscribed", "unsubscribed", "pending", "never_subscribed"):
            return value
        raise InvalidInput(
            f"traits.{key} must be true/false or subscribed/unsubscribed/pending", field=f"traits.{key}"
        )
    return None


def message_to_event(
    raw: Any, *, received_at: datetime, default_currency: str, max_event_bytes: int, size: int | None = None
) -> IncomingEvent:
    """Validate one Segment message and return the event it means; InvalidInput names the bad field."""
    if not isinstance(raw, dict):
        raise InvalidInput("each event must be a JSON object", field=None)
    encoded = size if size is not None else len(orjson.dumps(raw))
    if encoded > max_event_bytes:
        raise PayloadTooLarge(f"event is {encoded} bytes; the limit is {max_event_bytes} bytes per event")
    try:
        message = SegmentMessage.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInput(f"{path}: {first['msg']}", field=path) from exc
    if not message.userId and not message.anonymousId:
        raise InvalidInput("userId or anonymousId is required", field="userId")
    occurred = ensure_utc(message.timestamp or message.originalTimestamp or received_at)
    traits = dict(message.traits)
    if message.type != "identify" and isinstance(message.context.get("traits"), dict):
        # Segment clients put the known traits in context.traits on track/page calls.
        traits = {**message.context["traits"], **traits}
    profile = profile_fields_from_traits(traits) if message.type == "identify" else {}
    email = profile.pop("email", None)
    if email is None and isinstance(traits.get("email"), str):
        email = normalize_email(traits["email"], field="context.traits.email")
    props = dict(message.properties)
    event = IncomingEvent(
        message_id=message.messageId or new_ulid(received_at),
        type=message.type,
        name=v.IDENTIFY,
        occurred_at=occurred,
        source="segment",
        user_id=message.userId,
        anonymous_id=message.anonymousId,
        email=email,
        previous_id=message.previousId,
        properties=props,
        profile=profile,
        consent=_consent(traits) if message.type == "identify" else None,
        consent_at=occurred,
    )
    if message.type == "track":
        if not message.event:
            raise InvalidInput("event is required for a track call", field="event")
        event.name = message.event
        _commerce(event, default_currency)
    elif message.type == "page":
        event.name = v.PAGE_VIEWED
        event.properties = {
            **props,
            **({"name": message.name} if message.name else {}),
            **({"category": message.category} if message.category else {}),
        }
    elif message.type == "screen":
        event.name = v.SCREEN_VIEWED
        event.properties = {**props, **({"name": message.name} if message.name else {})}
    elif message.type == "alias":
        if not message.previousId or not message.userId:
            raise InvalidInput("alias needs previousId and userId", field="previousId")
        event.name = v.ALIAS
        event.properties = {"previous_id": message.previousId}
    elif message.type == "group":
        event.name = "Group"
        event.properties = {"group_id": message.groupId, **message.traits}
    else:
        event.properties = {"traits": traits}
    return event


def _commerce(event: IncomingEvent, default_currency: str) -> None:
    props = event.properties
    currency = default_currency
    if props.get("currency") is not None:
        currency = normalize_currency(str(props["currency"]), field="properties.currency")
    event.products = commerce.products_in(event.name, props, currency)
    if event.name in (v.ORDER_COMPLETED, v.ORDER_UPDATED):
        event.order = commerce.order_in(props, currency)
    elif event.name == v.ORDER_REFUNDED:
        order_id = props.get("order_id")
        if not order_id:
            raise InvalidInput(
                "properties.order_id is required for Order Refunded", field="properties.order_id"
            )
        event.refund_order_id = str(order_id)
        amount = props.get("total", props.get("revenue"))
        if amount is None and props.get("products"):
            draft = commerce.order_in(props, currency)
            amount_minor: int | None = sum(line.price_minor * line.quantity for line in draft.lines)
        else:
            amount_minor = None if amount is None else to_minor(amount, currency, field="properties.total")
        event.refund_minor = amount_minor
    elif event.name == v.ORDER_CANCELLED:
        order_id = props.get("order_id")
        if not order_id:
            raise InvalidInput(
                "properties.order_id is required for Order Cancelled", field="properties.order_id"
            )
        event.cancel_order_id = str(order_id)


def parse_batch(
    items: list[Any],
    *,
    received_at: datetime,
    default_currency: str,
    max_event_bytes: int,
    context: dict[str, Any] | None = None,
) -> tuple[list[IncomingEvent], list[RejectedItem]]:
    """Validate every message of a batch; the valid ones go on, the others are reported by index."""
    events: list[IncomingEvent] = []
    rejected: list[RejectedItem] = []
    for index, item in enumerate(items):
        try:
            if context and isinstance(item, dict) and "context" not in item:
                item = {**item, "context": context}
            events.append(
                message_to_event(
                    item,
                    received_at=received_at,
                    default_currency=default_currency,
                    max_event_bytes=max_event_bytes,
                )
            )
        except (InvalidInput, PayloadTooLarge) as exc:
            rejected.append(RejectedItem(index=index, field=exc.field, message=exc.message))
    return events, rejected
