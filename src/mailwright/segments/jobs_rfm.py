"""Background entry point of RFM and lifecycle stages: the daily recompute."""

import logging
from datetime import timedelta
from typing import Any

from mailwright.core.jobs import JobRegistry, UnitOfWorkFactory

log = logging.getLogger(__name__)

RFM_JOB = "segments.rfm_refresh"
# Daily: recency moves with the calendar even when no order arrives; the worker's clock says when a day passed.
RFM_EVERY = timedelta(days=1)


def refresh(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Recompute RFM scores and lifecycle stages of the whole shop as of the job's clock."""
    # Imported here: numpy loads only in the process that runs the job.
    from mailwright.segments.rfm import refresh_rfm

    with open_uow() as uow:
        run = refresh_rfm(uow)
    log.info(
        "RFM refreshed as of %s: %d customers in %.2f s; lifecycle thresholds %s (%s)",
        run.computed_at.isoformat(),
        run.customers_scored,
        run.seconds,
        f"{run.thresholds.new_days}/{run.thresholds.at_risk_days}/{run.thresholds.churned_days} days",
        run.thresholds.source,
    )


def register(registry: JobRegistry) -> None:
    """Register the daily recompute."""
    registry.register_long(RFM_JOB, refresh, every=RFM_EVERY)
