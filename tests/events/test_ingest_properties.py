"""Invariants of ingestion, for any mix of events and any way of cutting them into batches."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mailwright.contacts.models import Contact
from mailwright.core.money import from_minor, to_minor
from mailwright.core.runtime import Runtime
from mailwright.events import segment, service
from mailwright.events.models import Event
from mailwright.orders import service as orders_service
from mailwright.orders.models import Order

START = datetime(2026, 1, 1, tzinfo=UTC)

message = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["identify", "page", "view", "order"]),
        "user": st.integers(0, 4),
        "anon": st.integers(0, 4),
        "known": st.booleans(),
        "order": st.integers(0, 6),
        "cents": st.integers(0, 50_000),
        "minute": st.integers(0, 10_000),
    }
)


def to_segment(prefix: str, i: int, m: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "messageId": f"{prefix}-{i}",
        "anonymousId": f"{prefix}-a{m['anon']}",
        "timestamp": (START + timedelta(minutes=m["minute"])).isoformat(),
    }
    if m["known"]:
        base["userId"] = f"{prefix}-u{m['user']}"
    if m["kind"] == "identify":
        return {**base, "type": "identify", "traits": {"email": f"{prefix}-u{m['user']}@example.com"}}
    if m["kind"] == "page":
        return {**base, "type": "page", "name": "Home"}
    if m["kind"] == "view":
        return {
            **base,
            "type": "track",
            "event": "Product Viewed",
            "properties": {"product_id": "p1", "price": 3},
        }
    total = m["cents"] / 100
    return {
        **base,
        "type": "track",
        "event": "Order Completed",
        "properties": {"order_id": f"{prefix}-o{m['order']}", "total": total, "currency": "GBP"},
    }


def ingest_in(runtime: Runtime, items: list[dict[str, Any]], cuts: list[int]) -> None:
    bounds = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        events, rejected = segment.parse_batch(
            items[lo:hi], received_at=START, default_currency="GBP", max_event_bytes=32768
        )
        assert rejected == []
        with runtime.uow() as uow:
            service.ingest(uow, events)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(message, min_size=1, max_size=30),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    recuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_replaying_everything_in_other_batches_changes_nothing(
    runtime: Runtime, messages: list[dict[str, Any]], cuts: list[int], recuts: list[int]
) -> None:
    prefix = uuid.uuid4().hex[:10]
    items = [to_segment(prefix, i, m) for i, m in enumerate(messages)]
    ingest_in(runtime, items, cuts)

    def state() -> tuple[int, int, list[tuple[int, int]]]:
        with runtime.uow() as uow:
            s = uow.session
            stored = s.scalar(
                select(func.count()).select_from(Event).where(Event.message_id.like(f"{prefix}-%"))
            )
            orders = s.scalar(
                select(func.count()).select_from(Order).where(Order.external_id.like(f"{prefix}-%"))
            )
            rollups = s.execute(
                select(Contact.order_count, Contact.revenue_minor)
                .join(Order, Order.contact_id == Contact.id)
                .where(Order.external_id.like(f"{prefix}-%"))
                .distinct()
                .order_by(Contact.order_count, Contact.revenue_minor)
            ).all()
            return int(stored or 0), int(orders or 0), [tuple(r) for r in rollups]

    first = state()
    with runtime.uow() as uow:
        # Roll-ups kept incrementally must equal a recomputation from the orders table.
        owners = list(
            uow.session.scalars(select(Order.contact_id).where(Order.external_id.like(f"{prefix}-%")))
        )
        for truth in orders_service.totals_for(uow.session, owners):
            contact = uow.session.get(Contact, truth.contact_id)
            assert contact is not None
            assert (
                contact.order_count,
                contact.revenue_minor,
                contact.first_order_at,
                contact.last_order_at,
            ) == (truth.order_count, truth.revenue_minor, truth.first_order_at, truth.last_order_at)
            assert contact.average_order_value_minor == truth.revenue_minor // truth.order_count
    assert first[0] == len(items)  # every event stored once
    assert first[1] == len({m["order"] for m in messages if m["kind"] == "order"})
    ingest_in(runtime, items, recuts)  # the same events again, cut differently
    assert state() == first


@given(cents=st.integers(-(10**12), 10**12), currency=st.sampled_from(["GBP", "EUR", "JPY", "BHD", "USD"]))
def test_money_converts_to_minor_units_and_back_exactly(cents: int, currency: str) -> None:
    amount = from_minor(cents, currency)
    assert to_minor(amount, currency) == cents
    assert to_minor(str(amount), currency) == cents
