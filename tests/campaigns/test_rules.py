"""The pure rules: the A/B split and decision, local times across zones and DST, throttling."""

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwright.campaigns import abtest, scheduling
from mailwright.campaigns.scheduling import Planned, RecipientTiming

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


# --- the split ------------------------------------------------------------------------------------------


@given(
    campaign_id=st.integers(1, 10**6),
    share=st.floats(0.05, 0.95),
    variants=st.integers(2, 4),
)
@settings(max_examples=40, deadline=None)
def test_the_split_is_stable_and_near_the_share(campaign_id: int, share: float, variants: int) -> None:
    names = [chr(ord("A") + i) for i in range(variants)]
    contacts = range(1, 4001)
    groups = [abtest.assign(campaign_id, c, names, share) for c in contacts]
    assert groups == [abtest.assign(campaign_id, c, names, share) for c in contacts]  # stable per contact
    tested = [g for g in groups if g is not None]
    n = len(contacts)
    sigma = (n * share * (1 - share)) ** 0.5
    assert abs(len(tested) - n * share) <= 5 * sigma + 1
    per_variant = Counter(tested)
    expected = len(tested) / variants
    for name in names:
        assert abs(per_variant[name] - expected) <= 5 * (expected * (1 - 1 / variants)) ** 0.5 + 1


def test_a_contacts_group_does_not_depend_on_who_else_is_in_the_campaign() -> None:
    names = ["A", "B"]
    alone = abtest.assign(7, 12345, names, 0.3)
    among_many = {c: abtest.assign(7, c, names, 0.3) for c in range(12000, 13000)}
    assert among_many[12345] == alone


# --- the decision ---------------------------------------------------------------------------------------


@given(
    n=st.integers(200, 2000),
    low=st.floats(0.02, 0.3),
    lift=st.floats(0.15, 0.4),
    seed=st.integers(0, 10**6),
)
@settings(max_examples=40, deadline=None)
def test_a_clearly_better_variant_wins(n: int, low: float, lift: float, seed: int) -> None:
    outcomes = [
        abtest.VariantOutcome("A", n, round(n * low)),
        abtest.VariantOutcome("B", n, round(n * (low + lift))),
    ]
    decision = abtest.decide(outcomes, abtest.CLICKS, seed=seed, min_sample=100)
    assert decision.winner == "B"
    assert decision.significant
    assert decision.probabilities["B"] >= 0.9


@given(n=st.integers(0, 3000), rate=st.floats(0, 1), seed=st.integers(0, 10**6), variants=st.integers(2, 4))
@settings(max_examples=40, deadline=None)
def test_identical_variants_are_never_significant(n: int, rate: float, seed: int, variants: int) -> None:
    outcomes = [abtest.VariantOutcome(chr(ord("A") + i), n, round(n * rate)) for i in range(variants)]
    decision = abtest.decide(outcomes, abtest.OPENS, seed=seed)
    assert not decision.significant
    assert decision.winner == "A"  # equal point estimates: the control
    assert abs(sum(decision.probabilities.values()) - 1) < 1e-3


def test_too_small_a_sample_is_reported_not_significant() -> None:
    outcomes = [abtest.VariantOutcome("A", 40, 2), abtest.VariantOutcome("B", 40, 30)]
    decision = abtest.decide(outcomes, abtest.OPENS, seed=1, min_sample=100)
    assert decision.winner == "B"  # the higher point estimate is still sent
    assert not decision.significant
    assert "too few recipients" in decision.reason


def test_revenue_per_recipient_uses_every_recipient_as_the_denominator() -> None:
    few_big = abtest.VariantOutcome("A", 500, 5, (200.0,) * 5)  # 2.00 per recipient
    many_small = abtest.VariantOutcome("B", 500, 100, (30.0,) * 100)  # 6.00 per recipient
    decision = abtest.decide([few_big, many_small], abtest.REVENUE, seed=3)
    assert decision.winner == "B" and decision.significant
    assert decision.record["variants"][1]["point_estimate"] == pytest.approx(6.0)
    no_orders = [abtest.VariantOutcome("A", 300), abtest.VariantOutcome("B", 300)]
    tie = abtest.decide(no_orders, abtest.REVENUE, seed=3)
    assert not tie.significant and tie.probabilities == {"A": 0.5, "B": 0.5}


def test_the_decision_is_reproducible_from_its_seed() -> None:
    outcomes = [abtest.VariantOutcome("A", 300, 40), abtest.VariantOutcome("B", 300, 52)]
    first = abtest.decide(outcomes, abtest.OPENS, seed=42)
    assert abtest.decide(outcomes, abtest.OPENS, seed=42).record == first.record


# --- schedules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "expected_utc"),
    [
        ("Europe/Berlin", START, START),  # 10:00 there right now
        ("America/New_York", START, datetime(2026, 11, 2, 15, 0, tzinfo=UTC)),
        ("Asia/Tokyo", START, datetime(2026, 11, 3, 1, 0, tzinfo=UTC)),  # passed today: tomorrow
        ("Asia/Kolkata", START, datetime(2026, 11, 3, 4, 30, tzinfo=UTC)),  # a half-hour zone
        # The night Europe leaves summer time (25 October 2026): 10:00 is still 10:00 local, now UTC+1.
        (
            "Europe/Berlin",
            datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
            datetime(2026, 10, 25, 9, 0, tzinfo=UTC),
        ),
    ],
)
def test_next_local_time(zone: str, start: datetime, expected_utc: datetime) -> None:
    got = scheduling.next_local(start, time(10, 0), ZoneInfo(zone))
    assert got == expected_utc
    assert got.astimezone(ZoneInfo(zone)).time() == time(10, 0)


def test_a_local_time_skipped_by_daylight_saving_goes_out_just_after_the_gap() -> None:
    start = datetime(2027, 3, 14, 5, 0, tzinfo=UTC)  # midnight in New York, the night clocks spring forward
    got = scheduling.next_local(start, time(2, 30), ZoneInfo("America/New_York"))
    local = got.astimezone(ZoneInfo("America/New_York"))
    assert (local.date().isoformat(), local.time()) == ("2027-03-14", time(3, 30))
    assert got >= start


@given(
    hours=st.lists(st.integers(0, 23), max_size=40),
    per_hour=st.integers(1, 30),
)
@settings(max_examples=60, deadline=None)
def test_throttling_never_exceeds_the_rate_and_never_sends_early(hours: list[int], per_hour: int) -> None:
    planned = [Planned(i, START + timedelta(hours=h)) for i, h in enumerate(hours)]
    spread = scheduling.throttle(planned, per_hour)
    before = {p.contact_id: p.send_at for p in planned}
    assert sorted(p.contact_id for p in spread) == sorted(before)
    assert all(p.send_at >= before[p.contact_id] for p in spread)
    times = sorted(p.send_at for p in spread)
    for i in range(len(times) - per_hour):
        # Any per_hour + 1 consecutive sends span at least an hour.
        assert times[i + per_hour] - times[i] >= timedelta(hours=1) - timedelta(microseconds=per_hour + 1)


def test_best_hour_falls_back_from_prediction_to_shop_clicks_to_default() -> None:
    recipients = [
        RecipientTiming(1, "Europe/Berlin", best_send_hour=3 * 24 + 20),
        RecipientTiming(2, "Europe/Berlin", None),
    ]
    with_clicks = scheduling.plan(
        recipients, kind="best_hour", start=START, default_timezone="UTC", shop_hour=7
    )
    hours = {
        p.contact_id: (p.send_at.astimezone(ZoneInfo("Europe/Berlin")).hour, p.hour_source)
        for p in with_clicks
    }
    assert hours == {1: (20, "prediction"), 2: (7, "shop_clicks")}
    without = scheduling.plan(
        recipients[1:], kind="best_hour", start=START, default_timezone="UTC", default_hour=11
    )
    assert (without[0].send_at.astimezone(ZoneInfo("Europe/Berlin")).hour, without[0].hour_source) == (
        11,
        "default",
    )
    assert scheduling.shop_best_hour([14, 14, 9, 9, 20]) == 9  # ties: the earliest hour
    assert scheduling.shop_best_hour([]) is None
