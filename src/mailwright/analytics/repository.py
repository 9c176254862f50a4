"""Reads across domains for reports: orders, email events and the outbox rows they name."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.analytics.models import OrderAttribution
from mailwright.core.db import in_values
from mailwright.delivery.models import OutboxMessage
from mailwright.events.models import Event
from mailwright.orders.models import Order


@dataclass(frozen=True)
class OrderRow:
    """An order to attribute."""

    id: int
    contact_id: int
    placed_at: datetime
    revenue_minor: int
    currency: str


@dataclass(frozen=True)
class Touch:
    """An email event that can earn an order: a click or an open of one message."""

    contact_id: int
    kind: str
    at: datetime
    message_public_id: str


@dataclass(frozen=True)
class MessageSource:
    """Where a message came from (flow node or campaign) and its template."""

    public_id: str
    source_kind: str
    source_id: str | None
    template_name: str


def unattributed_orders(
    session: Session, *, contact_ids: Sequence[int] | None = None, limit: int = 5000
) -> list[OrderRow]:
    """Orders without an attribution row yet (optionally of these contacts), oldest first."""
    stmt = (
        select(
            Order.id,
            Order.contact_id,
            Order.placed_at,
            Order.total_minor,
            Order.refunded_minor,
            Order.currency,
        )
        .outerjoin(OrderAttribution, OrderAttribution.order_id == Order.id)
        .where(OrderAttribution.order_id.is_(None), Order.status != "cancelled")
        .order_by(Order.placed_at, Order.id)
        .limit(limit)
    )
    if contact_ids is not None:
        stmt = stmt.where(in_values(session, Order.contact_id, list(contact_ids)))
    return [
        OrderRow(row.id, row.contact_id, row.placed_at, row.total_minor - row.refunded_minor, row.currency)
        for row in session.execute(stmt)
    ]


def touches(
    session: Session, contact_ids: Sequence[int], names: Sequence[str], start: datetime, end: datetime
) -> list[Touch]:
    """Clicks/opens of these contacts in [start, end] that name their message; machine opens and bot clicks left out."""
    if not contact_ids:
        return []
    stmt = (
        select(Event.contact_id, Event.name, Event.occurred_at, Event.properties)
        .where(
            in_values(session, Event.contact_id, list(contact_ids)),
            in_values(session, Event.name, list(names)),
            Event.occurred_at >= start,
            Event.occurred_at <= end,
        )
        .order_by(Event.occurred_at)
    )
    result = []
    for contact_id, name, at, properties in session.execute(stmt):
        props: dict[str, Any] = properties or {}
        message = props.get("message_id")
        if not isinstance(message, str) or props.get("machine_open") or props.get("bot"):
            continue
        result.append(Touch(contact_id, "click" if name == "Email Clicked" else "open", at, message))
    return result


def message_sources(session: Session, public_ids: Sequence[str]) -> dict[str, MessageSource]:
    """The outbox rows behind these public ids."""
    if not public_ids:
        return {}
    stmt = select(
        OutboxMessage.public_id,
        OutboxMessage.source_kind,
        OutboxMessage.source_id,
        OutboxMessage.template_name,
    ).where(in_values(session, OutboxMessage.public_id, list(public_ids)))
    return {row.public_id: MessageSource(*row) for row in session.execute(stmt)}
