"""Lifecycle stages (new, active, at risk, churned) with thresholds learned from the shop's own rhythm.

How a customer is staged, as of a moment `as_of` (whole days, UTC):

- **churned**: no order for at least `churned_days`;
- **at_risk**: no order for at least `at_risk_days` (and not churned);
- **new**: exactly one order, placed less than `new_days` ago;
- **active**: every other customer with orders.

A contact without orders has no stage (it is a prospect, not a customer).

The thresholds are learned from the shop's inter-purchase times. For each *repeat customer* (two or more
distinct order days up to `as_of`; several orders on one day count once, as the purchase literature
merges same-day transactions) we take the median number of days between consecutive order days; `m` is
the median of those per-customer medians (a per-customer median first, so that a few very frequent
buyers do not drag the shop's rhythm down). Then:

- `at_risk_days = 2m`, clamped to 14..365 days;
- `churned_days = 4m`, clamped to 28..730 days and at least `at_risk_days + 14`;
- `new_days = m`, clamped to 7..`at_risk_days`.

With fewer than `MIN_REPEAT_CUSTOMERS` (50) repeat customers the median is not trusted and the
defaults 40 / 90 / 180 days (new / at risk / churned) serve instead; the thresholds say which was used
and why (`source`, `reason`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import BigInteger, ColumnElement, cast, func, select
from sqlalchemy.orm import Session

from mailwright.core.db import table_of
from mailwright.orders.models import Order
from mailwright.segments.rfm_schemas import LifecycleThresholdsOut

STAGES = ("new", "active", "at_risk", "churned")
DEFAULT_NEW_DAYS, DEFAULT_AT_RISK_DAYS, DEFAULT_CHURNED_DAYS = 40, 90, 180
MIN_REPEAT_CUSTOMERS = 50
# Orders that did not stand say nothing about when a customer buys.
NOT_COUNTED = ("cancelled", "refunded")
SECONDS_PER_DAY = 86_400

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class OrderDays:
    """Each standing order as (contact id, UTC day number since the epoch), sorted by contact then day."""

    contact_ids: IntArray
    days: IntArray


def day_number(moment: datetime) -> int:
    """Whole days since 1970-01-01 of an aware datetime (UTC)."""
    return int(moment.timestamp() // SECONDS_PER_DAY)


def day_expression(session: Session, column: ColumnElement[Any]) -> ColumnElement[int]:
    """Whole UTC days since 1970-01-01 of a timestamp column, computed by the database (same on both)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / SECONDS_PER_DAY), BigInteger)
    # SQLite stores naive UTC text; julianday 2440587.5 is 1970-01-01 00:00.
    return cast(func.floor(func.julianday(column) - 2440587.5), BigInteger)


def load_order_days(session: Session, as_of: datetime) -> OrderDays:
    """The contact and day of every standing order placed up to `as_of` (one query)."""
    orders = table_of(Order)
    rows = session.execute(
        select(orders.c.contact_id, day_expression(session, orders.c.placed_at)).where(
            orders.c.status.not_in(NOT_COUNTED), orders.c.placed_at <= as_of
        )
    ).all()
    pairs = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=2 * len(rows)).reshape(-1, 2)
    contact_ids, days = pairs[:, 0], pairs[:, 1]
    order = np.lexsort((days, contact_ids))
    return OrderDays(contact_ids=contact_ids[order], days=days[order])


def customer_median_gaps(order_days: OrderDays) -> npt.NDArray[np.float64]:
    """Per repeat customer, the median days between consecutive distinct order days."""
    ids, days = order_days.contact_ids, order_days.days
    if len(ids) < 2:
        return np.empty(0, dtype=np.float64)
    # Distinct (contact, day) pairs: several orders on one day are one purchase occasion.
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])
    ids, days = ids[keep], days[keep]
    same = ids[1:] == ids[:-1]
    gaps = (days[1:] - days[:-1])[same].astype(np.float64)
    owners = ids[1:][same]
    if len(gaps) == 0:
        return np.empty(0, dtype=np.float64)
    # Median per owner without a Python loop: sort gaps within each owner, then pick the middle one(s).
    order = np.lexsort((gaps, owners))
    gaps, owners = gaps[order], owners[order]
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    counts = np.diff(np.r_[starts, len(owners)])
    low = gaps[starts + (counts - 1) // 2]
    high = gaps[starts + counts // 2]
    result: npt.NDArray[np.float64] = (low + high) / 2.0
    return result


def _clamp(value: float, low: int, high: int) -> int:
    return int(min(max(round(value), low), high))


def learn_thresholds(median_gaps: npt.NDArray[np.float64]) -> LifecycleThresholdsOut:
    """Thresholds from per-customer median gaps, or the named defaults when there are too few repeat customers."""
    repeat = len(median_gaps)
    if repeat < MIN_REPEAT_CUSTOMERS:
        return LifecycleThresholdsOut(
            new_days=DEFAULT_NEW_DAYS,
            at_risk_days=DEFAULT_AT_RISK_DAYS,
            churned_days=DEFAULT_CHURNED_DAYS,
            source="default",
            median_gap_days=float(np.median(median_gaps)) if repeat else None,
            repeat_customers=repeat,
            reason=(
                f"only {repeat} repeat customer(s), fewer than {MIN_REPEAT_CUSTOMERS}: "
                f"defaults {DEFAULT_NEW_DAYS} / {DEFAULT_AT_RISK_DAYS} / {DEFAULT_CHURNED_DAYS} days"
            ),
        )
    median = float(np.median(median_gaps))
    at_risk = _clamp(2 * median, 14, 365)
    churned = max(_clamp(4 * median, 28, 730), at_risk + 14)
    new = _clamp(median, 7, at_risk)
    return LifecycleThresholdsOut(
        new_days=new,
        at_risk_days=at_risk,
        churned_days=churned,
        source="learned",
        median_gap_days=round(median, 2),
        repeat_customers=repeat,
        reason=(
            f"median gap {median:.1f} days over {repeat} repeat customers: "
            "new < 1x, at risk >= 2x, churned >= 4x (clamped)"
        ),
    )


def thresholds_as_of(session: Session, as_of: datetime) -> LifecycleThresholdsOut:
    """The shop's lifecycle thresholds learned from its orders up to `as_of`."""
    return learn_thresholds(customer_median_gaps(load_order_days(session, as_of)))


def stages(
    thresholds: LifecycleThresholdsOut,
    order_count: IntArray,
    days_since_first: IntArray,
    days_since_last: IntArray,
) -> list[str]:
    """The stage of each customer (arrays aligned; every customer has at least one order)."""
    result = np.full(len(order_count), "active", dtype=object)
    result[(order_count == 1) & (days_since_first < thresholds.new_days)] = "new"
    result[days_since_last >= thresholds.at_risk_days] = "at_risk"
    result[days_since_last >= thresholds.churned_days] = "churned"
    return [str(s) for s in result]


def stage_of(
    thresholds: LifecycleThresholdsOut, order_count: int, days_since_first: int, days_since_last: int
) -> str | None:
    """The stage of one customer; None for a contact without orders."""
    if order_count <= 0:
        return None
    return stages(
        thresholds,
        np.array([order_count], dtype=np.int64),
        np.array([days_since_first], dtype=np.int64),
        np.array([days_since_last], dtype=np.int64),
    )[0]
