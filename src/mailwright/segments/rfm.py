"""RFM: recency, frequency and monetary quintile scores per customer, and the named R x FM map.

Inputs are the contact roll-ups kept current by ingestion: `last_order_at` (recency, in whole UTC days
before the moment of scoring), `order_count` (frequency) and `revenue_minor` (monetary). Contacts
without orders get no scores. Each score is 1..5, 5 best (most recent, most orders, most revenue).

**Quintiles and ties.** For a customer with value v among n customers, with b = how many customers
have a strictly worse value:  score = 1 + floor(5 * b / n). Equal values always get the same score (a
tie group takes the score of its lowest position, SQL `RANK()` semantics), a strictly better value never
gets a lower score, and without ties each score holds n/5 customers (rounded down or up). With heavy
ties (most customers of a young shop have one order) a score can be empty: we prefer that to splitting
identical customers between two scores by an arbitrary order. The rule is computed in numpy from one
query, so it is identical on SQLite and PostgreSQL.

**The named map.** The widely used R x FM grid (Putler's RFM chart, also behind the "RFM segmentation"
maps of many analytics notebooks): FM = round-half-up((F + M) / 2), and

    R \\ FM   1                2                  3                  4                 5
    5        New customers    Potential loyalist Potential loyalist Champions         Champions
    4        Promising        Potential loyalist Potential loyalist Champions         Champions
    3        About to sleep   About to sleep     Need attention     Loyal             Loyal
    2        Hibernating      Hibernating        At risk            At risk           Can't lose them
    1        Lost             Lost               At risk            Can't lose them   Can't lose them

Every one of the 25 cells has a name, so the map is total: every scored customer has a segment.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.core.db import table_of
from mailwright.core.uow import UnitOfWork
from mailwright.segments import lifecycle
from mailwright.segments.rfm_schemas import (
    LifecycleThresholdsOut,
    NamedSegmentFigures,
    RfmSummary,
    ScoreDistribution,
    StageFigures,
)

CHAMPIONS = "Champions"
LOYAL = "Loyal"
POTENTIAL_LOYALIST = "Potential loyalist"
NEW_CUSTOMERS = "New customers"
PROMISING = "Promising"
NEED_ATTENTION = "Need attention"
ABOUT_TO_SLEEP = "About to sleep"
AT_RISK = "At risk"
CANT_LOSE_THEM = "Can't lose them"
HIBERNATING = "Hibernating"
LOST = "Lost"
# Best first: the order tables and charts show them in.
SEGMENT_NAMES = (
    CHAMPIONS,
    LOYAL,
    POTENTIAL_LOYALIST,
    NEW_CUSTOMERS,
    PROMISING,
    NEED_ATTENTION,
    ABOUT_TO_SLEEP,
    AT_RISK,
    CANT_LOSE_THEM,
    HIBERNATING,
    LOST,
)
# GRID[r - 1][fm - 1]: the named segment of recency score r and combined frequency-monetary score fm.
GRID: tuple[tuple[str, ...], ...] = (
    (LOST, LOST, AT_RISK, CANT_LOSE_THEM, CANT_LOSE_THEM),
    (HIBERNATING, HIBERNATING, AT_RISK, AT_RISK, CANT_LOSE_THEM),
    (ABOUT_TO_SLEEP, ABOUT_TO_SLEEP, NEED_ATTENTION, LOYAL, LOYAL),
    (PROMISING, POTENTIAL_LOYALIST, POTENTIAL_LOYALIST, CHAMPIONS, CHAMPIONS),
    (NEW_CUSTOMERS, POTENTIAL_LOYALIST, POTENTIAL_LOYALIST, CHAMPIONS, CHAMPIONS),
)

IntArray = npt.NDArray[np.int64]


def quintile_scores(values: npt.ArrayLike) -> IntArray:
    """Scores 1..5 (higher value, higher score): 1 + floor(5 * strictly-lower count / n); ties share a score."""
    array = np.asarray(values)
    n = len(array)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    below = np.searchsorted(np.sort(array, kind="stable"), array, side="left").astype(np.int64)
    return 1 + (5 * below) // n


def fm_score(frequency: int, monetary: int) -> int:
    """The combined FM score: the mean of F and M, halves rounded up."""
    return (frequency + monetary + 1) // 2


def segment_name(recency: int, frequency: int, monetary: int) -> str:
    """The named RFM segment of three scores 1..5."""
    for label, score in (("recency", recency), ("frequency", frequency), ("monetary", monetary)):
        if not 1 <= score <= 5:
            raise ValueError(f"{label} score {score} is outside 1..5")
    return GRID[recency - 1][fm_score(frequency, monetary) - 1]


@dataclass(frozen=True)
class CustomerRollups:
    """Aligned arrays of every live contact with orders: its roll-ups as day numbers and amounts."""

    contact_ids: IntArray
    order_count: IntArray
    revenue_minor: IntArray
    first_order_day: IntArray
    last_order_day: IntArray


def load_customers(session: Session) -> CustomerRollups:
    """The roll-ups of every live contact that has ordered (one query; days computed by the database)."""
    table = table_of(Contact)
    rows = session.execute(
        select(
            table.c.id,
            table.c.order_count,
            table.c.revenue_minor,
            lifecycle.day_expression(session, func.coalesce(table.c.first_order_at, table.c.last_order_at)),
            lifecycle.day_expression(session, table.c.last_order_at),
        ).where(
            table.c.merged_into_id.is_(None),
            table.c.order_count > 0,
            table.c.last_order_at.is_not(None),
        )
    ).all()
    columns = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=5 * len(rows)).reshape(-1, 5)
    return CustomerRollups(
        contact_ids=columns[:, 0],
        order_count=columns[:, 1],
        revenue_minor=columns[:, 2],
        first_order_day=columns[:, 3],
        last_order_day=columns[:, 4],
    )


def score(
    customers: CustomerRollups, as_of: datetime, thresholds: LifecycleThresholdsOut
) -> list[contacts.RfmRow]:
    """RFM scores, named segment and lifecycle stage of every customer as of a moment."""
    today = lifecycle.day_number(as_of)
    # An order after `as_of` (scoring a historical moment of a live shop) counts as placed today.
    since_last = np.maximum(today - customers.last_order_day, 0)
    since_first = np.maximum(today - customers.first_order_day, 0)
    recency = quintile_scores(-since_last)
    frequency = quintile_scores(customers.order_count)
    monetary = quintile_scores(customers.revenue_minor)
    stage = lifecycle.stages(thresholds, customers.order_count, since_first, since_last)
    return [
        contacts.RfmRow(
            contact_id=int(contact_id),
            recency=int(r),
            frequency=int(f),
            monetary=int(m),
            segment=GRID[int(r) - 1][fm_score(int(f), int(m)) - 1],
            lifecycle_stage=s,
        )
        for contact_id, r, f, m, s in zip(
            customers.contact_ids.tolist(),
            recency.tolist(),
            frequency.tolist(),
            monetary.tolist(),
            stage,
            strict=True,
        )
    ]


@dataclass(frozen=True)
class RfmRun:
    """What one recomputation did."""

    computed_at: datetime
    customers_scored: int
    thresholds: LifecycleThresholdsOut
    seconds: float


def recompute(session: Session, as_of: datetime) -> RfmRun:
    """Score every customer as of `as_of` and store scores, segments and stages on the profiles."""
    started = time.perf_counter()
    thresholds = lifecycle.thresholds_as_of(session, as_of)
    rows = score(load_customers(session), as_of, thresholds)
    written = contacts.store_rfm(session, rows, as_of)
    return RfmRun(
        computed_at=as_of,
        customers_scored=written,
        thresholds=thresholds,
        seconds=round(time.perf_counter() - started, 3),
    )


def summary(
    session: Session, currency: str, *, thresholds: LifecycleThresholdsOut | None = None
) -> RfmSummary:
    """Counts and revenue per named segment, the score distribution and lifecycle stages, as stored.

    The thresholds are those of the last run when given; otherwise they are learned again from the
    orders up to the stored `rfm_computed_at`, which gives the same figures the run used.
    """
    table = table_of(Contact)
    scored = table.c.rfm_segment.is_not(None)
    computed_at = session.scalar(select(func.max(table.c.rfm_computed_at)).where(scored))
    by_segment = {
        str(name): (int(n), int(revenue or 0))
        for name, n, revenue in session.execute(
            select(table.c.rfm_segment, func.count(), func.sum(table.c.revenue_minor))
            .where(scored)
            .group_by(table.c.rfm_segment)
        )
    }
    total = sum(n for n, _ in by_segment.values())
    total_revenue = sum(r for _, r in by_segment.values())
    segments = [
        NamedSegmentFigures(
            name=name,
            customers=by_segment.get(name, (0, 0))[0],
            share=round(by_segment.get(name, (0, 0))[0] / total, 4) if total else 0.0,
            revenue_minor=by_segment.get(name, (0, 0))[1],
            revenue_share=round(by_segment.get(name, (0, 0))[1] / total_revenue, 4) if total_revenue else 0.0,
        )
        for name in SEGMENT_NAMES
    ]
    cells: Counter[tuple[int, int, int]] = Counter(
        {
            (int(r), int(f), int(m)): int(n)
            for r, f, m, n in session.execute(
                select(table.c.rfm_recency, table.c.rfm_frequency, table.c.rfm_monetary, func.count())
                .where(scored)
                .group_by(table.c.rfm_recency, table.c.rfm_frequency, table.c.rfm_monetary)
            )
        }
    )
    distribution = ScoreDistribution(
        recency=[sum(n for (r, _, _), n in cells.items() if r == s) for s in range(1, 6)],
        frequency=[sum(n for (_, f, _), n in cells.items() if f == s) for s in range(1, 6)],
        monetary=[sum(n for (_, _, m), n in cells.items() if m == s) for s in range(1, 6)],
        r_by_fm=[
            [
                sum(n for (r, f, m), n in cells.items() if r == rs and fm_score(f, m) == fms)
                for fms in range(1, 6)
            ]
            for rs in range(1, 6)
        ],
    )
    by_stage = {
        str(stage): int(n)
        for stage, n in session.execute(
            select(table.c.lifecycle_stage, func.count())
            .where(table.c.lifecycle_stage.is_not(None))
            .group_by(table.c.lifecycle_stage)
        )
    }
    staged = sum(by_stage.values())
    stages = [
        StageFigures(
            stage=stage,
            customers=by_stage.get(stage, 0),
            share=round(by_stage.get(stage, 0) / staged, 4) if staged else 0.0,
        )
        for stage in lifecycle.STAGES
    ]
    if thresholds is None and computed_at is not None:
        thresholds = lifecycle.thresholds_as_of(session, computed_at)
    return RfmSummary(
        computed_at=computed_at,
        customers_scored=total,
        currency=currency,
        segments=segments,
        scores=distribution,
        lifecycle=stages,
        thresholds=thresholds,
    )


def refresh_rfm(uow: UnitOfWork, as_of: datetime | None = None) -> RfmRun:
    """Recompute and store RFM and lifecycle stages as of the clock (or `as_of`), then the segments using them."""
    run = recompute(uow.session, as_of or uow.now())
    refresh_dependent_segments(uow)
    return run


def refresh_dependent_segments(uow: UnitOfWork) -> None:
    """Re-evaluate segment membership now that RFM segments and lifecycle stages have moved.

    Every enabled segment is recomputed (a full recompute takes seconds); those reading `rfm_segment`,
    `lifecycle_stage` or an RFM score are among them, so they never lag a day behind the scores.
    """
    # Imported when used: membership pulls in the segment compiler, which scoring alone does not need.
    from mailwright.segments.service import refresh_segments

    refresh_segments(uow)
