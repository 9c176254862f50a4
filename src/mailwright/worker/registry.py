"""The one place where every domain's background jobs are registered."""

from mailwright.core.jobs import JobRegistry
from mailwright.predictions import jobs as predictions_jobs


def build_registry() -> JobRegistry:
    """All job handlers of the installed domains (later domains add theirs here)."""
    registry = JobRegistry()
    predictions_jobs.register(registry)
    return registry
