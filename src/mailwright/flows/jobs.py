"""Background entry points of the flows: the periodic tick, extra advance jobs, webhooks, the events subscriber."""

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from mailwright.core.jobs import JobRegistry, UnitOfWorkFactory
from mailwright.core.uow import UnitOfWork
from mailwright.events.service import EVENTS_INGESTED_JOB
from mailwright.flows import engine, scans, triggers, webhooks
from mailwright.flows.repository import FLOWS, RUNS

TICK_JOB = "flows.tick"
ADVANCE_JOB = "flows.advance"
TICK_EVERY = timedelta(seconds=5)
BATCH = 500
# Past this backlog the tick asks other workers for help with extra advance jobs (each claims with
# SKIP LOCKED, so they share the due runs without doing one twice).
HELPERS_MAX = 4


def _due_count(uow: UnitOfWork) -> int:
    now = uow.now()
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(RUNS)
            .join(FLOWS, FLOWS.c.id == RUNS.c.flow_id)
            .where(RUNS.c.status == "active", RUNS.c.wake_at <= now, FLOWS.c.status == "active")
        )
        or 0
    )


def tick(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Periodic: date/condition/lifecycle triggers, then advance every due run."""
    with open_uow() as uow:
        now = uow.now()
        scans.scan(uow, now)
        due = _due_count(uow)
        for _ in range(min(HELPERS_MAX, due // (BATCH * 2))):
            uow.enqueue(ADVANCE_JOB)
    engine.advance_all(open_uow, now, limit=BATCH)


def advance(open_uow: UnitOfWorkFactory, args: dict[str, Any]) -> None:
    """Advance due runs until none is left (a helper of the tick on another worker)."""
    with open_uow() as uow:
        now = uow.now()
    engine.advance_all(open_uow, now, limit=BATCH)


def register(registry: JobRegistry) -> None:
    """The flows' jobs and their subscription to `events.ingested`."""
    registry.register_long(TICK_JOB, tick, every=TICK_EVERY)
    registry.register_long(ADVANCE_JOB, advance)
    registry.register(engine.WEBHOOK_JOB, webhooks.deliver)
    registry.subscribe(EVENTS_INGESTED_JOB, triggers.on_events_ingested)
