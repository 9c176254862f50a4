"""Holdout lift: what a flow earned over not sending, with a 95 % interval.

A flow with a random split that has a holdout branch sends nothing to the held-out contacts; everything
else about them is the same, so the difference between the two groups' conversion rate and revenue per
recipient over the following window is the flow's causal effect (the same design as the Hillstrom test
that `tests/analytics` checks the estimators on). Every order counts here, attributed or not: the
question is how much more the shop sold, not which email got the credit.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.analytics.stats import Difference, incremental_total, mean_difference, rate_difference
from mailwright.core.db import in_values
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.orders.models import Order


@dataclass(frozen=True)
class Lift:
    """Sent vs held out: group sizes, conversion and revenue-per-recipient differences, incremental revenue."""

    flow_id: int
    window_days: int
    n_sent: int
    n_holdout: int
    conversion: Difference | None
    revenue_per_recipient_minor: Difference | None
    incremental_revenue_minor: tuple[float, float, float] | None
    reason: str | None = None


@dataclass(frozen=True)
class _Unit:
    contact_id: int
    at: datetime
    held_out: bool


def _units(session: Session, flow_id: int, since: datetime, until: datetime) -> list[_Unit]:
    stmt = (
        select(FlowRun.contact_id, FlowRunStep.at, FlowRunStep.outcome)
        .join(FlowRun, FlowRun.id == FlowRunStep.run_id)
        .where(
            FlowRun.flow_id == flow_id,
            FlowRunStep.action == "split",
            in_values(session, FlowRunStep.outcome, ["holdout", "branch"]),
            FlowRunStep.at >= since,
            FlowRunStep.at < until,
        )
    )
    return [_Unit(contact_id, at, outcome == "holdout") for contact_id, at, outcome in session.execute(stmt)]


def _orders_after(
    session: Session, units: Sequence[_Unit], window: timedelta
) -> dict[int, list[tuple[datetime, int]]]:
    contacts = sorted({u.contact_id for u in units})
    start = min(u.at for u in units)
    end = max(u.at for u in units) + window
    result: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for begin in range(0, len(contacts), 5000):
        stmt = select(Order.contact_id, Order.placed_at, Order.total_minor, Order.refunded_minor).where(
            in_values(session, Order.contact_id, contacts[begin : begin + 5000]),
            Order.status != "cancelled",
            Order.placed_at > start,
            Order.placed_at <= end,
        )
        for contact_id, placed_at, total, refunded in session.execute(stmt):
            result[contact_id].append((placed_at, total - refunded))
    return result


def flow_lift(
    session: Session, flow_id: int, *, since: datetime, until: datetime, window_days: int = 14
) -> Lift:
    """Conversion and revenue per recipient of sent vs held-out runs of a flow that split in [since, until)."""
    units = _units(session, flow_id, since, until)
    sent = [u for u in units if not u.held_out]
    held = [u for u in units if u.held_out]
    if len(sent) < 2 or len(held) < 2:
        reason = (
            "no holdout branch ran in this period" if not held else "too few runs in a group for an interval"
        )
        return Lift(flow_id, window_days, len(sent), len(held), None, None, None, reason)
    window = timedelta(days=window_days)
    orders = _orders_after(session, units, window)

    def outcome(unit: _Unit) -> tuple[int, int]:
        inside = [
            minor for placed, minor in orders.get(unit.contact_id, []) if unit.at < placed <= unit.at + window
        ]
        return (1 if inside else 0, sum(inside))

    sent_outcomes = np.array([outcome(u) for u in sent], dtype=float)
    held_outcomes = np.array([outcome(u) for u in held], dtype=float)
    conversion = rate_difference(
        int(sent_outcomes[:, 0].sum()), len(sent), int(held_outcomes[:, 0].sum()), len(held)
    )
    revenue = mean_difference(sent_outcomes[:, 1], held_outcomes[:, 1])
    return Lift(flow_id, window_days, len(sent), len(held), conversion, revenue, incremental_total(revenue))
