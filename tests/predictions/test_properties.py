from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwright.predictions import clv, sendtime
from mailwright.predictions.recommend import diversify

params = st.tuples(
    st.floats(0.05, 5.0), st.floats(0.5, 50.0), st.floats(0.05, 5.0), st.floats(0.05, 10.0)
).map(lambda p: clv.BgNbdFit(p[0], p[1], p[2], p[3], 0.0, 1, 7.0, False))
histories = st.tuples(st.integers(0, 40), st.floats(0.0, 1.0), st.floats(1.0, 100.0))


@settings(max_examples=60, deadline=None)
@given(params, histories)
def test_probability_alive_is_a_probability_and_grows_with_recency(
    fit: clv.BgNbdFit, history: tuple[int, float, float]
) -> None:
    x, share, big_t = history
    recency = np.linspace(0.0, big_t, 6) * (1.0 if x > 0 else 0.0)
    alive = clv.probability_alive(fit, np.full(6, float(x)), recency, np.full(6, big_t))
    assert np.all((alive >= 0) & (alive <= 1))
    # A more recent last purchase can only make the customer more likely to be alive.
    assert np.all(np.diff(alive) >= -1e-12)
    expected = [
        clv.expected_purchases(fit, t, np.array([float(x)]), np.array([share * big_t]), np.array([big_t]))[0]
        for t in (1.0, 10.0, 50.0)
    ]
    assert all(e >= 0 for e in expected) and expected[0] <= expected[1] + 1e-9 <= expected[2] + 2e-9


zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"])
# Naive bounds are what hypothesis wants; every generated moment is made UTC-aware right away.
naive_moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
)
moments = naive_moments.map(lambda d: d.replace(tzinfo=UTC))


@settings(max_examples=80, deadline=None)
@given(moments, st.integers(0, 167), zones)
def test_next_send_time_is_after_now_at_the_target_local_hour(now: datetime, target: int, zone: str) -> None:
    when = sendtime.next_local_hour_of_week(now, target, zone)
    local = when.astimezone(ZoneInfo(zone))
    assert when > now
    assert local.weekday() * 24 + local.hour == target and local.minute == 0
    assert when - now <= timedelta(days=15)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 167), st.integers(1, 40), zones, moments)
def test_contact_with_history_is_sent_at_their_preferred_hour(
    preferred: int, n_events: int, zone: str, now: datetime
) -> None:
    rng = np.random.default_rng(preferred)
    # Background contacts spread uniformly; the contact of interest always acts at one local hour of week.
    week_start = pd.Timestamp("2024-01-01", tz=zone)
    base = pd.DataFrame(
        {
            "contact_id": [f"o{i % 30}" for i in range(600)],
            "occurred_at": [week_start + pd.Timedelta(hours=int(h)) for h in rng.integers(0, 168 * 8, 600)],
            "kind": "click",
        }
    )
    mine = pd.DataFrame(
        {
            "contact_id": "me",
            "occurred_at": [week_start + pd.Timedelta(hours=preferred + 168 * w) for w in range(n_events)],
            "kind": "click",
        }
    )
    model = sendtime.fit_send_time(pd.concat([base, mine]), {"me": zone}, default_timezone=zone, epsilon=0.0)
    preference = model.preference("me")
    assert np.isclose(preference.sum(), 1.0) and np.all(preference > 0)
    if preference.argmax() == preferred:
        when = model.best_send_time("me", now, zone)
        local = when.astimezone(ZoneInfo(zone))
        assert when > now and local.weekday() * 24 + local.hour == preferred
    # Shrinkage: with more own history the preferred hour can only gain weight.
    assert preference[preferred] > model.shop[preferred]


def test_shrinkage_pulls_sparse_contacts_toward_the_shop() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    events = pd.DataFrame(
        {
            "contact_id": ["few"] * 1 + ["many"] * 50 + [f"x{i}" for i in range(200)],
            "occurred_at": [start + pd.Timedelta(hours=10)] * 51
            + [start + pd.Timedelta(hours=i % 168) for i in range(200)],
            "kind": "click",
        }
    )
    model = sendtime.fit_send_time(events, prior_strength=10.0)
    assert model.preference("few")[10] < model.preference("many")[10]
    np.testing.assert_allclose(model.preference("unknown"), model.shop)


def test_exploration_sometimes_picks_another_hour() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    events = pd.DataFrame(
        {"contact_id": "c", "occurred_at": [start + pd.Timedelta(hours=10)] * 5, "kind": "click"}
    )
    model = sendtime.fit_send_time(events, epsilon=0.5, prior_strength=5.0)
    rng = np.random.default_rng(0)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    hours = {model.best_send_time("c", now, "UTC", rng).hour for _ in range(60)}
    assert 10 in hours and len(hours) > 1
    greedy = sendtime.fit_send_time(events, epsilon=0.0, prior_strength=5.0)
    assert {greedy.best_send_time("c", now, "UTC", rng).hour for _ in range(20)} == {10}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=0, max_size=40, unique=True), st.integers(1, 10), st.integers(1, 3)
)
def test_diversify_caps_categories_and_keeps_order(items: list[int], k: int, cap: int) -> None:
    ranked = [f"p{i}" for i in items]
    category = {f"p{i}": f"c{i % 3}" for i in items}
    result = diversify(ranked, category, k, cap)
    assert len(result) == min(k, len(ranked)) and len(set(result)) == len(result)
    allowed = sum(min(cap, sum(1 for q in ranked if category[q] == c)) for c in set(category.values()))
    head = result[: min(k, allowed)]
    per_category = pd.Series([category[p] for p in head], dtype=object).value_counts()
    # Within what the cap allows, no category exceeds it and the ranking order is kept.
    assert per_category.empty or per_category.max() <= cap
    assert [p for p in ranked if p in set(head)] == head
