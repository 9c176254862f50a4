"""The report's shapes, for the CLI's JSON, the API and the dashboard to come."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class MetricOut(BaseModel):
    """Counts and rates of one flow, node, campaign, variant, template or day."""

    dimension: str
    key: str
    name: str
    day: str | None
    sent: int
    delivered: int
    bounced_hard: int
    bounced_soft: int
    unique_opens: int
    machine_opens: int
    unique_clicks: int
    bot_clicks: int
    unsubscribes: int
    complaints: int
    conversions: int
    revenue_minor: int
    rates: dict[str, float | None]


class LiftOut(BaseModel):
    """A flow's or a campaign's sent vs held-out comparison (differences with 95 % intervals)."""

    # The flow's id and name, or the campaign's when `kind` is "campaign".
    flow_id: int
    flow: str
    kind: str = "flow"
    window_days: int
    n_sent: int
    n_holdout: int
    conversion: dict[str, Any] | None
    revenue_per_recipient_minor: dict[str, Any] | None
    incremental_revenue_minor: list[float] | None
    reason: str | None
    # Each recipient's revenue is capped at this value (99th percentile of both groups) before comparing.
    revenue_cap_minor: float | None = None


class Report(BaseModel):
    """Everything `mailwright report` shows."""

    since: datetime
    until: datetime
    currency: str
    orders_attributed_now: int
    totals: list[MetricOut]
    by_flow: list[MetricOut]
    by_flow_node: list[MetricOut]
    by_campaign: list[MetricOut]
    by_variant: list[MetricOut]
    by_template: list[MetricOut]
    # A message counts in every segment its recipient was in when it was sent.
    by_segment: list[MetricOut] = []
    by_day: list[MetricOut]
    lifts: list[LiftOut]
    ab_tests: list[dict[str, Any]]
    # Flow split nodes (fixed A/B tests and bandits): per branch results and the allocation by day.
    flow_tests: list[dict[str, Any]] = []
    deliverability: dict[str, Any]
    definitions: str
