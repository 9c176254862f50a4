"""The demo's last step: recipients react to the replayed mail (synthetic), then the report checks itself.

The shop's real orders happened without any email, so the reactions come from the documented response
model (`analytics.simulation`), day by day during the replay: the cart flow's bandit learns from those
clicks while it runs. At the end the report is built exactly as `mailwright report` builds it, and because
the model knows every order it caused, each flow's holdout estimate is compared with the true effect.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mailwright.analytics import holdout
from mailwright.analytics.report_html import write_html
from mailwright.analytics.schemas import Report
from mailwright.analytics.service import build_report
from mailwright.analytics.simulation import CausedOrder, ResponseModel, SimulationResult, simulate_responses
from mailwright.core.clock import ManualClock
from mailwright.core.settings import Settings
from mailwright.core.uow import open_unit_of_work

# The demo's assumption for its A/B test: a discount in the first cart reminder is clicked twice as
# often as a plain reminder (the bandit and the report must find that difference, not be told it).
DEMO_MODEL = ResponseModel(click_lift={"abandoned_cart_2": 2.0})
SYNTHETIC_NOTE = (
    "Synthetic reactions: the shop's real orders happened without any email, so the opens, clicks and the "
    "orders the emails caused come from the demo's response model (machine opens {machine:.0%}, human opens "
    "{open:.0%}, clicks {click:.0%} of opens, x{lift:g} for the discount reminder, an order for {order:.0%} of "
    "clicks). True effect put in: {caused} orders, {revenue} {currency}."
)


@dataclass(frozen=True)
class LiftCheck:
    """One flow's holdout estimate next to the true effect the response model put in."""

    flow: str
    n_sent: int
    n_holdout: int
    conversion: tuple[float, float, float] | None
    true_conversion: float
    revenue_per_recipient_minor: tuple[float, float, float] | None
    true_revenue_per_recipient_minor: float
    caused_orders: int

    @property
    def covered(self) -> bool | None:
        """Whether both 95 % intervals contain the true effect (None without an estimate)."""
        if self.conversion is None or self.revenue_per_recipient_minor is None:
            return None
        _, low, high = self.conversion
        _, r_low, r_high = self.revenue_per_recipient_minor
        return (
            low <= self.true_conversion <= high and r_low <= self.true_revenue_per_recipient_minor <= r_high
        )


@dataclass
class MeasuredDemo:
    """The demo's report, the truth behind it and where the HTML is."""

    report: Report
    truth: SimulationResult
    checks: list[LiftCheck]
    html: Path


class Responder:
    """The response model run after each delivery pass of the replay, on the mail that pass sent."""

    def __init__(self, database: Any, model: ResponseModel, *, currency: str, horizon: datetime) -> None:
        self.database = database
        self.model = model
        self.currency = currency
        self.horizon = horizon
        self.truth = SimulationResult()

    def __call__(self, since: datetime, until: datetime) -> None:
        """React to the messages sent in [since, until); caused orders may fall later, up to the horizon."""
        with open_unit_of_work(self.database, ManualClock(until)) as uow:
            day = simulate_responses(
                uow, since, until, self.model, currency=self.currency, horizon=self.horizon
            )
        self.truth.add(day)


def true_lift(
    session: Any,
    flow_id: int,
    caused: Sequence[CausedOrder],
    *,
    since: datetime,
    until: datetime,
    window_days: int,
    revenue_cap_minor: float | None = None,
) -> tuple[float, float, int]:
    """The effect the model put into a flow's sent group: conversion and revenue per recipient, orders.

    A sent contact's conversion is due to the flow when every order in its window is one the flow's mail
    caused; its extra revenue is what those caused orders add to its revenue, capped as the report caps it.
    """
    units = [u for u in holdout.units(session, flow_id, since, until) if not u.held_out]
    if not units:
        return 0.0, 0.0, 0
    window = timedelta(days=window_days)
    mine: dict[int, list[CausedOrder]] = defaultdict(list)
    for order in caused:
        if order.flow_id == str(flow_id):
            mine[order.contact_id].append(order)
    orders = holdout.orders_after(session, units, window)
    cap = float("inf") if revenue_cap_minor is None else revenue_cap_minor
    converted_by_flow = 0
    revenue = 0.0
    counted = 0
    for unit in units:
        inside = [(p, m) for p, m in orders.get(unit.contact_id, []) if holdout.in_window(unit, p, window)]
        own = [o for o in mine.get(unit.contact_id, []) if holdout.in_window(unit, o.placed_at, window)]
        if inside and len(inside) == len(own):
            converted_by_flow += 1
        total = sum(m for _, m in inside)
        added = sum(o.value_minor for o in own)
        revenue += min(total, cap) - min(total - added, cap)
        counted += len(own)
    return converted_by_flow / len(units), revenue / len(units), counted


def measure(
    database: Any,
    settings: Settings,
    responder: Responder,
    *,
    since: datetime,
    until: datetime,
    html: Path,
    extra_images: Sequence[tuple[str, Path]] = (),
) -> MeasuredDemo:
    """Build the report for the replayed period, check each flow's lift against the truth, write the HTML."""
    with open_unit_of_work(database, ManualClock(until)) as uow:
        report = build_report(uow, settings, since=since, until=until)
        checks = []
        for lift in report.lifts:
            true_conversion, true_revenue, caused = true_lift(
                uow.session,
                lift.flow_id,
                responder.truth.caused,
                since=since,
                until=until,
                window_days=lift.window_days,
                revenue_cap_minor=lift.revenue_cap_minor,
            )
            conversion = lift.conversion
            revenue = lift.revenue_per_recipient_minor
            checks.append(
                LiftCheck(
                    flow=lift.flow,
                    n_sent=lift.n_sent,
                    n_holdout=lift.n_holdout,
                    conversion=(conversion["difference"], conversion["low"], conversion["high"])
                    if conversion
                    else None,
                    true_conversion=true_conversion,
                    revenue_per_recipient_minor=(revenue["difference"], revenue["low"], revenue["high"])
                    if revenue
                    else None,
                    true_revenue_per_recipient_minor=true_revenue,
                    caused_orders=caused,
                )
            )
    model = responder.model
    note = SYNTHETIC_NOTE.format(
        machine=model.machine_open_rate,
        open=model.open_rate,
        click=model.click_rate,
        lift=max(model.click_lift.values(), default=1.0),
        order=model.order_rate,
        caused=responder.truth.caused_orders,
        revenue=f"{responder.truth.caused_revenue_minor / 100:,.2f}",
        currency=report.currency,
    )
    path = write_html(report, html, synthetic_note=note, extra_images=extra_images)
    return MeasuredDemo(report=report, truth=responder.truth, checks=checks, html=path)
