"""A small synthetic shop ingested through the real event path, for the stored-predictions tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from mailwright.catalog.schemas import ProductIn
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.orders.schemas import OrderLineIn


def email_of(customer: int) -> str:
    return f"customer{customer}@example.com"


def order_events(
    n_customers: int, days: int, end: datetime, *, seed: int = 0, products: int = 24, with_opens: bool = False
) -> list[IncomingEvent]:
    """Order Completed events of customers with their own purchase rates, some of whom stop buying.

    Customers with an even number buy often until the end; odd ones stop halfway: churn has a signal.
    Products come in pairs (p0 with p1, p2 with p3, ...) that are often bought together.
    """
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days)
    result: list[IncomingEvent] = []
    for c in range(n_customers):
        gap = float(rng.uniform(6, 20)) if c % 2 == 0 else float(rng.uniform(10, 40))
        stop = days if c % 2 == 0 else days // 2
        t = float(rng.uniform(0, gap))
        n = 0
        while t < stop - 1:
            placed = start + timedelta(days=t, hours=int(rng.integers(8, 20)))
            first = int(rng.integers(0, products // 2)) * 2
            chosen = [first, first + 1] if rng.random() < 0.7 else [first]
            if rng.random() < 0.4:
                chosen.append(int(rng.integers(0, products)))
            lines = [
                OrderLineIn(
                    product_external_id=f"p{p}", category=f"k{p % 4}", quantity=1, price_minor=1000 + 100 * p
                )
                for p in dict.fromkeys(chosen)
            ]
            result.append(
                IncomingEvent(
                    message_id=f"order-{c}-{n}",
                    type="track",
                    name="Order Completed",
                    occurred_at=placed,
                    source="test",
                    user_id=f"u{c}",
                    email=email_of(c),
                    products=[
                        ProductIn(
                            external_id=line.product_external_id or "",
                            title=f"Product {line.product_external_id}",
                            categories=[line.category or ""],
                            url=f"https://shop.example/{line.product_external_id}",
                            image_url=f"https://shop.example/{line.product_external_id}.jpg",
                            price_minor=line.price_minor,
                            currency="GBP",
                        )
                        for line in lines
                    ],
                    order=OrderDraft(
                        external_id=f"o{c}-{n}",
                        currency="GBP",
                        total_minor=sum(line.price_minor * line.quantity for line in lines),
                        lines=lines,
                    ),
                )
            )
            if with_opens:
                result.append(
                    IncomingEvent(
                        message_id=f"open-{c}-{n}",
                        type="track",
                        name="Email Opened",
                        occurred_at=placed - timedelta(hours=1),
                        source="test",
                        user_id=f"u{c}",
                    )
                )
            n += 1
            t += gap * float(rng.uniform(0.5, 1.5))
    return result


def ingest(runtime: Runtime, incoming: list[IncomingEvent], batch: int = 500) -> None:
    """Store the events through the real ingest path, a batch per transaction."""
    for start in range(0, len(incoming), batch):
        with runtime.uow() as uow:
            events.ingest(uow, incoming[start : start + batch])
