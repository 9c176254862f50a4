"""Background entry points of the tracking domain."""

from datetime import timedelta
from typing import Any

from mailwright.core.jobs import JobRegistry
from mailwright.core.uow import UnitOfWork
from mailwright.tracking import repository

PURGE_SIGNUP_ATTEMPTS_JOB = "tracking.purge_signup_attempts"
PURGE_EVERY = timedelta(hours=1)
# Attempts older than this count for no rate limit (the window is configurable; a day covers any sane one).
KEEP_ATTEMPTS = timedelta(days=1)


def purge_signup_attempts(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """Drop sign-up attempts too old to count, so IPs that never come back leave no rows behind."""
    repository.purge_signup_attempts(uow.session, uow.now() - KEEP_ATTEMPTS)


def register(registry: JobRegistry) -> None:
    """Register the hourly purge of old sign-up attempts."""
    registry.register(PURGE_SIGNUP_ATTEMPTS_JOB, purge_signup_attempts, every=PURGE_EVERY)
