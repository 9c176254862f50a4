"""Background entry points of delivery: the sweep of messages a stopped worker left in `sending`.

Sending itself runs on every worker tick (`worker/loop.py` drives a `service.Dispatcher`), so that
each worker process keeps its SMTP connections open and all workers share the outbox at once.
"""

from datetime import timedelta
from typing import Any

from mailwright.core.jobs import JobRegistry
from mailwright.core.settings import get_settings
from mailwright.core.uow import UnitOfWork
from mailwright.delivery import service

SWEEP_JOB = "delivery.sweep"
SWEEP_EVERY = timedelta(minutes=5)


def sweep(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """Mark messages held in `sending` past the lock timeout as `review`."""
    seconds = float(args.get("timeout_seconds") or get_settings().delivery_lock_timeout_seconds)
    service.sweep_stale(uow, timedelta(seconds=seconds))


def register(registry: JobRegistry) -> None:
    """Register the periodic sweep."""
    registry.register(SWEEP_JOB, sweep, every=SWEEP_EVERY)
