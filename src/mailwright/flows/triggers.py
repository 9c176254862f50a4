"""Starting and ending runs: event triggers, goals and exits, awaited events, entry and collision rules.

`process_events` is shared by the `events.ingested` handler (live) and the backtest (replayed history),
so both follow exactly the same rules.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.core.db import in_values
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events_service
from mailwright.events import vocabulary as v
from mailwright.flows import conditions, repository
from mailwright.flows.engine import held_out, higher_priority_runs
from mailwright.flows.repository import RUNS, LoadedFlow
from mailwright.flows.schemas import (
    EventTrigger,
    GoalRule,
    SegmentEnteredTrigger,
    SubscribedTrigger,
    WaitForEventNode,
)
from mailwright.segments.schemas import PropertyFilter

SEGMENT_ENTERED = "Segment Entered"
# How far back the live handler looks for the events of its job (a job delayed longer than this by a
# stopped worker misses old triggers rather than flooding contacts with stale emails).
LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class FlowEvent:
    """An event as the flows see it."""

    id: int
    contact_id: int
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class Entry:
    """A request to start a flow for one contact."""

    contact_id: int
    entry_key: str
    trigger: dict[str, Any]
    trigger_event_id: int | None = None


@dataclass
class StartReport:
    """What a round of starts did."""

    started: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    collisions: int = 0
    run_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, other: "StartReport") -> None:
        """Add another round's counts."""
        self.started += other.started
        self.refused.update(other.refused)
        self.collisions += other.collisions
        self.run_ids.extend(other.run_ids)
        self.notes.extend(other.notes[: max(0, 20 - len(self.notes))])


def trigger_match(flow: LoadedFlow, event: FlowEvent) -> bool:
    """Whether an event starts this flow."""
    trigger = flow.definition.trigger
    if isinstance(trigger, EventTrigger):
        return event.name == trigger.event and conditions.matches(event.properties, trigger.where)
    if isinstance(trigger, SegmentEnteredTrigger):
        return event.name == SEGMENT_ENTERED and str(event.properties.get("segment_id")) == str(
            trigger.segment_id
        )
    if isinstance(trigger, SubscribedTrigger):
        if event.name != v.SUBSCRIBED:
            return False
        return not trigger.confirmed_only or bool(event.properties.get("confirmed", True))
    return False


def trigger_names(flow: LoadedFlow) -> set[str]:
    """The event names that can start a flow."""
    trigger = flow.definition.trigger
    if isinstance(trigger, EventTrigger):
        return {trigger.event}
    if isinstance(trigger, SegmentEnteredTrigger):
        return {SEGMENT_ENTERED}
    if isinstance(trigger, SubscribedTrigger):
        return {v.SUBSCRIBED}
    return set()


def interesting_names(flows: Sequence[LoadedFlow]) -> set[str]:
    """Every event name a flow reacts to: triggers, goals, exits and awaited events."""
    names: set[str] = set()
    for flow in flows:
        names |= trigger_names(flow)
        names |= {g.event for g in flow.definition.goals}
        names |= {g.event for g in flow.definition.exits}
        names |= {n.event for n in flow.definition.nodes if isinstance(n, WaitForEventNode)}
    return names


def event_entry(event: FlowEvent) -> Entry:
    """The entry an event makes (one run per flow, contact and event)."""
    return Entry(
        contact_id=event.contact_id,
        entry_key=f"event:{event.id}",
        trigger={
            "name": event.name,
            "properties": event.properties,
            "occurred_at": event.occurred_at.isoformat(),
            "event_id": event.id,
        },
        trigger_event_id=event.id,
    )


def start_runs(uow: UnitOfWork, flow: LoadedFlow, entries: Sequence[Entry], now: datetime) -> StartReport:
    """Start runs of a flow's current version, after entry rules, filters and collision rules."""
    session = uow.session
    report = StartReport()
    first: dict[int, Entry] = {}
    for entry in entries:
        first.setdefault(entry.contact_id, entry)
    if not first:
        return report
    definition = flow.definition
    candidates: dict[int, Entry] = {}
    prior_by_contact: dict[int, list[repository.PriorRun]] = defaultdict(list)
    for prior in repository.prior_runs(session, flow.id, list(first)):
        prior_by_contact[prior.contact_id].append(prior)
    for contact_id, entry in first.items():
        earlier = prior_by_contact.get(contact_id, [])
        if any(p.entry_key == entry.entry_key for p in earlier):
            continue  # the same trigger again (a replayed job): nothing new
        if any(p.status == "active" for p in earlier):
            report.refused["already in the flow"] += 1
            continue
        counted = [p for p in earlier if p.status != "skipped"]
        if counted and definition.entry.mode == "once":
            report.refused["entry rule: once per contact"] += 1
            continue
        if counted and definition.entry.again_after_days is not None:
            last = max(p.started_at for p in counted)
            if now - last < timedelta(days=definition.entry.again_after_days):
                report.refused[f"entry rule: again after {definition.entry.again_after_days:g} days"] += 1
                continue
        candidates[contact_id] = entry
    if candidates and definition.filters is not None:
        members = conditions.segment_matches(session, definition.filters, sorted(candidates), now)
        for contact_id in [c for c in candidates if c not in members]:
            del candidates[contact_id]
            report.refused["flow filters"] += 1
    if not candidates:
        return report
    blockers = higher_priority_runs(session, flow, list(candidates)) if flow.group else {}
    rows: list[dict[str, Any]] = []
    explanations: list[tuple[str, str, str | None]] = []
    for contact_id, entry in candidates.items():
        blocker = blockers.get(contact_id)
        status = "skipped" if blocker else "active"
        reason = f"skipped: in higher-priority flow {blocker}" if blocker else None
        rows.append(
            {
                "flow_id": flow.id,
                "version": flow.version,
                "contact_id": contact_id,
                "current_node": definition.start,
                "status": status,
                "wake_at": now if not blocker else None,
                "waiting_for": None,
                "waiting_since": None,
                "trigger_event_id": entry.trigger_event_id,
                "trigger": entry.trigger,
                "entry_key": entry.entry_key,
                "started_at": now,
                "ended_at": now if blocker else None,
                "exit_reason": reason,
                "converted": False,
                "steps": 0,
                "updated_at": now,
            }
        )
        if blocker:
            report.collisions += 1
            if len(report.notes) < 20:
                report.notes.append(f"contact {contact_id}: {flow.name} {reason}")
            explanations.append(("entry", "skipped", reason))
        else:
            report.started += 1
            explanations.append(
                ("entry", "started", f"trigger {entry.trigger.get('name') or entry.entry_key}")
            )
    ids = repository.insert_runs(session, rows)
    history = [
        {"run_id": run_id, "node_id": None, "action": a, "outcome": o, "explanation": e, "at": now}
        for run_id, (a, o, e) in zip(ids, explanations, strict=True)
    ]
    percent = definition.holdout_percent
    if percent > 0:
        # Which group each started run is in, from its start: analytics compares the two groups from here.
        history += [
            {
                "run_id": run_id,
                "node_id": None,
                "action": "holdout",
                "outcome": "holdout" if held_out(flow.id, row["contact_id"], percent) else "branch",
                "explanation": f"flow holdout {percent:g} %",
                "at": now,
            }
            for run_id, row in zip(ids, rows, strict=True)
            if row["status"] == "active"
        ]
    repository.insert_history(session, history)
    report.run_ids.extend(i for i, r in zip(ids, rows, strict=True) if r["status"] == "active")
    started_contacts = [r["contact_id"] for r in rows if r["status"] == "active"]
    if flow.group and started_contacts:
        report.collisions += _exit_lower_priority(session, flow, started_contacts, now, report)
    return report


def _exit_lower_priority(
    session: Session, flow: LoadedFlow, contact_ids: Sequence[int], now: datetime, report: StartReport
) -> int:
    # A contact who enters abandoned checkout leaves abandoned cart and browse abandonment (same group).
    assert flow.group is not None
    lower = [
        r
        for r in repository.active_in_group(session, flow.group, contact_ids)
        if r.flow_id != flow.id and r.priority < flow.priority
    ]
    if not lower:
        return 0
    reason = f"exited: entered higher-priority flow {flow.name}"
    repository.end_runs(
        session, [r.run_id for r in lower], status="exited", reason=reason, converted=False, now=now
    )
    repository.insert_history(
        session,
        [
            {
                "run_id": r.run_id,
                "node_id": None,
                "action": "collision",
                "outcome": "exited",
                "explanation": reason,
                "at": now,
            }
            for r in lower
        ],
    )
    for r in lower[: max(0, 20 - len(report.notes))]:
        report.notes.append(f"contact {r.contact_id}: {r.flow_name} {reason}")
    return len(lower)


@dataclass
class EventsReport:
    """What a round of events did to the flows."""

    starts: dict[int, StartReport] = field(default_factory=dict)
    goals: Counter[int] = field(default_factory=Counter)
    exits: Counter[int] = field(default_factory=Counter)
    resumed: int = 0


def _active_runs(
    session: Session, flow_ids: Sequence[int], contact_ids: Sequence[int]
) -> list[tuple[int, int, int, int, str | None, datetime | None, dict[str, Any], datetime, str | None]]:
    if not flow_ids or not contact_ids:
        return []
    rows = session.execute(
        select(
            RUNS.c.id,
            RUNS.c.flow_id,
            RUNS.c.version,
            RUNS.c.contact_id,
            RUNS.c.waiting_for,
            RUNS.c.waiting_since,
            RUNS.c.trigger,
            RUNS.c.started_at,
            RUNS.c.current_node,
        ).where(
            RUNS.c.status == "active",
            in_values(session, RUNS.c.flow_id, list(flow_ids)),
            in_values(session, RUNS.c.contact_id, list(contact_ids)),
        )
    )
    return [tuple(r) for r in rows]


def _origin(trigger: dict[str, Any], started_at: datetime) -> datetime:
    # A goal counts only after what started the run: the trigger event's own time when there is one
    # (a backtest or a delayed job handles events long after they happened), else the start.
    stamp = trigger.get("occurred_at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            return started_at
    return started_at


def _first_hit(rules: Sequence[GoalRule], event: FlowEvent) -> GoalRule | None:
    for rule in rules:
        if rule.event == event.name and conditions.matches(event.properties, rule.where):
            return rule
    return None


def process_events(
    uow: UnitOfWork, flows: Sequence[LoadedFlow], events: Sequence[FlowEvent], now: datetime
) -> EventsReport:
    """Start runs for trigger events, end runs on goals and exits, and wake runs waiting for an event."""
    session = uow.session
    report = EventsReport()
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.id))
    # 1. Triggers (before goals: an order placed right after a cart add in the same batch ends that run).
    # Flows start in the order of their first trigger event, so a cart add followed by a checkout in one
    # batch starts the cart run and then lets the checkout flow take over, as it would have live.
    matched: list[tuple[datetime, int, LoadedFlow, list[Entry]]] = []
    for flow in flows:
        hits = [
            e
            for e in ordered
            if trigger_match(flow, e) and (flow.activated_at is None or e.received_at >= flow.activated_at)
        ]
        if hits:
            matched.append((hits[0].occurred_at, flow.id, flow, [event_entry(e) for e in hits]))
    for _, _, flow, entries in sorted(matched, key=lambda m: (m[0], m[1])):
        report.starts[flow.id] = start_runs(uow, flow, entries, now)
    # 2. Goals and exits, and 3. awaited events, on the active runs of the contacts concerned.
    by_contact: dict[int, list[FlowEvent]] = defaultdict(list)
    for event in ordered:
        by_contact[event.contact_id].append(event)
    flow_by_id = {f.id: f for f in flows}
    watching = [f.id for f in flows if f.definition.goals or f.definition.exits]
    waiting = [f.id for f in flows if any(isinstance(n, WaitForEventNode) for n in f.definition.nodes)]
    runs = _active_runs(session, sorted(set(watching) | set(waiting)), sorted(by_contact))
    ended: dict[str, list[int]] = defaultdict(list)
    history: list[dict[str, Any]] = []
    resumed: list[dict[str, Any]] = []
    for (
        run_id,
        flow_id,
        version,
        contact_id,
        waiting_for,
        waiting_since,
        trigger,
        started_at,
        node_id,
    ) in runs:
        flow = flow_by_id[flow_id]
        definition = repository.load_version(session, flow_id, version).definition
        origin = _origin(trigger or {}, started_at)
        done = False
        for event in by_contact[contact_id]:
            if event.occurred_at < origin or event.id == (trigger or {}).get("event_id"):
                continue
            goal = _first_hit(definition.goals, event)
            exit_rule = None if goal else _first_hit(definition.exits, event)
            if goal or exit_rule:
                kind = "goal" if goal else "exit"
                reason = f"{kind}: {event.name}"
                ended[f"{kind}|{reason}"].append(run_id)
                (report.goals if goal else report.exits)[flow.id] += 1
                history.append(
                    {
                        "run_id": run_id,
                        "node_id": None,
                        "action": kind,
                        "outcome": "converted" if goal else "exited",
                        "explanation": f"{reason} at {event.occurred_at.isoformat()}",
                        "at": now,
                    }
                )
                done = True
                break
        if done or waiting_for is None or waiting_since is None:
            continue
        node = definition.node_map().get(node_id or "")
        if not isinstance(node, WaitForEventNode):
            continue
        for event in by_contact[contact_id]:
            if (
                event.name == node.event
                and event.received_at >= waiting_since
                and conditions.matches(event.properties, node.where)
            ):
                resumed.append({"id": run_id, "target": node.on_event})
                history.append(
                    {
                        "run_id": run_id,
                        "node_id": node.id,
                        "action": "wait_for_event",
                        "outcome": "event",
                        "explanation": f"{event.name} arrived",
                        "at": now,
                    }
                )
                break
    for key, run_ids in ended.items():
        kind, reason = key.split("|", 1)
        repository.end_runs(
            session,
            run_ids,
            status="completed" if kind == "goal" else "exited",
            reason=reason,
            converted=kind == "goal",
            now=now,
        )
    if resumed:
        _resume(session, resumed, now)
        report.resumed = len(resumed)
    repository.insert_history(session, history)
    return report


def _resume(session: Session, resumed: list[dict[str, Any]], now: datetime) -> None:
    from sqlalchemy import bindparam, update

    session.connection().execute(
        update(RUNS)
        .where(RUNS.c.id == bindparam("run_id"), RUNS.c.status == "active")
        .values(
            current_node=bindparam("target"),
            waiting_for=None,
            waiting_since=None,
            wake_at=now,
            steps=RUNS.c.steps + 1,
            updated_at=now,
        ),
        [{"run_id": r["id"], "target": r["target"]} for r in resumed],
    )


def load_events(
    session: Session, contact_ids: Sequence[int], names: Sequence[str], since: datetime
) -> list[FlowEvent]:
    """The stored events of these contacts with these names received since a moment."""
    return [
        FlowEvent(e.id, e.contact_id, e.name, dict(e.properties or {}), e.occurred_at, e.received_at)
        for e in events_service.events_received_since(session, contact_ids, names, since=since)
        if e.contact_id is not None
    ]


def on_events_ingested(uow: UnitOfWork, args: dict[str, Any]) -> None:
    """The `events.ingested` subscriber: start, end and wake runs for the batch's contacts."""
    flows = repository.active_flows(uow.session)
    if not flows:
        return
    names = sorted(set(args.get("names") or []) & interesting_names(flows))
    contact_ids = list(args.get("contact_ids") or [])
    if not names or not contact_ids:
        return
    now = uow.now()
    events = load_events(uow.session, contact_ids, names, now - LOOKBACK)
    if events:
        process_events(uow, flows, events, now)


def start_for_contacts(
    uow: UnitOfWork, flow: LoadedFlow, contact_ids: Sequence[int], properties: dict[str, Any], key: str
) -> StartReport:
    """Start a flow for given contacts (API-triggered flows and tests)."""
    now = uow.now()
    entries = [
        Entry(cid, f"api:{key}", {"name": "Flow Started by API", "properties": dict(properties)})
        for cid in contact_ids
    ]
    return start_runs(uow, flow, entries, now)


def property_filter(prop: str, operator: str, value: Any) -> PropertyFilter:
    """A property filter (a shorthand for the library and tests)."""
    return PropertyFilter.model_validate({"property": prop, "operator": operator, "value": value})
