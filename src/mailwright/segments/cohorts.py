"""Acquisition cohorts: customers grouped by the month (or quarter) of their first order, followed over time.

A customer's cohort is the calendar period (UTC) of their first standing order; period k of a cohort is
the k-th calendar period after it (k = 0 is the acquisition period itself). Three metrics:

- `retention`: the share of the cohort's customers who ordered in period k. Period 0 is 100 % by
  definition; period 1 onwards is the share that came back and ordered again in that period.
- `revenue`: revenue in period k divided by the cohort's size (every customer acquired, not only those
  who came back): revenue per customer **in that period**, not cumulative.
- `cumulative_revenue`: the same summed over periods 0..k: revenue per customer **up to** period k.

Cells the cohort has not lived through yet (after `as_of`) are None; the last one observed may be a
period still in progress. Money is in major units of the shop currency.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import chain
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from babel.numbers import get_currency_precision
from pydantic import BaseModel
from sqlalchemy import BigInteger, ColumnElement, cast, func, select
from sqlalchemy.orm import Session

from mailwright.core.db import table_of
from mailwright.core.errors import InvalidInput
from mailwright.orders.models import Order
from mailwright.segments.lifecycle import NOT_COUNTED

Metric = Literal["retention", "revenue", "cumulative_revenue"]
Period = Literal["month", "quarter"]
METRICS: tuple[Metric, ...] = ("retention", "revenue", "cumulative_revenue")
PERIODS: tuple[Period, ...] = ("month", "quarter")
LABELS: dict[Metric, str] = {
    "retention": "share of the cohort's customers who ordered in period k (period 0: acquisition, 100 %)",
    "revenue": "revenue per cohort customer in period k (per period, not cumulative)",
    "cumulative_revenue": "cumulative revenue per cohort customer up to period k",
}

IntArray = npt.NDArray[np.int64]


class CohortRow(BaseModel):
    """One acquisition cohort: its period, how many customers it acquired, and the metric per period k."""

    cohort: str
    customers: int
    values: list[float | None]


class CohortTable(BaseModel):
    """Cohorts x periods since the first order, for one metric."""

    metric: Metric
    period: Period
    label: str
    as_of: datetime
    currency: str | None
    periods: int
    cohorts: list[CohortRow]


def period_index(year: IntArray, month: IntArray, period: Period) -> IntArray:
    """A running number of calendar months or quarters (consecutive periods differ by one)."""
    if period == "month":
        return year * 12 + (month - 1)
    return year * 4 + (month - 1) // 3


def period_label(index: int, period: Period) -> str:
    """'2011-03' for a month, '2011-Q1' for a quarter."""
    if period == "month":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    return f"{index // 4:04d}-Q{index % 4 + 1}"


def build_table(
    contact_ids: IntArray,
    period_of_order: IntArray,
    total_minor: IntArray,
    *,
    as_of_period: int,
    as_of: datetime,
    metric: Metric,
    period: Period,
    currency: str | None,
) -> CohortTable:
    """The cohort table from aligned arrays of orders (contact, period index, total in minor units)."""
    _check(metric, period)
    if len(contact_ids) == 0:
        return CohortTable(
            metric=metric,
            period=period,
            label=LABELS[metric],
            as_of=as_of,
            currency=currency,
            periods=0,
            cohorts=[],
        )
    customers, owner = np.unique(contact_ids, return_inverse=True)
    first = np.full(len(customers), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, owner, period_of_order)
    cohort_of_order = first[owner]
    offset = period_of_order - cohort_of_order
    cohorts, cohort_sizes = np.unique(first, return_counts=True)
    width = int(as_of_period - cohorts.min()) + 1
    row_of = {int(c): i for i, c in enumerate(cohorts.tolist())}
    rows = np.array([row_of[int(c)] for c in cohort_of_order.tolist()], dtype=np.int64)
    grid = np.zeros((len(cohorts), width), dtype=np.float64)
    if metric == "retention":
        # Each customer counts once per period however many orders they placed in it.
        pairs = np.unique(np.stack([owner, offset]), axis=1)
        np.add.at(grid, (row_of_customers(first, row_of)[pairs[0]], pairs[1]), 1.0)
        grid = grid / cohort_sizes[:, None]
    else:
        np.add.at(grid, (rows, offset), total_minor.astype(np.float64))
        grid = grid / cohort_sizes[:, None]
        if metric == "cumulative_revenue":
            grid = np.cumsum(grid, axis=1)
    result: list[CohortRow] = []
    for i, cohort in enumerate(cohorts.tolist()):
        observed = int(as_of_period - cohort) + 1
        values: list[float | None] = []
        for k in range(width):
            if k >= observed:
                values.append(None)
            elif metric == "retention":
                values.append(round(float(grid[i, k]), 4))
            else:
                values.append(_major(float(grid[i, k]), currency))
        result.append(
            CohortRow(cohort=period_label(int(cohort), period), customers=int(cohort_sizes[i]), values=values)
        )
    return CohortTable(
        metric=metric,
        period=period,
        label=LABELS[metric],
        as_of=as_of,
        currency=currency,
        periods=width,
        cohorts=result,
    )


def row_of_customers(first: IntArray, row_of: dict[int, int]) -> IntArray:
    """The table row (cohort) of each customer, from their first period."""
    return np.array([row_of[int(c)] for c in first.tolist()], dtype=np.int64)


def _major(minor: float, currency: str | None) -> float:
    # Per-customer averages are fractions of a minor unit: round to the currency's precision at the end.
    digits: int = get_currency_precision(currency or "GBP")
    return round(minor / float(10**digits), digits)


def _check(metric: str, period: str) -> None:
    if metric not in METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(METRICS)}, not {metric!r}", field="metric")
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, not {period!r}", field="period")


def month_expression(session: Session, column: ColumnElement[Any]) -> ColumnElement[int]:
    """year * 12 + month - 1 of a timestamp column in UTC, computed by the database (same on both)."""
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone("UTC", column)
        return cast(func.extract("year", utc) * 12 + func.extract("month", utc) - 1, BigInteger)
    # SQLite stores naive UTC text.
    year = cast(func.strftime("%Y", column), BigInteger)
    return cast(year * 12 + cast(func.strftime("%m", column), BigInteger) - 1, BigInteger)


def cohort_table(
    session: Session,
    as_of: datetime,
    *,
    metric: Metric = "retention",
    period: Period = "month",
    currency: str | None = None,
) -> CohortTable:
    """The shop's cohort table from its standing orders placed up to `as_of` (one query)."""
    _check(metric, period)
    orders = table_of(Order)
    standing = (orders.c.status.not_in(NOT_COUNTED), orders.c.placed_at <= as_of)
    rows = session.execute(
        select(
            orders.c.contact_id, month_expression(session, orders.c.placed_at), orders.c.total_minor
        ).where(*standing)
    ).all()
    columns = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=3 * len(rows)).reshape(-1, 3)
    if currency is None:
        # The currency most orders are in; amounts in others are summed as if they were in it.
        currency = session.scalar(
            select(orders.c.currency)
            .where(*standing)
            .group_by(orders.c.currency)
            .order_by(func.count().desc())
            .limit(1)
        )
    moment = as_of.astimezone(UTC)
    months = columns[:, 1]
    return build_table(
        columns[:, 0],
        period_index(months // 12, months % 12 + 1, period),
        columns[:, 2],
        as_of_period=int(period_index(np.array([moment.year]), np.array([moment.month]), period)[0]),
        as_of=as_of,
        metric=metric,
        period=period,
        currency=currency,
    )
