"""A/B tests: the stable split of recipients and the rule that picks the winner.

The split: a hash of (campaign, contact) gives each contact a stable number u in [0, 1); u < test share
puts it in the test, and within the test u / share picks its variant in equal parts. The same contact
always lands in the same group of the same campaign, and different campaigns split independently.

The decision rule (reported with its numbers):
- Rates (opens, clicks, orders: the share of a variant's recipients who did it at least once): each
  variant's rate has a Beta(1 + successes, 1 + failures) posterior (a uniform prior); the probability of
  being best is the share of Monte Carlo draws (a seeded RNG, so the decision can be reproduced) in
  which that variant's draw is the highest.
- Revenue per recipient: a normal approximation of each variant's mean revenue per recipient
  (mean +- standard error, recipients without an order counting as 0), drawn the same way.
- A variant wins when its probability of being best reaches the threshold (90 %) and every variant has
  at least the minimum sample. Otherwise the variant with the higher point estimate is sent (ties go to
  the first variant, the control) and the decision is reported as not significant, with why.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

OPENS = "opens"
CLICKS = "clicks"
ORDERS = "orders"
REVENUE = "revenue_per_recipient"
METRICS = (OPENS, CLICKS, ORDERS, REVENUE)


def unit_hash(campaign_id: int, contact_id: int) -> float:
    """A stable number in [0, 1) for a contact in a campaign."""
    digest = hashlib.blake2b(f"campaign:{campaign_id}:contact:{contact_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def held_out(campaign_id: int, contact_id: int, percent: float) -> bool:
    """Whether a contact is in the campaign's holdout: drawn independently of the A/B test's split."""
    if percent <= 0:
        return False
    digest = hashlib.blake2b(f"holdout:{campaign_id}:{contact_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100 < percent


def assign(campaign_id: int, contact_id: int, variants: Sequence[str], test_share: float) -> str | None:
    """The test variant a contact gets, or None when it waits for the winner (the rest)."""
    u = unit_hash(campaign_id, contact_id)
    if not variants or u >= test_share:
        return None
    index = min(int(u / test_share * len(variants)), len(variants) - 1)
    return variants[index]


@dataclass(frozen=True)
class VariantOutcome:
    """What one variant's test recipients did."""

    name: str
    recipients: int
    # Recipients who did it at least once (opened, clicked, ordered).
    successes: int = 0
    # Revenue per recipient who ordered (major units); the other recipients count as 0.
    revenues: tuple[float, ...] = field(default=())

    def point(self, metric: str) -> float:
        """The observed rate, or revenue per recipient."""
        if self.recipients <= 0:
            return 0.0
        if metric == REVENUE:
            return sum(self.revenues) / self.recipients
        return self.successes / self.recipients


@dataclass(frozen=True)
class Decision:
    """The winner, whether it is significant, and the numbers behind it."""

    winner: str
    significant: bool
    reason: str
    metric: str
    probabilities: dict[str, float]
    record: dict[str, Any]


def _draws_rate(outcome: VariantOutcome, rng: np.random.Generator, draws: int) -> Any:
    failures = max(outcome.recipients - outcome.successes, 0)
    return rng.beta(1 + outcome.successes, 1 + failures, size=draws)


def _draws_revenue(outcome: VariantOutcome, rng: np.random.Generator, draws: int) -> Any:
    n = outcome.recipients
    if n <= 0:
        return np.zeros(draws)
    values = np.zeros(n)
    values[: len(outcome.revenues)] = outcome.revenues
    mean = float(values.mean())
    stderr = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    return rng.normal(mean, stderr, size=draws) if stderr > 0 else np.full(draws, mean)


def probability_best(
    outcomes: Sequence[VariantOutcome], metric: str, *, seed: int, draws: int = 20_000
) -> dict[str, float]:
    """Each variant's posterior probability of being best (ties share the credit)."""
    rng = np.random.default_rng(seed)
    sample = _draws_revenue if metric == REVENUE else _draws_rate
    matrix = np.column_stack([sample(o, rng, draws) for o in outcomes])
    top = matrix.max(axis=1, keepdims=True)
    is_top = matrix == top
    credit = is_top / is_top.sum(axis=1, keepdims=True)
    shares = credit.mean(axis=0)
    return {o.name: round(float(p), 4) for o, p in zip(outcomes, shares, strict=True)}


def decide(
    outcomes: Sequence[VariantOutcome],
    metric: str,
    *,
    seed: int,
    threshold: float = 0.9,
    min_sample: int = 100,
    draws: int = 20_000,
) -> Decision:
    """Pick the winner by the documented rule (see the module docstring)."""
    if metric not in METRICS:
        raise ValueError(f"unknown winner metric {metric!r}")
    if len(outcomes) < 2:
        raise ValueError("an A/B test needs at least two variants")
    probabilities = probability_best(outcomes, metric, seed=seed, draws=draws)
    best_name = max(probabilities, key=lambda name: probabilities[name])
    small = [o for o in outcomes if o.recipients < min_sample]
    points = {o.name: o.point(metric) for o in outcomes}
    if not small and probabilities[best_name] >= threshold:
        winner, significant = best_name, True
        reason = f"{best_name} is best with probability {probabilities[best_name]:.1%} (>= {threshold:.0%})"
    else:
        top = max(points.values())
        winner = next(o.name for o in outcomes if points[o.name] == top)
        significant = False
        if small:
            listed = ", ".join(f"{o.name} has {o.recipients}" for o in small)
            reason = f"not significant: too few recipients ({listed}; at least {min_sample} needed)"
        else:
            reason = (
                f"not significant: best probability {probabilities[best_name]:.1%} < {threshold:.0%}; "
                f"sent the higher point estimate"
            )
    record: dict[str, Any] = {
        "metric": metric,
        "winner": winner,
        "significant": significant,
        "reason": reason,
        "rule": {
            "model": "normal approximation of the mean"
            if metric == REVENUE
            else "Beta-Binomial, uniform prior",
            "threshold": threshold,
            "min_sample": min_sample,
            "draws": draws,
            "seed": seed,
        },
        "variants": [
            {
                "name": o.name,
                "recipients": o.recipients,
                "successes": o.successes,
                "revenue": round(sum(o.revenues), 2),
                "point_estimate": round(points[o.name], 6),
                "probability_best": probabilities[o.name],
            }
            for o in outcomes
        ],
    }
    return Decision(winner, significant, reason, metric, probabilities, record)
