"""Management API: the report and its metrics, shaped for the dashboard to come."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mailwright.analytics import metrics, service
from mailwright.analytics.schemas import MetricOut, Report
from mailwright.core.clock import ensure_utc
from mailwright.core.web import RuntimeDep, require_admin

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], dependencies=[Depends(require_admin)])


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    return (ensure_utc(since) if since else None, ensure_utc(until) if until else None)


@router.get("/report", summary="What each email earned")
def report(
    runtime: RuntimeDep,
    flow_id: int | None = None,
    campaign_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Metrics by flow, node, campaign, variant, template and day; holdout lifts; A/B decisions; health."""
    start, end = _window(since, until)
    with runtime.uow() as uow:
        return service.build_report(
            uow, runtime.settings, since=start, until=end, flow_id=flow_id, campaign_id=campaign_id
        )


@router.get("/metrics", summary="Metrics of one dimension")
def metric_rows(
    runtime: RuntimeDep,
    dimension: Annotated[str, Query(description=" | ".join(metrics.DIMENSIONS))] = "flow",
    since: datetime | None = None,
    until: datetime | None = None,
    by_day: bool = False,
) -> list[MetricOut]:
    """Sent, delivered, opens, clicks, unsubscribes, complaints, conversions and revenue per dimension value."""
    start, end = _window(since, until)
    with runtime.uow() as uow:
        end = end or uow.now() + timedelta(seconds=1)
        return service.metric_rows(
            uow.session, dimension, since=start or end - timedelta(days=30), until=end, by_day=by_day
        )
