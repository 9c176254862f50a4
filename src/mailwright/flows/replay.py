"""Replaying stored history through flows with a simulated clock (the backtest and the demo).

Time jumps from one interesting moment to the next (the next stored event, the next run waking up, the
next periodic look), so two months of a shop replay in seconds. The live engine's own functions do the
work: `process_events`, the periodic scan and `advance_all`, so a replay follows exactly the live rules.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from mailwright.core.clock import ManualClock
from mailwright.core.db import in_values
from mailwright.core.uow import UnitOfWork
from mailwright.events.models import Event
from mailwright.flows import engine, repository, scans
from mailwright.flows.engine import RunState
from mailwright.flows.models import FlowRun
from mailwright.flows.repository import RUNS, LoadedFlow
from mailwright.flows.schemas import (
    ConditionTrigger,
    DateTrigger,
    LifecycleTrigger,
    SendEmailNode,
    UpdateProfileNode,
    WebhookNode,
)
from mailwright.flows.triggers import FlowEvent, interesting_names, process_events

UowFactory = Callable[[], Any]


class CountingSink:
    """A sink that sends nothing: it counts the emails and webhooks each node would have queued."""

    def __init__(self) -> None:
        self.emails: Counter[tuple[int, str, str]] = Counter()
        self.webhooks: Counter[tuple[int, str]] = Counter()

    def send(
        self, uow: UnitOfWork, flow: LoadedFlow, node: SendEmailNode, picks: Sequence[tuple[RunState, str]]
    ) -> list[str]:
        """Count the emails."""
        for _, template in picks:
            self.emails[(flow.id, node.id, template)] += 1
        return [f"would send {template} (backtest)" for _, template in picks]

    def webhook(self, uow: UnitOfWork, run: RunState, flow: LoadedFlow, node: WebhookNode) -> str:
        """Count the webhook."""
        self.webhooks[(flow.id, node.id)] += 1
        return f"would POST to {node.url} (backtest)"

    def update_profile(self, uow: UnitOfWork, runs: Sequence[RunState], node: UpdateProfileNode) -> None:
        """Change nothing: a backtest leaves profiles alone."""


@dataclass
class FlowFigures:
    """What a replay did for one flow."""

    flow_id: int
    name: str
    runs_started: int = 0
    contacts_entered: int = 0
    goal_exits: int = 0
    exits: int = 0
    collisions: int = 0
    still_running: int = 0
    collision_examples: list[str] = field(default_factory=list)


def _max_step(flows: Sequence[LoadedFlow]) -> timedelta:
    step = timedelta(days=1)
    for flow in flows:
        trigger = flow.definition.trigger
        if isinstance(trigger, DateTrigger):
            step = min(step, scans.DATE_SCAN_EVERY)
        elif isinstance(trigger, LifecycleTrigger):
            step = min(step, scans.LIFECYCLE_SCAN_EVERY)
        elif isinstance(trigger, ConditionTrigger):
            step = min(step, timedelta(hours=trigger.every_hours))
    return step


def stored_events(uow: UnitOfWork, names: Sequence[str], start: datetime, end: datetime) -> list[FlowEvent]:
    """The stored events with these names that happened in [start, end), oldest first, as if received then."""
    if not names:
        return []
    rows = uow.session.execute(
        select(Event.id, Event.contact_id, Event.name, Event.properties, Event.occurred_at)
        .where(
            in_values(uow.session, Event.name, list(names)),
            Event.occurred_at >= start,
            Event.occurred_at < end,
            Event.contact_id.is_not(None),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    return [FlowEvent(i, c, n, dict(p or {}), at, at) for i, c, n, p, at in rows]


def _next_wake(uow: UnitOfWork, flow_ids: Sequence[int]) -> datetime | None:
    value: datetime | None = uow.session.scalar(
        select(func.min(RUNS.c.wake_at)).where(
            RUNS.c.status == "active", in_values(uow.session, RUNS.c.flow_id, list(flow_ids))
        )
    )
    return value


def replay(
    open_uow: UowFactory,
    clock: ManualClock,
    flow_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    sink: engine.Sink,
    window: timedelta = timedelta(minutes=15),
    every_day: Callable[[datetime], None] | None = None,
    default_zone: str = "UTC",
    max_step: timedelta | None = None,
) -> None:
    """Run the flows over [start, end) on the stored events, moving `clock` from moment to moment.

    `max_step` caps how far time jumps when nothing happens (by default the finest periodic trigger's
    period, 15 minutes with a date trigger); a coarser step is quicker and fires date triggers later.
    """
    clock.set(start)
    with open_uow() as uow:
        flows = [repository.load_version(uow.session, fid, _current(uow, fid)) for fid in flow_ids]
        events = stored_events(uow, sorted(interesting_names(flows)), start, end)
    step = max_step or _max_step(flows)
    wanted = set(flow_ids)
    now = start
    index = 0
    next_day = start + timedelta(days=1)
    while now < end:
        with open_uow() as uow:
            wake = _next_wake(uow, flow_ids)
        candidates = [now + step, end]
        if index < len(events):
            candidates.append(max(events[index].occurred_at + window, now + timedelta(seconds=1)))
        if wake is not None:
            candidates.append(max(wake, now + timedelta(seconds=1)))
        now = min(candidates)
        clock.set(now)
        batch: list[FlowEvent] = []
        while index < len(events) and events[index].occurred_at <= now:
            batch.append(events[index])
            index += 1
        with open_uow() as uow:
            live = [f for f in repository.active_flows(uow.session) if f.id in wanted]
            if batch:
                process_events(uow, live, batch, now)
            scans.scan(uow, now, default_zone=default_zone, flows=live)
        engine.advance_all(open_uow, now, sink=sink)
        if every_day is not None and now >= next_day:
            every_day(now)
            next_day = now + timedelta(days=1)


def _current(uow: UnitOfWork, flow_id: int) -> int:
    from mailwright.flows.models import Flow

    flow = uow.session.get(Flow, flow_id)
    if flow is None:
        raise LookupError(f"no flow {flow_id}")
    return flow.current_version


def figures(uow: UnitOfWork, flow: LoadedFlow, since: datetime) -> FlowFigures:
    """Runs of a flow started since a moment: entered, converted, exited, collisions, still running."""
    out = FlowFigures(flow.id, flow.name)
    rows = uow.session.execute(
        select(FlowRun.contact_id, FlowRun.status, FlowRun.converted, FlowRun.exit_reason).where(
            FlowRun.flow_id == flow.id, FlowRun.started_at >= since
        )
    )
    contacts: set[int] = set()
    for contact_id, status, converted, reason in rows:
        collided = status == "skipped" or "higher-priority" in (reason or "")
        if collided:
            out.collisions += 1
            if len(out.collision_examples) < 5:
                out.collision_examples.append(f"contact {contact_id}: {reason}")
        if status == "skipped":
            continue
        out.runs_started += 1
        contacts.add(contact_id)
        if converted:
            out.goal_exits += 1
        elif status == "exited" and not collided:
            out.exits += 1
        if status == "active":
            out.still_running += 1
    out.contacts_entered = len(contacts)
    return out
