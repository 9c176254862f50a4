"""Holdout lift: what a flow earned over not sending, with a 95 % interval.

A flow keeps a share of its contacts as a holdout (10 % unless the flow says otherwise; drawn per contact,
written in each run's history at its start), or splits at a node with a holdout branch (per run). Held-out
contacts go through the flow but are sent nothing by it; everything else about them is the same, so the difference between the two groups' conversion rate and revenue per
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
class Unit:
    """One compared recipient: a contact (flow holdout) or a run (split node), and the span it entered in."""

    contact_id: int
    at: datetime
    last: datetime
    held_out: bool


def units(session: Session, flow_id: int, since: datetime, until: datetime) -> list[Unit]:
    """The flow's sent and held-out units that entered in [since, until)."""
    stmt = (
        select(FlowRun.id, FlowRun.contact_id, FlowRunStep.at, FlowRunStep.action, FlowRunStep.outcome)
        .join(FlowRun, FlowRun.id == FlowRunStep.run_id)
        .where(
            FlowRun.flow_id == flow_id,
            in_values(session, FlowRunStep.action, ["holdout", "split"]),
            in_values(session, FlowRunStep.outcome, ["holdout", "branch"]),
            FlowRunStep.at >= since,
            FlowRunStep.at < until,
        )
    )
    per_contact: dict[int, Unit] = {}
    per_run: dict[int, Unit] = {}
    for run_id, contact_id, at, action, outcome in session.execute(stmt):
        held = outcome == "holdout"
        if action == "holdout":
            # The flow's own holdout is drawn per contact: one unit per contact, from its first entry in the
            # period to its last (the outcome window runs on from the last).
            seen = per_contact.get(contact_id)
            per_contact[contact_id] = (
                Unit(contact_id, min(at, seen.at), max(at, seen.last), held)
                if seen
                else Unit(contact_id, at, at, held)
            )
        else:
            per_run[run_id] = Unit(contact_id, at, at, held)
    # A flow with its own holdout is measured by it; a split's holdout branch only when there is none.
    return list(per_contact.values()) if per_contact else list(per_run.values())


def orders_after(
    session: Session, units: Sequence[Unit], window: timedelta
) -> dict[int, list[tuple[datetime, int]]]:
    """Each unit's contact's orders (time, net value) that can fall in a unit's outcome window."""
    contacts = sorted({u.contact_id for u in units})
    start = min(u.at for u in units)
    end = max(u.last for u in units) + window
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


def in_window(unit: Unit, placed: datetime, window: timedelta) -> bool:
    """Whether an order counts for a unit: after its first entry, within the window after its last."""
    return unit.at < placed <= unit.last + window


def flow_lift(
    session: Session, flow_id: int, *, since: datetime, until: datetime, window_days: int = 14
) -> Lift:
    """Conversion and revenue per recipient of sent vs held-out runs of a flow that split in [since, until)."""
    found = units(session, flow_id, since, until)
    sent = [u for u in found if not u.held_out]
    held = [u for u in found if u.held_out]
    if len(sent) < 2 or len(held) < 2:
        reason = (
            "no holdout branch ran in this period" if not held else "too few runs in a group for an interval"
        )
        return Lift(flow_id, window_days, len(sent), len(held), None, None, None, reason)
    window = timedelta(days=window_days)
    orders = orders_after(session, found, window)

    def outcome(unit: Unit) -> tuple[int, int]:
        inside = [
            minor for placed, minor in orders.get(unit.contact_id, []) if in_window(unit, placed, window)
        ]
        return (1 if inside else 0, sum(inside))

    sent_outcomes = np.array([outcome(u) for u in sent], dtype=float)
    held_outcomes = np.array([outcome(u) for u in held], dtype=float)
    conversion = rate_difference(
        int(sent_outcomes[:, 0].sum()), len(sent), int(held_outcomes[:, 0].sum()), len(held)
    )
    revenue = mean_difference(sent_outcomes[:, 1], held_outcomes[:, 1])
    return Lift(flow_id, window_days, len(sent), len(held), conversion, revenue, incremental_total(revenue))
