"""Lifecycle stages: thresholds learned from the shop's gaps or the named defaults, and the stage rules."""

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from tests.segments.test_rfm import buy, stored

from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.segments import lifecycle, rfm
from mailwright.segments.rfm_schemas import LifecycleThresholdsOut


def thresholds(new: int, at_risk: int, churned: int) -> LifecycleThresholdsOut:
    return LifecycleThresholdsOut(
        new_days=new,
        at_risk_days=at_risk,
        churned_days=churned,
        source="default",
        median_gap_days=None,
        repeat_customers=0,
        reason="test",
    )


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        # Too few repeat customers: the defaults, whatever their gaps say.
        ([10.0] * 49, (40, 90, 180, "default")),
        ([], (40, 90, 180, "default")),
        ([10.0] * 50, (10, 20, 40, "learned")),
        ([30.0] * 40 + [60.0] * 40, (45, 90, 180, "learned")),
        # Clamped: a shop whose customers come back daily still waits two weeks before "at risk".
        ([1.0] * 100, (7, 14, 28, "learned")),
        ([400.0] * 100, (365, 365, 730, "learned")),
    ],
)
def test_thresholds_from_median_gaps(gaps: list[float], expected: tuple[int, int, int, str]) -> None:
    t = lifecycle.learn_thresholds(np.array(gaps, dtype=np.float64))
    assert (t.new_days, t.at_risk_days, t.churned_days, t.source) == expected
    assert t.repeat_customers == len(gaps)
    assert ("fewer than 50" in t.reason) == (t.source == "default")


def test_per_customer_median_gaps_merge_same_day_orders() -> None:
    # Contact 1: days 0, 0, 10, 30 -> gaps 10, 20 -> median 15. Contact 2: one day only. Contact 3: 5, 12.
    days = lifecycle.OrderDays(
        contact_ids=np.array([1, 1, 1, 1, 2, 2, 3, 3], dtype=np.int64),
        days=np.array([0, 0, 10, 30, 4, 4, 5, 12], dtype=np.int64),
    )
    assert lifecycle.customer_median_gaps(days).tolist() == [15.0, 7.0]


@pytest.mark.parametrize(
    ("orders", "since_first", "since_last", "stage"),
    [
        (1, 0, 0, "new"),
        (1, 39, 39, "new"),
        (1, 40, 40, "active"),
        (2, 10, 3, "active"),
        (5, 300, 89, "active"),
        (5, 300, 90, "at_risk"),
        (1, 100, 100, "at_risk"),
        (3, 500, 179, "at_risk"),
        (3, 500, 180, "churned"),
        (0, 0, 0, None),
    ],
)
def test_stage_rules(orders: int, since_first: int, since_last: int, stage: str | None) -> None:
    assert lifecycle.stage_of(thresholds(40, 90, 180), orders, since_first, since_last) == stage


@settings(deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=2000.0), max_size=200))
def test_thresholds_are_ordered_and_bounded(gaps: list[float]) -> None:
    t = lifecycle.learn_thresholds(np.array(gaps, dtype=np.float64))
    assert 7 <= t.new_days <= t.at_risk_days < t.churned_days <= 730
    assert t.at_risk_days <= 365


@given(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
)
def test_more_days_without_an_order_never_makes_a_customer_livelier(
    orders: int, since: int, more: int
) -> None:
    rank = {"new": 0, "active": 0, "at_risk": 1, "churned": 2}
    t = thresholds(40, 90, 180)
    before = lifecycle.stage_of(t, orders, since + 5, since)
    after = lifecycle.stage_of(t, orders, since + 5 + more, since + more)
    assert before is not None and after is not None
    assert rank[after] >= rank[before]


def test_a_shop_with_enough_repeat_customers_gets_thresholds_from_its_own_rhythm(
    runtime: Runtime, clock: ManualClock, session: Session
) -> None:
    now = clock.now()
    day = timedelta(days=1)
    # 60 customers who order every 10 days; the last ones stopped 25 and 50 days ago.
    orders = [
        (f"r{c}", now - (50 if c == 0 else 25 if c == 1 else 2) * day - k * 10 * day, 1500)
        for c in range(60)
        for k in range(3)
    ]
    orders.append(("once", now - 5 * day, 900))
    buy(runtime, orders)
    with runtime.uow() as uow:
        run = rfm.refresh_rfm(uow)
        summary = rfm.summary(uow.session, "GBP")
    t = run.thresholds
    assert (t.source, t.median_gap_days, t.repeat_customers) == ("learned", 10.0, 60)
    assert (t.new_days, t.at_risk_days, t.churned_days) == (10, 20, 40)
    assert summary.thresholds == t
    assert [stored(session, k).lifecycle_stage for k in ("r0", "r1", "r2", "once")] == [
        "churned",
        "at_risk",
        "active",
        "new",
    ]
    assert {s.stage: s.customers for s in summary.lifecycle} == {
        "new": 1,
        "active": 58,
        "at_risk": 1,
        "churned": 1,
    }


def test_a_young_shop_falls_back_to_the_default_thresholds_and_says_so(
    runtime: Runtime, clock: ManualClock, session: Session
) -> None:
    now = clock.now()
    buy(
        runtime,
        [
            (f"c{c}", now - timedelta(days=100 + c) - timedelta(days=10 * k), 1000)
            for c in range(5)
            for k in range(2)
        ],
    )
    with runtime.uow() as uow:
        run = rfm.refresh_rfm(uow)
    assert (run.thresholds.source, run.thresholds.repeat_customers) == ("default", 5)
    assert "only 5 repeat customer(s), fewer than 50" in run.thresholds.reason
    assert stored(session, "c0").lifecycle_stage == "at_risk"


def test_orders_after_the_moment_do_not_count_as_gaps(runtime: Runtime, clock: ManualClock) -> None:
    now = clock.now()
    buy(runtime, [("a", now - timedelta(days=30), 1000), ("a", now - timedelta(days=10), 1000)])
    with runtime.uow() as uow:
        assert lifecycle.customer_median_gaps(lifecycle.load_order_days(uow.session, now)).tolist() == [20.0]
        earlier = now - timedelta(days=15)
        assert lifecycle.customer_median_gaps(lifecycle.load_order_days(uow.session, earlier)).tolist() == []
