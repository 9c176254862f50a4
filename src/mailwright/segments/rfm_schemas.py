"""Output shapes of RFM and lifecycle stages: the summary the API, the CLI and the demo show."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

ThresholdSource = Literal["learned", "default"]


class LifecycleThresholdsOut(BaseModel):
    """Days that separate the lifecycle stages, and whether they were learned from the shop or defaults."""

    model_config = ConfigDict(frozen=True)

    new_days: int
    at_risk_days: int
    churned_days: int
    source: ThresholdSource
    # The median (over repeat customers) of each customer's median days between orders; None if no repeat.
    median_gap_days: float | None
    repeat_customers: int
    reason: str


class NamedSegmentFigures(BaseModel):
    """Customers and revenue of one named RFM segment."""

    name: str
    customers: int
    share: float
    revenue_minor: int
    revenue_share: float


class StageFigures(BaseModel):
    """Customers in one lifecycle stage."""

    stage: str
    customers: int
    share: float


class ScoreDistribution(BaseModel):
    """How many customers hold each score 1..5 (index 0 is score 1) of R, F and M, and the R x FM grid."""

    recency: list[int]
    frequency: list[int]
    monetary: list[int]
    # grid[r - 1][fm - 1]: customers with recency score r and combined FM score fm.
    r_by_fm: list[list[int]]


class RfmSummary(BaseModel):
    """The stored RFM map and lifecycle stages of the shop, as of their last computation."""

    computed_at: datetime | None
    customers_scored: int
    currency: str
    segments: list[NamedSegmentFigures]
    scores: ScoreDistribution
    lifecycle: list[StageFigures]
    thresholds: LifecycleThresholdsOut | None
    seconds: float | None = None
