"""The A/B decision rule's error rates, by simulation: identical variants rarely get a winner, real ones do.

The rule declares a variant best when its posterior probability of being best reaches 90 %. With two
identical variants that probability is roughly uniform, so each variant is wrongly declared about 10 %
of the time: the nominal false-winner rate of a two-variant test is 2 x 10 % = 20 %, and the rule must
not exceed it. With a real difference of the size a subject line makes, it must find the better one.
"""

import numpy as np
import pytest

from mailwright.campaigns.abtest import CLICKS, REVENUE, VariantOutcome, decide

RUNS = 300


def _simulate(rates: tuple[float, float], n: int, seed: int) -> tuple[int, int]:
    """How often variant a and variant b were declared significant winners over RUNS tests."""
    rng = np.random.default_rng(seed)
    wins = {"a": 0, "b": 0}
    for run in range(RUNS):
        outcomes = [
            VariantOutcome(name, n, int(rng.binomial(n, rate)))
            for name, rate in zip("ab", rates, strict=True)
        ]
        decision = decide(outcomes, CLICKS, seed=run, draws=4000, min_sample=100)
        if decision.significant:
            wins[decision.winner] += 1
    return wins["a"], wins["b"]


def test_identical_variants_get_a_winner_no_more_often_than_the_nominal_rate() -> None:
    a_wins, b_wins = _simulate((0.03, 0.03), 2000, seed=1)
    # Nominal: 10 % per variant. Allow the Monte Carlo noise of 300 runs (sd ~ 1.7 points per variant).
    assert a_wins / RUNS <= 0.10 + 0.05
    assert b_wins / RUNS <= 0.10 + 0.05
    assert (a_wins + b_wins) / RUNS <= 0.20 + 0.05


def test_a_real_difference_is_found_and_never_reversed() -> None:
    # 3.0 % vs 4.0 % click rate, 4,000 recipients per variant: a one-point lift a subject line can make.
    a_wins, b_wins = _simulate((0.03, 0.04), 4000, seed=2)
    assert b_wins / RUNS >= 0.80
    assert a_wins / RUNS <= 0.01


@pytest.mark.parametrize(("buyer_rates", "expect_b_wins"), [((0.02, 0.02), False), ((0.02, 0.035), True)])
def test_revenue_rule_on_zero_inflated_order_values(
    buyer_rates: tuple[float, float], expect_b_wins: bool
) -> None:
    rng = np.random.default_rng(7)
    runs, significant, b_wins = 150, 0, 0
    for run in range(runs):
        outcomes = []
        for name, rate in zip("ab", buyer_rates, strict=True):
            count = int(rng.binomial(2000, rate))
            outcomes.append(VariantOutcome(name, 2000, count, tuple(rng.lognormal(3.5, 0.6, count).round(2))))
        decision = decide(outcomes, REVENUE, seed=run, draws=4000, min_sample=100)
        significant += decision.significant
        b_wins += decision.significant and decision.winner == "b"
    if expect_b_wins:
        assert b_wins / runs >= 0.80
    else:
        assert significant / runs <= 0.20 + 0.06
