"""RFM scores and the named map: rules, invariants, and scenarios built through the real ingest service."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.orders.schemas import OrderLineIn
from mailwright.segments import rfm
from mailwright.segments.jobs_rfm import RFM_JOB
from mailwright.segments.lifecycle import learn_thresholds

DEFAULTS = learn_thresholds(np.empty(0))


def order_event(
    key: str, order_id: str, at: datetime, total_minor: int, *, user: bool = True
) -> IncomingEvent:
    """An Order Completed of customer `key` (user id and email) with one line."""
    return IncomingEvent(
        message_id=f"order-{order_id}",
        type="track",
        name="Order Completed",
        occurred_at=at,
        source="test",
        user_id=key,
        email=f"{key}@example.com",
        order=OrderDraft(
            external_id=order_id,
            currency="GBP",
            total_minor=total_minor,
            lines=[
                OrderLineIn(product_external_id="p1", category="Gifts", quantity=1, price_minor=total_minor)
            ],
        ),
    )


def identify_event(key: str, at: datetime) -> IncomingEvent:
    """An Identify of a contact who never orders."""
    return IncomingEvent(
        message_id=f"identify-{key}",
        type="identify",
        name="Identify",
        occurred_at=at,
        source="test",
        user_id=key,
        email=f"{key}@example.com",
    )


def buy(runtime: Runtime, orders: list[tuple[str, datetime, int]]) -> None:
    """Ingest (customer, placed at, total in pence) orders through the real ingest path, in one batch."""
    with runtime.uow() as uow:
        result = events.ingest(
            uow, [order_event(key, f"{key}-{i}", at, total) for i, (key, at, total) in enumerate(orders)]
        )
    assert not result.rejected


def stored(session: Session, key: str) -> Contact:
    """The stored profile of customer `key`."""
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.email == f"{key}@example.com")).one()
    return contact


# --- the rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([10, 20, 30, 40, 50], [1, 2, 3, 4, 5]),
        ([50, 40, 30, 20, 10], [5, 4, 3, 2, 1]),
        ([7], [1]),
        ([1, 1, 1, 1, 2], [1, 1, 1, 1, 5]),
        ([3, 3, 3, 3, 3], [1, 1, 1, 1, 1]),
        (list(range(10)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        # A tie group takes the score of its lowest position: the two 2s have one value below them.
        ([1, 2, 2, 3, 4, 5], [1, 1, 1, 3, 4, 5]),
    ],
)
def test_quintile_scores_follow_the_documented_rule(values: list[int], expected: list[int]) -> None:
    assert rfm.quintile_scores(values).tolist() == expected


@pytest.mark.parametrize(
    ("scores", "name"),
    [
        ((5, 5, 5), "Champions"),
        ((4, 4, 4), "Champions"),
        ((3, 5, 4), "Loyal"),
        ((5, 2, 3), "Potential loyalist"),
        ((5, 1, 1), "New customers"),
        ((4, 1, 1), "Promising"),
        ((3, 3, 3), "Need attention"),
        ((3, 1, 2), "About to sleep"),
        ((2, 3, 4), "At risk"),
        ((1, 3, 3), "At risk"),
        ((1, 5, 4), "Can't lose them"),
        ((2, 5, 5), "Can't lose them"),
        ((2, 1, 2), "Hibernating"),
        ((1, 1, 1), "Lost"),
        ((1, 2, 1), "Lost"),
    ],
)
def test_named_map_follows_the_r_by_fm_grid(scores: tuple[int, int, int], name: str) -> None:
    assert rfm.segment_name(*scores) == name


def test_every_name_has_a_cell_and_scores_outside_1_to_5_are_refused() -> None:
    assert {name for row in rfm.GRID for name in row} == set(rfm.SEGMENT_NAMES)
    assert len(rfm.SEGMENT_NAMES) == 11
    with pytest.raises(ValueError, match="frequency score 6"):
        rfm.segment_name(3, 6, 3)


# --- invariants ------------------------------------------------------------------------------------

score = st.integers(min_value=1, max_value=5)


@given(score, score, score)
def test_the_named_map_is_total(r: int, f: int, m: int) -> None:
    assert rfm.segment_name(r, f, m) in rfm.SEGMENT_NAMES


@settings(deadline=None)
@given(st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=300))
def test_scores_are_1_to_5_ties_agree_and_better_never_scores_lower(values: list[int]) -> None:
    scores = rfm.quintile_scores(values)
    assert set(scores.tolist()) <= {1, 2, 3, 4, 5}
    order = np.argsort(values, kind="stable")
    ranked, by_value = np.asarray(values)[order], scores[order]
    # Walking up the values, scores never go down, and equal values never differ.
    assert np.all(np.diff(by_value) >= 0)
    assert np.all(by_value[1:][ranked[1:] == ranked[:-1]] == by_value[:-1][ranked[1:] == ranked[:-1]])


@settings(deadline=None)
@given(st.sets(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=500))
def test_without_ties_the_quintiles_are_balanced(values: set[int]) -> None:
    n = len(values)
    counts = Counter(rfm.quintile_scores(sorted(values)).tolist())
    assert all(counts[s] in (n // 5, -(-n // 5)) for s in range(1, 6))


customer = st.tuples(
    st.integers(min_value=0, max_value=400),  # days since the last order
    st.integers(min_value=1, max_value=30),  # orders
    st.integers(min_value=1, max_value=10**7),  # revenue in minor units
)


@settings(max_examples=60, deadline=None)
@given(st.lists(customer, min_size=1, max_size=60), st.data())
def test_every_customer_gets_scores_and_a_strictly_better_one_never_scores_lower(
    rows: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    as_of = datetime(2026, 11, 2, 9, tzinfo=UTC)
    today = as_of.timestamp() // 86_400
    customers = rfm.CustomerRollups(
        contact_ids=np.arange(1, len(rows) + 1, dtype=np.int64),
        order_count=np.array([r[1] for r in rows], dtype=np.int64),
        revenue_minor=np.array([r[2] for r in rows], dtype=np.int64),
        first_order_day=np.array([today - r[0] - 10 for r in rows], dtype=np.int64),
        last_order_day=np.array([today - r[0] for r in rows], dtype=np.int64),
    )
    scored = rfm.score(customers, as_of, DEFAULTS)
    assert len(scored) == len(rows)
    for row in scored:
        assert {row.recency, row.frequency, row.monetary} <= {1, 2, 3, 4, 5}
        assert row.segment == rfm.segment_name(row.recency, row.frequency, row.monetary)
    i = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    j = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    (di, fi, mi), (dj, fj, mj) = rows[i], rows[j]
    if di < dj:
        assert scored[i].recency >= scored[j].recency
    if fi > fj:
        assert scored[i].frequency >= scored[j].frequency
    if mi > mj:
        assert scored[i].monetary >= scored[j].monetary


# --- scenarios through the real services -----------------------------------------------------------


def test_recompute_stores_scores_segments_and_stages_on_the_profiles(
    runtime: Runtime, clock: ManualClock, session: Session
) -> None:
    now = clock.now()
    day = timedelta(days=1)
    orders = []
    # Five customers, each better than the last on every axis: more recent, more orders, more revenue.
    for c in range(5):
        for k in range(c + 1):
            orders.append((f"c{c}", now - (200 - 40 * c) * day - k * day, 1000 * (c + 1)))
    buy(runtime, orders)
    with runtime.uow() as uow:
        events.ingest(uow, [identify_event("prospect", now - 3 * day)])
    with runtime.uow() as uow:
        run = rfm.refresh_rfm(uow)
    assert run.customers_scored == 5
    assert run.computed_at == now
    assert run.thresholds.source == "default"
    scores = [
        (stored(session, f"c{c}").rfm_recency, stored(session, f"c{c}").rfm_frequency) for c in range(5)
    ]
    assert scores == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    best, worst = stored(session, "c4"), stored(session, "c0")
    assert (best.rfm_monetary, best.rfm_segment, best.rfm_computed_at) == (5, "Champions", now)
    assert (worst.rfm_segment, worst.lifecycle_stage) == ("Lost", "churned")
    # 40 days since the last order, five orders: active under the default thresholds (90 / 180).
    assert best.lifecycle_stage == "active"
    prospect = stored(session, "prospect")
    assert (prospect.rfm_recency, prospect.rfm_segment, prospect.lifecycle_stage) == (None, None, None)


def test_summary_counts_customers_and_revenue_per_segment(runtime: Runtime, clock: ManualClock) -> None:
    now = clock.now()
    buy(runtime, [(f"c{c}", now - timedelta(days=c * 30), 500 * (10 - c)) for c in range(10)])
    with runtime.uow() as uow:
        run = rfm.refresh_rfm(uow)
        summary = rfm.summary(uow.session, "GBP")
    assert summary.customers_scored == 10
    assert summary.computed_at == now
    assert [s.name for s in summary.segments] == list(rfm.SEGMENT_NAMES)
    assert sum(s.customers for s in summary.segments) == 10
    assert sum(s.revenue_minor for s in summary.segments) == sum(500 * (10 - c) for c in range(10))
    assert summary.scores.recency == [2, 2, 2, 2, 2]
    assert sum(map(sum, summary.scores.r_by_fm)) == 10
    assert sum(s.customers for s in summary.lifecycle) == 10
    # Learned again from the orders as of the stored computation: the same thresholds the run used.
    assert summary.thresholds == run.thresholds


def test_a_contact_no_longer_scored_loses_its_old_scores(runtime: Runtime, clock: ManualClock) -> None:
    now = clock.now()
    buy(runtime, [("a", now - timedelta(days=3), 1000), ("b", now - timedelta(days=9), 2000)])
    with runtime.uow() as uow:
        a, b = (contacts.find_by_email(uow.session, f"{k}@example.com") for k in "ab")
        assert a is not None and b is not None
        rows = [
            contacts.RfmRow(
                contact_id=a.id,
                recency=5,
                frequency=1,
                monetary=1,
                segment="New customers",
                lifecycle_stage="new",
            ),
            contacts.RfmRow(
                contact_id=b.id, recency=1, frequency=1, monetary=5, segment="Lost", lifecycle_stage="churned"
            ),
        ]
        assert contacts.store_rfm(uow.session, rows, now) == 2
        assert contacts.store_rfm(uow.session, rows[:1], now + timedelta(days=1)) == 1
        uow.session.expire_all()
        kept, cleared = uow.session.get(Contact, a.id), uow.session.get(Contact, b.id)
        assert kept is not None and cleared is not None
        assert (kept.rfm_segment, kept.rfm_computed_at) == ("New customers", now + timedelta(days=1))
        assert (
            cleared.rfm_segment,
            cleared.lifecycle_stage,
            cleared.rfm_monetary,
            cleared.rfm_computed_at,
        ) == (
            None,
            None,
            None,
            None,
        )


def test_the_daily_job_recomputes_with_the_injected_clock(
    runtime: Runtime, clock: ManualClock, session: Session
) -> None:
    assert any(p.name == RFM_JOB and p.every == timedelta(days=1) for p in runtime.registry.periodic)
    buy(runtime, [("a", clock.now() - timedelta(days=2), 1000)])
    clock.advance(timedelta(days=1, minutes=1))
    runtime.runner.tick()
    assert stored(session, "a").rfm_computed_at == clock.now()
    assert stored(session, "a").lifecycle_stage == "new"
    # Sixty days on, nothing new: the schedule alone moves the customer out of "new".
    clock.advance(timedelta(days=60))
    runtime.runner.tick()
    assert stored(session, "a").rfm_computed_at == clock.now()
    assert stored(session, "a").lifecycle_stage == "active"


def test_segments_reading_rfm_and_stages_follow_the_recompute(
    runtime: Runtime, clock: ManualClock, session: Session
) -> None:
    from mailwright.segments import service as segments
    from mailwright.segments.schemas import SegmentIn

    now = clock.now()
    # Customer c has 5 - c orders, five days apart, the last one 10 + 45c days ago.
    buy(
        runtime,
        [(f"c{c}", now - timedelta(days=10 + 45 * c + 5 * k), 1000) for c in range(5) for k in range(5 - c)],
    )
    with runtime.uow() as uow:
        for name, condition in (
            ("best", {"type": "rfm_segment", "segments": ["Champions", "Loyal"]}),
            ("slipping", {"type": "lifecycle_stage", "stages": ["at_risk", "churned"]}),
        ):
            segments.create_segment(
                uow, SegmentIn(name=name, definition={"root": condition}), runtime.settings
            )
    with runtime.uow() as uow:
        rfm.refresh_rfm(uow)
    with runtime.uow() as uow:
        best = {m.email for m in segments.members(uow.session, "best").members}
        slipping = {m.email for m in segments.members(uow.session, "slipping").members}
    assert best == {
        f"c{c}@example.com"
        for c in range(5)
        if stored(session, f"c{c}").rfm_segment in ("Champions", "Loyal")
    }
    assert best >= {"c0@example.com", "c1@example.com"}
    # 10 + 45c days since the last order: c2 (100 days) is at risk, c4 (190) churned under the defaults.
    assert slipping == {"c2@example.com", "c3@example.com", "c4@example.com"}
    # Forty days later with no new orders, the recompute moves c1 (now 95 days) into "at risk" too.
    clock.advance(timedelta(days=40))
    with runtime.uow() as uow:
        rfm.refresh_rfm(uow)
    with runtime.uow() as uow:
        slipping = {m.email for m in segments.members(uow.session, "slipping").members}
    assert slipping == {f"c{c}@example.com" for c in range(1, 5)}
