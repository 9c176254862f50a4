"""Management API: the RFM map and lifecycle stages, their recompute, and the cohort table."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mailwright.core.clock import ensure_utc
from mailwright.core.web import RuntimeDep, require_admin
from mailwright.segments import cohorts, rfm
from mailwright.segments.rfm_schemas import RfmSummary

router = APIRouter(prefix="/api/v1", tags=["rfm and cohorts"], dependencies=[Depends(require_admin)])


@router.get("/rfm", summary="RFM map and lifecycle stages")
def rfm_summary(runtime: RuntimeDep) -> RfmSummary:
    """Customers and revenue per named RFM segment, score distribution, lifecycle stages and thresholds."""
    with runtime.uow() as uow:
        return rfm.summary(uow.session, runtime.settings.shop_currency)


@router.post("/rfm/refresh", summary="Recompute RFM and lifecycle stages now")
def rfm_refresh(runtime: RuntimeDep) -> RfmSummary:
    """Score every customer as of the server's clock, store it, and return the new summary."""
    with runtime.uow() as uow:
        run = rfm.refresh_rfm(uow)
        summary = rfm.summary(uow.session, runtime.settings.shop_currency, thresholds=run.thresholds)
    return summary.model_copy(update={"seconds": run.seconds})


@router.get("/cohorts", summary="Cohort table")
def cohort_table(
    runtime: RuntimeDep,
    metric: Annotated[cohorts.Metric, Query(description=" | ".join(cohorts.METRICS))] = "retention",
    period: Annotated[cohorts.Period, Query(description="month | quarter")] = "month",
    as_of: Annotated[datetime | None, Query(description="Orders up to this moment (default: now).")] = None,
) -> cohorts.CohortTable:
    """Acquisition cohorts x periods since the first order, for one metric (see `label`)."""
    with runtime.uow() as uow:
        moment = ensure_utc(as_of) if as_of is not None else uow.now()
        return cohorts.cohort_table(uow.session, moment, metric=metric, period=period)
