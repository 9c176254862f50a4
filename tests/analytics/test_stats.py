"""The lift estimators: their intervals cover the truth as often as they claim, and the Hillstrom check."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwright.analytics import hillstrom
from mailwright.analytics.stats import mean_difference, rate_difference, wilson_interval


@pytest.mark.parametrize(
    ("p_treated", "p_control", "n_treated", "n_control"),
    [(0.03, 0.02, 900, 100), (0.15, 0.11, 2000, 2000), (0.005, 0.005, 5000, 500), (0.5, 0.4, 60, 40)],
)
def test_rate_difference_interval_covers_the_true_difference_about_95_percent(
    p_treated: float, p_control: float, n_treated: int, n_control: int
) -> None:
    rng = np.random.default_rng(11)
    truth = p_treated - p_control
    runs = 4000
    covered = 0
    for _ in range(runs):
        estimate = rate_difference(
            int(rng.binomial(n_treated, p_treated)),
            n_treated,
            int(rng.binomial(n_control, p_control)),
            n_control,
        )
        covered += estimate.low <= truth <= estimate.high
    # Newcombe's interval is slightly conservative; a Wald interval drops to ~0.80 on the rare-event rows.
    assert 0.93 <= covered / runs <= 0.99


def test_revenue_difference_interval_covers_the_truth_on_zero_inflated_spend() -> None:
    rng = np.random.default_rng(5)

    def spend(n: int, rate: float) -> np.ndarray:
        # Most recipients buy nothing; buyers' baskets are log-normal, like real order values.
        return np.where(rng.random(n) < rate, rng.lognormal(3.5, 0.8, n), 0.0)

    mean_basket = math.exp(3.5 + 0.8**2 / 2)
    truth = (0.04 - 0.03) * mean_basket
    runs = 1500
    covered = sum(
        (lambda d: d.low <= truth <= d.high)(mean_difference(spend(3000, 0.04), spend(1000, 0.03)))
        for _ in range(runs)
    )
    assert 0.92 <= covered / runs <= 0.98


@given(
    successes=st.integers(min_value=0, max_value=500),
    extra=st.integers(min_value=0, max_value=500),
)
@settings(max_examples=200, deadline=None)
def test_wilson_interval_contains_the_observed_rate(successes: int, extra: int) -> None:
    trials = successes + extra
    if trials == 0:
        return
    low, high = wilson_interval(successes, trials)
    assert 0.0 <= low <= successes / trials <= high <= 1.0


def test_bad_counts_are_refused_with_the_group_named() -> None:
    with pytest.raises(ValueError, match="treated: 12 successes out of 10"):
        rate_difference(12, 10, 1, 10)
    with pytest.raises(ValueError, match="at least one member"):
        rate_difference(0, 0, 1, 10)


def test_hillstrom_arm_means_and_differences_match_the_published_figures(shared_data) -> None:  # type: ignore[no-untyped-def]
    frame = hillstrom.load(shared_data / "hillstrom" / "hillstrom.csv")
    results = {(c.arm, c.outcome): c.estimate for c in hillstrom.compare_arms(frame)}
    women_visit = results[("Womens E-Mail", "visit")]
    assert women_visit.treated == pytest.approx(hillstrom.REFERENCE_VISIT_RATES["Womens E-Mail"], abs=5e-5)
    assert women_visit.control == pytest.approx(hillstrom.REFERENCE_VISIT_RATES["No E-Mail"], abs=5e-5)
    assert results[("Mens E-Mail", "visit")].treated == pytest.approx(0.1828, abs=5e-5)
    # The e-mails raised visits by ~4.5 and ~7.7 points, clearly; 21,000 a side pins it to +- 0.65 points.
    assert women_visit.low > 0.035 and women_visit.high < 0.055
    assert women_visit.high - women_visit.low < 0.014
    assert results[("Mens E-Mail", "conversion")].significant
    assert results[("Womens E-Mail", "spend")].difference > 0


def test_a_ten_percent_holdout_of_hillstrom_recovers_the_full_arm_difference(shared_data) -> None:  # type: ignore[no-untyped-def]
    frame = hillstrom.load(shared_data / "hillstrom" / "hillstrom.csv")
    women = frame.loc[frame["segment"] == "Womens E-Mail", "visit"].to_numpy()
    none = frame.loc[frame["segment"] == "No E-Mail", "visit"].to_numpy()
    truth = women.mean() - none.mean()
    rng = np.random.default_rng(3)
    runs, covered = 400, 0
    for _ in range(runs):
        # A flow's shape: 9 sent for every 1 held out, 3,000 recipients in all.
        sent = rng.choice(women, 2700, replace=False)
        held = rng.choice(none, 300, replace=False)
        estimate = rate_difference(int(sent.sum()), len(sent), int(held.sum()), len(held))
        covered += estimate.low <= truth <= estimate.high
    assert covered / runs >= 0.92
