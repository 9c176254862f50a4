"""The one place where every domain's background jobs are registered."""

from mailwright.analytics import jobs as analytics_jobs
from mailwright.campaigns import jobs as campaigns_jobs
from mailwright.connectors import jobs as connectors_jobs
from mailwright.core.jobs import JobRegistry
from mailwright.delivery import jobs as delivery_jobs
from mailwright.flows import jobs as flows_jobs
from mailwright.predictions import jobs as predictions_jobs
from mailwright.segments import jobs as segments_jobs
from mailwright.segments import jobs_rfm
from mailwright.tracking import jobs as tracking_jobs


def build_registry() -> JobRegistry:
    """All job handlers of the installed domains (later domains add theirs here)."""
    registry = JobRegistry()
    predictions_jobs.register(registry)
    delivery_jobs.register(registry)
    campaigns_jobs.register(registry)
    jobs_rfm.register(registry)
    segments_jobs.register(registry)
    flows_jobs.register(registry)
    tracking_jobs.register(registry)
    # Last: it adds itself to events.ingested after the handlers of the lower layers.
    connectors_jobs.register(registry)
    analytics_jobs.register(registry)
    return registry
