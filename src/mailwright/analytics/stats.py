"""The estimators behind every lift figure: differences of rates and of means, with 95 % intervals.

Rates (visit, conversion, click) use Newcombe's hybrid score interval for a difference of two proportions
(method 10 of Newcombe 1998): unlike the textbook Wald interval it keeps its coverage when a rate is near
0 or when one group is small, which is the usual case for a 10 % holdout with a 2 % conversion rate.
Money per recipient is zero for most recipients and heavy-tailed for the rest; with hundreds of
recipients per group the difference of means is close to normal, so Welch's interval (unequal variances)
is used, and a bootstrap check in the tests keeps that claim honest.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Difference:
    """Treated minus control, with a confidence interval and both sides' figures."""

    treated: float
    control: float
    difference: float
    low: float
    high: float
    n_treated: int
    n_control: int
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return self.low > 0.0 or self.high < 0.0

    def relative_lift(self) -> float | None:
        """Difference as a share of the control figure (None when the control figure is zero)."""
        return self.difference / self.control if self.control else None


def _z(confidence: float) -> float:
    if confidence == 0.95:
        return Z_95
    # Imported when needed: scipy takes a second to load, and the API and CLI import this module.
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of one proportion."""
    if trials <= 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # At 0 or all successes the bound is exactly 0 or 1; float rounding must not pull it inside the rate.
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == trials else min(1.0, max(p, centre + half))
    return (low, high)


def rate_difference(
    successes_treated: int,
    n_treated: int,
    successes_control: int,
    n_control: int,
    confidence: float = 0.95,
) -> Difference:
    """Difference of two proportions with Newcombe's hybrid score interval."""
    if n_treated <= 0 or n_control <= 0:
        raise ValueError("both groups need at least one member")
    for name, successes, n in (
        ("treated", successes_treated, n_treated),
        ("control", successes_control, n_control),
    ):
        if not 0 <= successes <= n:
            raise ValueError(f"{name}: {successes} successes out of {n} is not a proportion")
    p1, p2 = successes_treated / n_treated, successes_control / n_control
    l1, u1 = wilson_interval(successes_treated, n_treated, confidence)
    l2, u2 = wilson_interval(successes_control, n_control, confidence)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(p1, p2, difference, low, high, n_treated, n_control, confidence)


def mean_difference(
    treated: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> Difference:
    """Difference of two means (e.g. revenue per recipient) with Welch's interval."""
    a = np.asarray(treated, dtype=float)
    b = np.asarray(control, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("both groups need at least two members for an interval")
    difference = float(a.mean() - b.mean())
    va, vb = float(a.var(ddof=1)) / len(a), float(b.var(ddof=1)) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Difference(
            float(a.mean()), float(b.mean()), difference, difference, difference, len(a), len(b)
        )
    # Welch-Satterthwaite degrees of freedom.
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    from scipy import stats

    t = float(stats.t.ppf(0.5 + confidence / 2.0, dof))
    return Difference(
        float(a.mean()),
        float(b.mean()),
        difference,
        difference - t * se,
        difference + t * se,
        len(a),
        len(b),
        confidence,
    )


def incremental_total(per_recipient: Difference) -> tuple[float, float, float]:
    """The difference per recipient scaled to every treated recipient: (estimate, low, high)."""
    n = per_recipient.n_treated
    return (per_recipient.difference * n, per_recipient.low * n, per_recipient.high * n)
