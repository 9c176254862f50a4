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
from mailwright.campaigns.models import Campaign, CampaignRecipient
from mailwright.campaigns.sending import PHASE_HOLDOUT
from mailwright.core.db import in_values
from mailwright.flows.models import FlowRun, FlowRunStep
from mailwright.orders.models import Order

REVENUE_CAP_QUANTILE = 0.99


@dataclass(frozen=True)
class Lift:
    """Sent vs held out: group sizes, conversion and revenue-per-recipient differences, incremental revenue."""

    flow_id: int  # the flow's id, or the campaign's for a campaign's holdout
    window_days: int
    n_sent: int
    n_holdout: int
    conversion: Difference | None
    revenue_per_recipient_minor: Difference | None
    incremental_revenue_minor: tuple[float, float, float] | None
    reason: str | None = None
    # Each unit's revenue is capped here before the comparison (see `revenue_cap`).
    revenue_cap_minor: float | None = None


@dataclass(frozen=True)
class Unit:
    """One compared recipient: a contact (flow holdout) or a run (split node), and when it was assigned."""

    contact_id: int
    at: datetime
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
            # The flow's own holdout is drawn per contact: one unit per contact, measured from its first
            # entry in the period. Not from its last: when the contact enters again can depend on what was
            # sent (an email that leads to an order ends a run early, and the contact re-enters sooner), and
            # a window stretched by the treatment would credit the flow with orders it did not cause.
            seen = per_contact.get(contact_id)
            if seen is None or at < seen.at:
                per_contact[contact_id] = Unit(contact_id, at, held)
        else:
            per_run[run_id] = Unit(contact_id, at, held)
    # A flow with its own holdout is measured by it; a split's holdout branch only when there is none.
    return list(per_contact.values()) if per_contact else list(per_run.values())


def orders_after(
    session: Session, units: Sequence[Unit], window: timedelta
) -> dict[int, list[tuple[datetime, int]]]:
    """Each unit's contact's orders (time, net value) that can fall in a unit's outcome window."""
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


def in_window(unit: Unit, placed: datetime, window: timedelta) -> bool:
    """Whether an order counts for a unit: within the window after the unit was assigned."""
    return unit.at < placed <= unit.at + window


def revenue_cap(values: Sequence[float]) -> float:
    """The cap on one unit's revenue: the 99th percentile of all units' (both groups).

    Shop revenue is heavy-tailed (one wholesale order can be worth a thousand ordinary ones): uncapped, the
    few largest buyers decide which group looks better and the interval is not to be trusted. Capping both
    groups at the same value (winsorizing, as experimentation platforms do) keeps the comparison fair.
    """
    return float(np.quantile(np.asarray(values, dtype=float), REVENUE_CAP_QUANTILE)) if len(values) else 0.0


def flow_lift(
    session: Session, flow_id: int, *, since: datetime, until: datetime, window_days: int = 14
) -> Lift:
    """Conversion and revenue per recipient of sent vs held-out runs of a flow that split in [since, until)."""
    return compare(session, flow_id, units(session, flow_id, since, until), window_days)


def campaign_units(session: Session, campaign_id: int) -> list[Unit]:
    """A started campaign's recipients, assigned when its snapshot was taken; the holdout phase held out."""
    started = session.scalar(select(Campaign.started_at).where(Campaign.id == campaign_id))
    if started is None:
        return []
    rows = session.execute(
        select(CampaignRecipient.contact_id, CampaignRecipient.phase).where(
            CampaignRecipient.campaign_id == campaign_id
        )
    )
    return [Unit(contact_id, started, phase == PHASE_HOLDOUT) for contact_id, phase in rows]


def campaign_lift(session: Session, campaign_id: int, *, window_days: int = 14) -> Lift:
    """Conversion and revenue per recipient of a campaign's sent recipients vs its holdout."""
    return compare(session, campaign_id, campaign_units(session, campaign_id), window_days)


def compare(session: Session, source_id: int, found: Sequence[Unit], window_days: int) -> Lift:
    """Sent vs held-out units: conversion and capped revenue in the window after each was assigned."""
    sent = [u for u in found if not u.held_out]
    held = [u for u in found if u.held_out]
    if len(sent) < 2 or len(held) < 2:
        reason = "no holdout in this period" if not held else "too few recipients in a group for an interval"
        return Lift(source_id, window_days, len(sent), len(held), None, None, None, reason)
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
    cap = revenue_cap(np.concatenate([sent_outcomes[:, 1], held_outcomes[:, 1]]).tolist())
    revenue = mean_difference(np.minimum(sent_outcomes[:, 1], cap), np.minimum(held_outcomes[:, 1], cap))
    return Lift(
        source_id,
        window_days,
        len(sent),
        len(held),
        conversion,
        revenue,
        incremental_total(revenue),
        revenue_cap_minor=cap,
    )
