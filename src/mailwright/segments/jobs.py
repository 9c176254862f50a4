"""Background entry points of the segments domain: event-driven updates and the scheduled recompute."""

import logging
from datetime import timedelta
from typing import Any

from mailwright.core.jobs import JobRegistry, UnitOfWorkFactory
from mailwright.core.uow import UnitOfWork
from mailwright.events.service import EVENTS_INGESTED_JOB
from mailwright.segments import repository, service

log = logging.getLogger(__name__)

RECOMPUTE_JOB = "segments.recompute"
# Time-relative conditions ("no order in 90 days", "clicked in the last 30 days") drift with the clock
# alone; an hourly pass on the worker's (injected) clock keeps them true.
RECOMPUTE_EVERY = timedelta(hours=1)


def on_events_ingested(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """Re-evaluate the segments these events can affect, for the contacts they touched."""
    contact_ids = [int(c) for c in args.get("contact_ids", [])]
    names = [str(n) for n in args.get("names", [])]
    service.on_events(uow, contact_ids, names)


def recompute(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Recompute every enabled segment, each in its own short transaction (dependencies first)."""
    with open_uow() as uow:
        enabled = repository.all_segments(uow.session, enabled_only=True)
        order = [segment.id for segment, _ in service.ordered_segments(enabled)]
    entered = exited = 0
    for segment_id in order:
        with open_uow() as uow:
            result = service.refresh_segments(uow, segment_ids=[segment_id])
        entered += result.entered
        exited += result.exited
    log.info("segments recomputed: %d segment(s), %d entered, %d exited", len(order), entered, exited)


def register(registry: JobRegistry) -> None:
    """Register the event handler and the hourly recompute."""
    registry.register(EVENTS_INGESTED_JOB, on_events_ingested)
    registry.register_long(RECOMPUTE_JOB, recompute, every=RECOMPUTE_EVERY)
