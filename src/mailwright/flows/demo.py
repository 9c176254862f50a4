"""The demo's flow step: the library switched on for a real shop and its last 60 days run through the engine.

The Online Retail data has orders only, so browsing and cart events are synthesized around them (and
labelled `source="synthetic"`): before each real order a view, a cart add and a started checkout; and
sessions that end without an order for some customers. The stored events then replay with the
simulated clock through the live engine, and the outbox is delivered (to the Maildir) once a simulated day,
with the send-time guards (frequency cap, quiet hours) applied as at any send. After each day's delivery an
optional hook sees the day (the demo's response model reacts to the mail there, so the cart flow's bandit
learns from clicks while the replay runs). The data has no consent either: the demo treats its customers as
subscribed (source "demo"), and the discount emails' codes come from pools of demo codes.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.core.clock import ManualClock
from mailwright.core.settings import Settings
from mailwright.core.uow import open_unit_of_work
from mailwright.delivery import service as delivery
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.events import vocabulary as v
from mailwright.events.models import Event
from mailwright.events.schemas import ContactEvent
from mailwright.flows import engine, library, repository
from mailwright.flows.replay import figures, replay
from mailwright.templates import coupons

SYNTHETIC = "synthetic"
DAYS = 60


@dataclass
class FlowLine:
    """One flow's figures in the demo."""

    name: str
    runs_started: int
    emails_queued: int
    emails_sent: int
    goal_exits: int
    collisions_avoided: int


@dataclass
class FlowDemo:
    """What the demo's flow step did."""

    start: datetime
    end: datetime
    synthetic_events: int
    flows: list[FlowLine]
    seconds: float = 0.0


def _products(properties: dict[str, Any]) -> list[dict[str, Any]]:
    items = properties.get("products") or []
    return [p for p in items if isinstance(p, dict) and p.get("product_id")][:3]


def synthesize(
    orders: list[tuple[int, datetime, dict[str, Any]]], start: datetime, end: datetime
) -> list[ContactEvent]:
    """Views, cart adds and checkouts before each real order, and some sessions that end without one."""
    rng = random.Random(2011)
    out: list[ContactEvent] = []
    n = 0

    def add(contact_id: int, name: str, at: datetime, properties: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        out.append(ContactEvent(contact_id, name, at, f"synthetic:{n}", properties, source=SYNTHETIC))

    span = (end - start).total_seconds()
    for contact_id, placed, properties in orders:
        items = _products(properties)
        if not items:
            continue
        first = items[0]
        order_id = properties.get("order_id", "")
        add(contact_id, v.PRODUCT_VIEWED, placed - timedelta(minutes=40), dict(first))
        add(contact_id, v.PRODUCT_ADDED, placed - timedelta(minutes=25), dict(first))
        add(
            contact_id,
            v.CHECKOUT_STARTED,
            placed - timedelta(minutes=8),
            {"products": items, "checkout_url": f"https://shop.example.com/checkout/recover/{order_id}"},
        )
        if rng.random() < 0.6:
            # A session that ends without an order, at a random moment of the period.
            at = start + timedelta(seconds=rng.uniform(0, span))
            if abs((at - placed).total_seconds()) < 3 * 86400:
                continue
            product = dict(rng.choice(items))
            add(contact_id, v.PRODUCT_VIEWED, at, product)
            if rng.random() < 0.5:
                add(contact_id, v.PRODUCT_ADDED, at + timedelta(minutes=6), product)
                if rng.random() < 0.4:
                    add(
                        contact_id,
                        v.CHECKOUT_STARTED,
                        at + timedelta(minutes=15),
                        {
                            "products": [product],
                            "checkout_url": f"https://shop.example.com/checkout/recover/s{n}",
                        },
                    )
    return sorted(out, key=lambda e: e.occurred_at)


def run(
    database: Any,
    settings: Settings,
    end: datetime,
    *,
    days: int = DAYS,
    progress: Callable[[str], None] | None = None,
    after_delivery: Callable[[datetime, datetime], None] | None = None,
) -> FlowDemo:
    """Switch the library on and run the shop's last `days` days through the engine, delivering daily.

    `after_delivery(since, until)` is called after each delivery pass with the period it sent in.
    """
    import time as wall

    began = wall.perf_counter()
    start = end - timedelta(days=days)
    clock = ManualClock(start)

    def open_uow() -> Any:
        return open_unit_of_work(database, clock)

    say = progress or (lambda _m: None)
    with open_uow() as uow:
        orders = [
            (cid, at, dict(props or {}))
            for cid, at, props in uow.session.execute(
                select(Event.contact_id, Event.occurred_at, Event.properties).where(
                    Event.name == v.ORDER_COMPLETED,
                    Event.occurred_at >= start,
                    Event.occurred_at < end,
                    Event.contact_id.is_not(None),
                )
            )
        ]
        synthetic = synthesize(orders, start, end)
        for chunk in range(0, len(synthetic), 2000):
            events.record_contact_events(uow, synthetic[chunk : chunk + 2000], notify=False)
        customers = list(
            uow.session.scalars(select(Contact.id).where(Contact.consent_status != "subscribed"))
        )
        for contact_id in customers:
            contacts.set_consent(uow.session, contact_id, "subscribed", source="demo", now=start)
        # The discount emails take a unique code each from the shop's pools: the demo fills them.
        for pool in ("cart", "winback", "birthday", "welcome"):
            codes = [f"{pool.upper()}-{n:05d}" for n in range(10_000)]
            coupons.upload_codes(uow.session, pool, codes, start)
        installed = library.install(uow, settings, activate=True)
    say(f"{len(synthetic)} synthetic events; replaying {days} days through {len(installed)} flows ...")
    ids = [f.id for f in installed]
    # Each pass renders per template and batch: a large batch keeps a day's mail in a few render calls.
    big = settings.model_copy(update={"send_batch_size": 5_000})
    delivered_until = start

    def deliver(now: datetime) -> None:
        nonlocal delivered_until
        delivery.send_due(open_uow, worker_id="demo", settings=big, limit=1_000_000)
        if after_delivery is not None:
            after_delivery(delivered_until, now)
        delivered_until = now

    replay(
        open_uow,
        clock,
        ids,
        start,
        end,
        sink=engine.OutboxSink(),
        window=timedelta(hours=1),
        every_day=deliver,
        default_zone=settings.default_timezone,
        max_step=timedelta(hours=2),
    )
    clock.set(end)
    deliver(end)
    lines = []
    with open_uow() as uow:
        for flow in installed:
            loaded = repository.load_version(uow.session, flow.id, flow.version)
            found = figures(uow, loaded, start)
            counts = dict(
                uow.session.execute(
                    select(OutboxMessage.status, func.count())
                    .where(OutboxMessage.source_kind == "flow", OutboxMessage.source_id.like(f"{flow.id}:%"))
                    .group_by(OutboxMessage.status)
                ).all()
            )
            lines.append(
                FlowLine(
                    name=flow.name,
                    runs_started=found.runs_started,
                    emails_queued=sum(counts.values()),
                    emails_sent=counts.get("sent", 0),
                    goal_exits=found.goal_exits,
                    collisions_avoided=found.collisions,
                )
            )
    return FlowDemo(start, end, len(synthetic), lines, round(wall.perf_counter() - began, 1))
