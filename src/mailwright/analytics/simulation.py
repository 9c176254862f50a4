"""A small, documented response model for demos: how recipients react to the emails a simulation sent.

A historical shop's real orders happened without any email, so a demo that replays them through the flows
has no opens, clicks or email-caused orders. This model adds them, labelled synthetic (`source =
"synthetic"`, `synthetic: true` on every event), with known parameters:

- each delivered message is opened by a machine (a privacy proxy) with `machine_open_rate`, and by the
  person with `open_rate`, some hours after it was sent;
- a person who opened clicks with `click_rate`, minutes later;
- a click causes an order with `order_rate`, within three days; its value is drawn around the contact's own
  average order value (the shop's median when the contact has none);
- `click_lift` multiplies the click rate of named templates (the demo's cart test: a discount in the first
  reminder is clicked more), so an A/B test has a real difference to find.

Because the model knows every order it caused, it reports the true incremental orders and revenue, and the
demo checks that the holdout estimate recovers them within its interval: the report's estimator is tested on
an effect it did not choose.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from mailwright.contacts import service as contacts
from mailwright.core.uow import UnitOfWork
from mailwright.delivery.models import OutboxMessage
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent, OrderDraft

SOURCE = "synthetic"


@dataclass(frozen=True)
class ResponseModel:
    """The synthetic recipients' behaviour; the defaults are typical e-commerce figures."""

    machine_open_rate: float = 0.25
    open_rate: float = 0.35
    click_rate: float = 0.15
    order_rate: float = 0.20
    click_lift: Mapping[str, float] = field(default_factory=dict)
    seed: int = 2026


@dataclass(frozen=True)
class CausedOrder:
    """An order the model caused: who, when, how much, and the email (message and flow) that caused it."""

    contact_id: int
    placed_at: datetime
    value_minor: int
    message_id: str
    flow_id: str


@dataclass
class SimulationResult:
    """What the model generated, and the truth the holdout estimate must recover."""

    messages: int = 0
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    caused_orders: int = 0
    caused_revenue_minor: int = 0
    caused_by_flow: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    caused: list[CausedOrder] = field(default_factory=list)

    def add(self, other: "SimulationResult") -> None:
        """Add another day's reactions."""
        self.messages += other.messages
        self.opens += other.opens
        self.machine_opens += other.machine_opens
        self.clicks += other.clicks
        self.caused_orders += other.caused_orders
        self.caused_revenue_minor += other.caused_revenue_minor
        for flow, (n, value) in other.caused_by_flow.items():
            self.caused_by_flow[flow][0] += n
            self.caused_by_flow[flow][1] += value
        self.caused.extend(other.caused)


def simulate_responses(
    uow: UnitOfWork,
    since: datetime,
    until: datetime,
    model: ResponseModel,
    *,
    currency: str,
    horizon: datetime | None = None,
) -> SimulationResult:
    """Generate opens, clicks and caused orders for the messages sent in [since, until); returns the truth.

    Reactions may come after `until` (a day's mail is opened that night), up to `horizon` (default `until`).
    """
    session = uow.session
    last = horizon or until
    # One stream per period, so a day-by-day simulation does not repeat the same draws every day.
    rng = np.random.default_rng([model.seed, int(since.timestamp())])
    rows = session.execute(
        select(
            OutboxMessage.public_id,
            OutboxMessage.contact_id,
            OutboxMessage.sent_at,
            OutboxMessage.source_id,
            OutboxMessage.template_name,
        )
        .where(
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= since,
            OutboxMessage.sent_at < until,
        )
        .order_by(OutboxMessage.sent_at, OutboxMessage.id)
    ).all()
    result = SimulationResult()
    profiles = {p.id: p for p in contacts.profiles_by_ids(session, sorted({r.contact_id for r in rows}))}
    known_values = [p.average_order_value_minor for p in profiles.values() if p.average_order_value_minor > 0]
    median_value = int(np.median(known_values)) if known_values else 5000
    recorded: list[ContactEvent] = []
    orders: list[IncomingEvent] = []
    for public_id, contact_id, sent_at_or_none, source_id, template in rows:
        sent_at: datetime = sent_at_or_none or since
        result.messages += 1
        base = {"message_id": public_id, "synthetic": True}
        if rng.random() < model.machine_open_rate:
            result.machine_opens += 1
            at = sent_at + timedelta(seconds=float(rng.uniform(1, 5)))
            recorded.append(
                ContactEvent(
                    contact_id,
                    "Email Opened",
                    at,
                    f"syn-mo-{public_id}",
                    {**base, "machine_open": True},
                    SOURCE,
                )
            )
        if rng.random() >= model.open_rate:
            continue
        result.opens += 1
        opened = sent_at + timedelta(hours=float(rng.exponential(4.0)))
        recorded.append(
            ContactEvent(
                contact_id,
                "Email Opened",
                opened,
                f"syn-o-{public_id}",
                {**base, "machine_open": False},
                SOURCE,
            )
        )
        if rng.random() >= model.click_rate * model.click_lift.get(template, 1.0):
            continue
        result.clicks += 1
        clicked = opened + timedelta(minutes=float(rng.uniform(0.5, 20)))
        recorded.append(
            ContactEvent(
                contact_id, "Email Clicked", clicked, f"syn-c-{public_id}", {**base, "bot": False}, SOURCE
            )
        )
        profile = profiles.get(contact_id)
        if profile is None or rng.random() >= model.order_rate:
            continue
        placed = clicked + timedelta(hours=float(rng.uniform(0.2, 72)))
        if placed >= last:
            continue
        typical = profile.average_order_value_minor or median_value
        value = int(max(100, rng.lognormal(np.log(typical), 0.4)))
        result.caused_orders += 1
        result.caused_revenue_minor += value
        flow = (source_id or "").partition(":")[0]
        result.caused_by_flow[flow][0] += 1
        result.caused_by_flow[flow][1] += value
        result.caused.append(CausedOrder(contact_id, placed, value, public_id, flow))
        orders.append(
            IncomingEvent(
                message_id=f"syn-order-{public_id}",
                type="track",
                name="Order Completed",
                occurred_at=placed,
                source=SOURCE,
                user_id=profile.external_id,
                email=profile.email if profile.external_id is None else None,
                properties={"synthetic": True, "caused_by": public_id, "order_id": f"syn-{public_id}"},
                order=OrderDraft(external_id=f"syn-{public_id}", currency=currency, total_minor=value),
            )
        )
    events.record_contact_events(uow, recorded, notify=False)
    for start in range(0, len(orders), 500):
        events.ingest(uow, orders[start : start + 500], notify=False)
    return result
