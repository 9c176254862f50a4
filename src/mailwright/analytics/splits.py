"""A/B results of flow split nodes (fixed tests and Thompson-sampling bandits), and their allocation over time.

For every run that passed a random split node of a flow in the period, the outcome is the node's reward
(an order placed, or a human `Email Clicked`, by the contact within the window after the split) and the
revenue of the orders in that window (every order counts, attributed or not, as in `holdout.py`). Per
branch the report gives runs, conversions, conversion rate, revenue and revenue per run, the posterior
probability of being best (Beta-Binomial with a uniform prior, the campaigns' rule, seeded), and the lift
of each branch over the first (the control) with a 95 % interval (Newcombe for rates, Welch for revenue).

Holdout branches are left out: their lift is `holdout.py`'s question. A bandit's branches get unequal
traffic that changes over time, so its later, larger share of runs comes from later days; with `as_of`,
runs whose window has not ended yet are left out of the outcomes (and counted as open) so that the recent
runs of the branch that is winning do not count as failures before they had their chance.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.analytics.stats import Difference, mean_difference, rate_difference
from mailwright.campaigns.abtest import ORDERS, VariantOutcome, probability_best
from mailwright.core.db import in_values
from mailwright.delivery.models import OutboxMessage
from mailwright.events.models import Event
from mailwright.flows.bandit import CLICK_EVENT, branch_label, label_of
from mailwright.flows.models import FlowRun, FlowRunStep, FlowVersion
from mailwright.flows.schemas import FlowDefinition, RandomSplitNode
from mailwright.orders.models import Order

# The Monte Carlo of the probability of being best is seeded, so a report can be reproduced.
SEED = 20261108
_CHUNK = 5000


@dataclass(frozen=True)
class BranchResult:
    """One branch of a split: its runs and what they did in the window."""

    label: str
    runs: int
    conversions: int
    conversion_rate: float
    revenue_minor: int
    revenue_per_run_minor: float
    # None when the split has a single branch with runs.
    probability_best: float | None
    # This branch minus the first (control) branch; None for the first and when a side has too few runs.
    lift: Difference | None
    revenue_lift_minor: Difference | None


@dataclass(frozen=True)
class AllocationDay:
    """Runs sent down each branch on one UTC day."""

    day: date
    runs: dict[str, int]


@dataclass(frozen=True)
class SplitResult:
    """The A/B result of one split node over the period."""

    flow_id: int
    node_id: str
    mode: str
    reward: str
    window_hours: float
    branches: list[BranchResult]
    holdout_runs: int
    # Runs whose window had not ended at `as_of`: in the allocation, not in the outcomes.
    open_runs: int
    allocation: list[AllocationDay]


@dataclass(frozen=True)
class _Unit:
    contact_id: int
    node_id: str
    at: datetime
    label: str
    holdout: bool


def _split_nodes(session: Session, flow_id: int) -> dict[str, RandomSplitNode]:
    """The latest definition of every random split node the flow has had, by node id."""
    nodes: dict[str, RandomSplitNode] = {}
    rows = session.execute(
        select(FlowVersion.definition).where(FlowVersion.flow_id == flow_id).order_by(FlowVersion.version)
    )
    for (data,) in rows:
        for node in FlowDefinition.model_validate(data).nodes:
            if isinstance(node, RandomSplitNode):
                nodes[node.id] = node
    return nodes


def _units(session: Session, flow_id: int, since: datetime, until: datetime) -> list[_Unit]:
    stmt = (
        select(
            FlowRun.contact_id,
            FlowRunStep.node_id,
            FlowRunStep.at,
            FlowRunStep.outcome,
            FlowRunStep.explanation,
        )
        .join(FlowRun, FlowRun.id == FlowRunStep.run_id)
        .where(
            FlowRun.flow_id == flow_id,
            FlowRunStep.action == "split",
            FlowRunStep.at >= since,
            FlowRunStep.at < until,
        )
        .order_by(FlowRunStep.at, FlowRunStep.id)
    )
    return [
        _Unit(contact_id, node_id or "", at, label_of(why), outcome == "holdout")
        for contact_id, node_id, at, outcome, why in session.execute(stmt)
    ]


def _orders(
    session: Session, contacts: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, int]]]:
    found: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for begin in range(0, len(contacts), _CHUNK):
        stmt = select(Order.contact_id, Order.placed_at, Order.total_minor, Order.refunded_minor).where(
            in_values(session, Order.contact_id, contacts[begin : begin + _CHUNK]),
            Order.status != "cancelled",
            Order.placed_at > start,
            Order.placed_at <= end,
        )
        for contact_id, placed_at, total, refunded in session.execute(stmt):
            found[contact_id].append((placed_at, total - refunded))
    return found


def _clicks(
    session: Session, flow_id: int, contacts: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[datetime]]:
    """Human clicks on this flow's emails (the bandit's click reward) per contact."""
    found: dict[int, list[datetime]] = defaultdict(list)
    for begin in range(0, len(contacts), _CHUNK):
        chunk = contacts[begin : begin + _CHUNK]
        own = set(
            session.scalars(
                select(OutboxMessage.public_id).where(
                    in_values(session, OutboxMessage.contact_id, chunk),
                    OutboxMessage.source_kind == "flow",
                    OutboxMessage.source_id.like(f"{flow_id}:%"),
                )
            )
        )
        stmt = select(Event.contact_id, Event.occurred_at, Event.properties).where(
            in_values(session, Event.contact_id, chunk),
            Event.name == CLICK_EVENT,
            Event.occurred_at > start,
            Event.occurred_at <= end,
        )
        for contact_id, occurred_at, properties in session.execute(stmt):
            props = properties or {}
            # Bot clicks (link scanners) never count, as in every other click figure.
            if not props.get("bot") and props.get("message_id") in own:
                found[contact_id].append(occurred_at)
    return found


def _branches(labels: Sequence[str], outcomes: dict[str, list[tuple[int, int]]]) -> list[BranchResult]:
    """Per branch figures, probability of being best and lift over the first branch."""
    with_runs = [label for label in labels if outcomes[label]]
    probabilities: dict[str, float] = {}
    if len(with_runs) >= 2:
        probabilities = probability_best(
            [
                VariantOutcome(label, len(outcomes[label]), sum(c for c, _ in outcomes[label]))
                for label in with_runs
            ],
            ORDERS,
            seed=SEED,
        )
    control = outcomes[labels[0]] if labels else []
    results = []
    for index, label in enumerate(labels):
        rows = outcomes[label]
        n = len(rows)
        conversions = sum(c for c, _ in rows)
        revenue = sum(r for _, r in rows)
        lift = revenue_lift = None
        if index > 0 and n and control:
            lift = rate_difference(conversions, n, sum(c for c, _ in control), len(control))
            if n >= 2 and len(control) >= 2:
                revenue_lift = mean_difference(
                    np.array([r for _, r in rows], dtype=float),
                    np.array([r for _, r in control], dtype=float),
                )
        results.append(
            BranchResult(
                label=label,
                runs=n,
                conversions=conversions,
                conversion_rate=conversions / n if n else 0.0,
                revenue_minor=revenue,
                revenue_per_run_minor=revenue / n if n else 0.0,
                probability_best=probabilities.get(label),
                lift=lift,
                revenue_lift_minor=revenue_lift,
            )
        )
    return results


def _labels(node: RandomSplitNode | None, units: Sequence[_Unit]) -> list[str]:
    # The current definition's order first (its first branch is the control), then labels only older
    # versions had, in the order they first appear.
    labels = [branch_label(b) for b in node.branches if not b.holdout] if node else []
    for unit in units:
        if not unit.holdout and unit.label not in labels:
            labels.append(unit.label)
    return labels


def split_results(
    session: Session,
    flow_id: int,
    *,
    since: datetime,
    until: datetime,
    window_days: float | None = None,
    as_of: datetime | None = None,
) -> list[SplitResult]:
    """The A/B result of every random split node of a flow whose runs split in [since, until).

    `window_days` overrides each node's own reward window; with `as_of`, runs whose window had not ended
    by then are counted as open instead of as not converted.
    """
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    if window_days is not None and window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    units = _units(session, flow_id, since, until)
    if not units:
        return []
    nodes = _split_nodes(session, flow_id)
    by_node: dict[str, list[_Unit]] = defaultdict(list)
    for unit in units:
        by_node[unit.node_id].append(unit)
    longest = max(
        window_days * 24 if window_days is not None else (nodes[n].reward_window_hours if n in nodes else 72)
        for n in by_node
    )
    contacts = sorted({u.contact_id for u in units})
    start, end = min(u.at for u in units), max(u.at for u in units) + timedelta(hours=longest)
    orders = _orders(session, contacts, start, end)
    needs_clicks = any(nodes[n].reward == "click" for n in by_node if n in nodes)
    clicks = _clicks(session, flow_id, contacts, start, end) if needs_clicks else {}
    order = [n.id for n in nodes.values()]
    results = []
    for node_id in sorted(by_node, key=lambda n: (order.index(n) if n in order else len(order), n)):
        node = nodes.get(node_id)
        node_units = by_node[node_id]
        reward = node.reward if node else "order"
        hours = window_days * 24 if window_days is not None else (node.reward_window_hours if node else 72)
        window = timedelta(hours=hours)
        labels = _labels(node, node_units)
        outcomes: dict[str, list[tuple[int, int]]] = {label: [] for label in labels}
        per_day: dict[date, dict[str, int]] = {}
        open_runs = 0
        for unit in node_units:
            if unit.holdout:
                continue
            day = per_day.setdefault(unit.at.date(), dict.fromkeys(labels, 0))
            day[unit.label] += 1
            if as_of is not None and unit.at + window > as_of:
                open_runs += 1
                continue
            inside = [
                m for placed, m in orders.get(unit.contact_id, []) if unit.at < placed <= unit.at + window
            ]
            if reward == "click":
                converted = any(unit.at < c <= unit.at + window for c in clicks.get(unit.contact_id, []))
            else:
                converted = bool(inside)
            outcomes[unit.label].append((int(converted), sum(inside)))
        results.append(
            SplitResult(
                flow_id=flow_id,
                node_id=node_id,
                mode=node.mode if node else "fixed",
                reward=reward,
                window_hours=hours,
                branches=_branches(labels, outcomes),
                holdout_runs=sum(1 for u in node_units if u.holdout),
                open_runs=open_runs,
                allocation=[AllocationDay(d, per_day[d]) for d in sorted(per_day)],
            )
        )
    return results


def as_dict(result: SplitResult) -> dict[str, Any]:
    """A JSON-ready form of one split result (for the API and `--json`)."""

    def difference(value: Difference | None) -> dict[str, float | None] | None:
        if value is None:
            return None
        return {
            "treated": value.treated,
            "control": value.control,
            "difference": value.difference,
            "low": value.low,
            "high": value.high,
            "relative": value.relative_lift(),
        }

    return {
        "flow_id": result.flow_id,
        "node_id": result.node_id,
        "mode": result.mode,
        "reward": result.reward,
        "window_hours": result.window_hours,
        "holdout_runs": result.holdout_runs,
        "open_runs": result.open_runs,
        "branches": [
            {
                "label": b.label,
                "runs": b.runs,
                "conversions": b.conversions,
                "conversion_rate": b.conversion_rate,
                "revenue_minor": b.revenue_minor,
                "revenue_per_run_minor": b.revenue_per_run_minor,
                "probability_best": b.probability_best,
                "lift": difference(b.lift),
                "revenue_lift_minor": difference(b.revenue_lift_minor),
            }
            for b in result.branches
        ],
        "allocation": [{"day": a.day.isoformat(), "runs": dict(a.runs)} for a in result.allocation],
    }
