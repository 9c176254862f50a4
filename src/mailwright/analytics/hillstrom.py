"""The lift estimators checked on a real randomized e-mail test: Kevin Hillstrom's MineThatData data.

64,000 customers were randomly sent a men's e-mail, a women's e-mail or nothing, and their visits,
conversions and spend over the next two weeks recorded. Because the arms were randomized, the difference
of each e-mailed arm from the no-e-mail arm is the true effect of the e-mail on this population, the same
quantity a flow's holdout estimates. `check` computes it with Mailwright's own estimators.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mailwright.analytics.stats import Difference, mean_difference, rate_difference

CONTROL_ARM = "No E-Mail"
EMAILED_ARMS = ("Womens E-Mail", "Mens E-Mail")
# Published arm means (the data set's documentation and every analysis of it since 2008).
REFERENCE_VISIT_RATES = {"Womens E-Mail": 0.1514, "Mens E-Mail": 0.1828, "No E-Mail": 0.1062}


@dataclass(frozen=True)
class ArmComparison:
    """One e-mailed arm against the no-e-mail arm, on one outcome."""

    arm: str
    outcome: str
    estimate: Difference


def load(path: Path) -> pd.DataFrame:
    """The Hillstrom CSV, with its columns checked."""
    frame = pd.read_csv(path)
    missing = {"segment", "visit", "conversion", "spend"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: not the Hillstrom data (missing columns {sorted(missing)})")
    return frame


def compare_arms(frame: pd.DataFrame) -> list[ArmComparison]:
    """Visit and conversion rate differences and spend per customer difference, each e-mailed arm vs none."""
    control = frame.loc[frame["segment"] == CONTROL_ARM]
    if control.empty:
        raise ValueError(f"no rows in the control arm {CONTROL_ARM!r}")
    result = []
    for arm in EMAILED_ARMS:
        treated = frame.loc[frame["segment"] == arm]
        for outcome in ("visit", "conversion"):
            estimate = rate_difference(
                int(treated[outcome].sum()), len(treated), int(control[outcome].sum()), len(control)
            )
            result.append(ArmComparison(arm, outcome, estimate))
        result.append(
            ArmComparison(
                arm,
                "spend",
                mean_difference(
                    treated["spend"].to_numpy(dtype=float), control["spend"].to_numpy(dtype=float)
                ),
            )
        )
    return result
