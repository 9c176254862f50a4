"""The one place where every domain's background jobs are registered."""

from mailwright.core.jobs import JobRegistry


def build_registry() -> JobRegistry:
    """All job handlers of the installed domains (later domains add theirs here)."""
    return JobRegistry()
