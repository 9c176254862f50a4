"""The flow engine: claim due runs in batches and move each through its graph until it waits or ends.

A run is a row; the engine claims due rows (`status = 'active' AND wake_at <= now`, FOR UPDATE SKIP LOCKED
on PostgreSQL so any number of workers share them) and advances a whole batch in one transaction,
together with the outbox rows it queues and its history lines: a crash rolls all of it back and another
worker takes the runs again; the outbox's idempotency key (flow, version, run, node) is the backstop.

The batch moves in waves: all runs standing on the same node of the same flow version are handled
together, so a condition or a filter is one query for the whole group, not one per run.
"""

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.contacts.models import Contact
from mailwright.core.db import in_values
from mailwright.core.errors import NotFound
from mailwright.core.uow import UnitOfWork
from mailwright.flows import bandit, conditions, profile, repository
from mailwright.flows.repository import FLOWS, RUNS, LoadedFlow
from mailwright.flows.schemas import (
    ConditionNode,
    ExitNode,
    RandomSplitNode,
    SendEmailNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
    WaitUntilNode,
    WebhookNode,
)
from mailwright.flows.validation import nodes_on_cycles

# Enough for any validated graph (no loop without a wait); a run still moving after this many nodes in
# one tick continues at the next tick instead of holding the batch.
MAX_WAVES = 64
WEBHOOK_JOB = "flows.webhook"


@dataclass
class RunState:
    """One run as the engine holds it during a batch (a plain copy of the row, written back at the end)."""

    id: int
    flow_id: int
    version: int
    contact_id: int
    current_node: str | None
    status: str
    wake_at: datetime | None
    waiting_for: str | None
    waiting_since: datetime | None
    started_at: datetime
    trigger: dict[str, Any]
    steps: int
    ended_at: datetime | None = None
    exit_reason: str | None = None
    converted: bool = False
    updated_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        """The columns `repository.update_runs` writes."""
        return {
            "id": self.id,
            "current_node": self.current_node,
            "status": self.status,
            "wake_at": self.wake_at,
            "waiting_for": self.waiting_for,
            "waiting_since": self.waiting_since,
            "ended_at": self.ended_at,
            "exit_reason": self.exit_reason,
            "converted": self.converted,
            "steps": self.steps,
            "updated_at": self.updated_at,
        }


class Sink(Protocol):
    """Where a send or a webhook node's work goes: the outbox and the job queue, or a backtest's counter."""

    def send(
        self, uow: UnitOfWork, flow: LoadedFlow, node: SendEmailNode, picks: Sequence[tuple[RunState, str]]
    ) -> list[str]:
        """Queue one email per (run, template) of one send node; returns what to write in each history."""
        ...

    def webhook(self, uow: UnitOfWork, run: RunState, flow: LoadedFlow, node: WebhookNode) -> str:
        """Queue one outbound webhook; returns what to write in the history."""
        ...

    def update_profile(self, uow: UnitOfWork, runs: Sequence[RunState], node: UpdateProfileNode) -> None:
        """Apply a profile update to the runs' contacts."""
        ...


def message_key(flow_id: int, version: int, run_id: int, node_id: str, visit: int | None = None) -> str:
    """The outbox idempotency key of one (run, node): a crash and a retry queue it once.

    A node on a loop is visited more than once; each visit is told apart by the run's step count there.
    """
    key = f"flow:{flow_id}:v{version}:run:{run_id}:node:{node_id}"
    return key if visit is None else f"{key}:step:{visit}"


def revisited(session: Session, flow: LoadedFlow) -> frozenset[str]:
    """The nodes of a flow version that a run can visit more than once (cached per session)."""
    cache: dict[tuple[int, int], frozenset[str]] = session.info.setdefault("flow_cycles", {})
    key = (flow.id, flow.version)
    if key not in cache:
        cache[key] = nodes_on_cycles(flow.definition)
    return cache[key]


_PRODUCT_KEYS = ("product_id", "sku", "name", "price", "quantity", "url", "image_url", "category", "brand")


def trigger_context(trigger: dict[str, Any]) -> dict[str, Any]:
    """The trigger event as templates see it: its properties, its name, and always a `products` list.

    A single-product event (Product Added, Product Viewed) becomes a one-line cart, so the cart templates
    work whichever event started the flow.
    """
    properties = dict(trigger.get("properties") or {})
    if "products" not in properties and "product_id" in properties:
        line = {k: properties[k] for k in _PRODUCT_KEYS if k in properties}
        line.setdefault("quantity", 1)
        properties["products"] = [line]
        properties.setdefault("product", line)
    properties.setdefault("products", [])
    properties["name"] = trigger.get("name") or properties.get("name")
    return properties


def _catalog_line(session: Session, product_id: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if product_id not in cache:
        try:
            product = catalog.get_product(session, product_id)
            cache[product_id] = {
                "name": product.title,
                "url": product.url,
                "image_url": product.image_url,
                "price": product.price_minor / 100 if product.price_minor is not None else None,
                "category": product.categories[0] if product.categories else None,
            }
        except NotFound:
            cache[product_id] = {}
    return cache[product_id]


def event_context(
    session: Session, trigger: dict[str, Any], cache: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`trigger_context` with each product line completed from the catalog (title, link, image, price)."""
    if cache is None:
        cache = session.info.setdefault("flow_catalog", {})
    properties = trigger_context(trigger)
    lines = []
    for item in properties["products"]:
        if not isinstance(item, dict):
            continue
        line = dict(item)
        known = _catalog_line(session, str(line["product_id"]), cache) if line.get("product_id") else {}
        for key in ("name", "url", "image_url", "price", "category"):
            if line.get(key) is None:
                line[key] = known.get(key)
        line.setdefault("quantity", 1)
        if line["price"] is None:
            line["price"] = 0
        lines.append(line)
    properties["products"] = lines
    if lines and isinstance(properties.get("product"), dict):
        properties["product"] = lines[0]
    return properties


class OutboxSink:
    """The real sink: delivery's outbox (guards apply at send time) and the job queue for webhooks."""

    def __init__(self) -> None:
        # Catalog lines by product id, for as long as this sink lives (a batch, or a whole replay).
        self.catalog: dict[str, dict[str, Any]] = {}

    def send(
        self, uow: UnitOfWork, flow: LoadedFlow, node: SendEmailNode, picks: Sequence[tuple[RunState, str]]
    ) -> list[str]:
        """Queue the emails through delivery in one batch, each idempotent on its (run, node) key."""
        from mailwright.delivery import service as delivery
        from mailwright.delivery.schemas import MessageIn

        loop = node.id in revisited(uow.session, flow)
        queued = delivery.enqueue_many(
            uow,
            [
                MessageIn(
                    contact_id=run.contact_id,
                    template_name=template,
                    idempotency_key=message_key(
                        flow.id, run.version, run.id, node.id, run.steps if loop else None
                    ),
                    source_kind="flow",
                    source_id=f"{flow.id}:{node.id}",
                    category=node.category,
                    topic=node.topic,
                    context={
                        "event": event_context(uow.session, run.trigger, self.catalog),
                        "message": dict(node.message),
                    },
                )
                for run, template in picks
            ],
        )
        return [f"queued {t} as message {q.public_id}" for (_, t), q in zip(picks, queued, strict=True)]

    def webhook(self, uow: UnitOfWork, run: RunState, flow: LoadedFlow, node: WebhookNode) -> str:
        """Queue the signed POST as a retried job."""
        uow.enqueue(WEBHOOK_JOB, run_id=run.id, flow_id=flow.id, version=run.version, node_id=node.id)
        return f"webhook to {node.url} queued"

    def update_profile(self, uow: UnitOfWork, runs: Sequence[RunState], node: UpdateProfileNode) -> None:
        """Write the changes to the contacts."""
        profile.apply(
            uow, [r.contact_id for r in runs], node, source=f"flow:{runs[0].flow_id}" if runs else "flow"
        )


@dataclass
class BatchReport:
    """What one batch (or a whole tick) did."""

    claimed: int = 0
    moved: int = 0
    sent: int = 0
    held_out: int = 0
    ended: int = 0
    collisions: int = 0
    per_node: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    collision_notes: list[str] = field(default_factory=list)

    def add(self, other: "BatchReport") -> None:
        """Add another batch's counts."""
        self.claimed += other.claimed
        self.moved += other.moved
        self.sent += other.sent
        self.held_out += other.held_out
        self.ended += other.ended
        self.collisions += other.collisions
        for key, n in other.per_node.items():
            self.per_node[key] += n
        self.collision_notes.extend(other.collision_notes[: max(0, 20 - len(self.collision_notes))])


_COLUMNS = (
    RUNS.c.id,
    RUNS.c.flow_id,
    RUNS.c.version,
    RUNS.c.contact_id,
    RUNS.c.current_node,
    RUNS.c.status,
    RUNS.c.wake_at,
    RUNS.c.waiting_for,
    RUNS.c.waiting_since,
    RUNS.c.started_at,
    RUNS.c.trigger,
    RUNS.c.steps,
)


def claim_due(session: Session, now: datetime, limit: int) -> list[RunState]:
    """Lock up to `limit` due runs of active flows (skipping rows other workers hold)."""
    stmt = (
        select(*_COLUMNS)
        .join(FLOWS, FLOWS.c.id == RUNS.c.flow_id)
        .where(RUNS.c.status == "active", RUNS.c.wake_at <= now, FLOWS.c.status == "active")
        .order_by(RUNS.c.wake_at, RUNS.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=RUNS, skip_locked=True)
    return [RunState(**row._mapping) for row in session.execute(stmt)]


def advance_batch(
    uow: UnitOfWork, now: datetime, *, limit: int = 1000, sink: Sink | None = None
) -> BatchReport:
    """Claim one batch of due runs and advance each until it waits or ends, in the caller's transaction."""
    runs = claim_due(uow.session, now, limit)
    report = BatchReport(claimed=len(runs))
    if runs:
        Stepper(uow, now, sink or OutboxSink(), report).run(runs)
    return report


def advance_all(
    open_uow: Callable[[], Any],
    now: datetime,
    *,
    limit: int = 1000,
    sink: Sink | None = None,
    max_batches: int = 10_000,
) -> BatchReport:
    """Advance batches, each in its own transaction, until no run is due at `now`."""
    total = BatchReport()
    for _ in range(max_batches):
        with open_uow() as uow:
            report = advance_batch(uow, now, limit=limit, sink=sink)
        total.add(report)
        if report.claimed < limit:
            break
    return total


def _seed(run_id: int, node_id: str) -> float:
    # Stable per (run, node): a retried batch sends a run down the same branch and picks the same variant.
    digest = hashlib.blake2b(f"{run_id}:{node_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def pick_weighted(run_id: int, node_id: str, weights: Sequence[float]) -> int:
    """The index of the branch (or variant) a run takes, in proportion to the weights."""
    point = _seed(run_id, node_id) * sum(weights)
    for index, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return index
    return len(weights) - 1


def held_out(flow_id: int, contact_id: int, percent: float) -> bool:
    """Whether a contact is in a flow's holdout (goes through the flow, is sent nothing by it).

    Drawn per contact and flow, not per run: a contact held out stays held out in every run of the flow, so
    no email of the flow reaches the control group through another run.
    """
    # "#" cannot start a node id, so the draw is independent of every split and variant pick.
    return percent > 0 and _seed(contact_id, f"#holdout:{flow_id}") * 100 < percent


def _zone(name: str | None, default: str) -> ZoneInfo:
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def next_local_time(now: datetime, zone: ZoneInfo, at: str, weekdays: Sequence[int]) -> datetime:
    """The first moment at or after `now` that is `at` (HH:MM) local time on one of `weekdays` (any if empty)."""
    hour, minute = (int(p) for p in at.split(":"))
    local = now.astimezone(zone)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if weekdays and day.weekday() not in weekdays:
            continue
        candidate = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if candidate >= local:
            return candidate.astimezone(now.tzinfo)
    return now  # pragma: no cover - some day within a week always matches


class Stepper:
    """Moves one batch of runs through their graphs, wave by wave."""

    def __init__(self, uow: UnitOfWork, now: datetime, sink: Sink, report: BatchReport) -> None:
        self.uow = uow
        self.session = uow.session
        self.now = now
        self.sink = sink
        self.report = report
        self.history: list[dict[str, Any]] = []
        self.default_zone = "UTC"

    def note(
        self, run: RunState, node_id: str | None, action: str, outcome: str, explanation: str | None
    ) -> None:
        """Add a history line."""
        self.history.append(
            {
                "run_id": run.id,
                "node_id": node_id,
                "action": action,
                "outcome": outcome,
                "explanation": explanation,
                "at": self.now,
            }
        )

    def run(self, runs: list[RunState]) -> None:
        """Advance every run until it waits or ends, then write all changes at once."""
        pending = runs
        for _ in range(MAX_WAVES):
            if not pending:
                break
            groups: dict[tuple[int, int, str | None], list[RunState]] = defaultdict(list)
            for run in pending:
                groups[(run.flow_id, run.version, run.current_node)].append(run)
            pending = []
            for (flow_id, version, node_id), group in groups.items():
                pending.extend(
                    self._step(repository.load_version(self.session, flow_id, version), node_id, group)
                )
        for run in pending:
            # Still moving after MAX_WAVES nodes: the next tick continues from here.
            run.wake_at = self.now
        for run in runs:
            run.updated_at = self.now
        repository.update_runs(self.session, [r.row() for r in runs])
        repository.insert_history(self.session, self.history)

    # ---- moves ----------------------------------------------------------------------------------------

    def move(self, run: RunState, target: str | None, out: list[RunState]) -> None:
        """Send a run on to `target` (or complete it when there is no next node)."""
        if target is None:
            self.end(run, "completed", "completed: reached the end of the flow")
            return
        run.current_node = target
        run.waiting_for = None
        run.waiting_since = None
        run.wake_at = self.now
        run.steps += 1
        self.report.moved += 1
        out.append(run)

    def arrival(self, run: RunState) -> datetime:
        """When the run reached its current node: a wait counts from there, even if the tick came later."""
        return min(run.wake_at or self.now, self.now)

    def wait(self, run: RunState, until: datetime, waiting_for: str | None = None) -> None:
        """Park a run on its current node until `until`."""
        run.waiting_since = self.arrival(run)
        run.waiting_for = waiting_for
        run.wake_at = until

    def end(self, run: RunState, status: str, reason: str, *, converted: bool = False) -> None:
        """End a run with a reason."""
        run.status = status
        run.exit_reason = reason
        run.converted = converted
        run.ended_at = self.now
        run.wake_at = None
        run.waiting_for = None
        self.report.ended += 1

    # ---- nodes ----------------------------------------------------------------------------------------

    def _step(self, flow: LoadedFlow, node_id: str | None, runs: list[RunState]) -> list[RunState]:
        out: list[RunState] = []
        node = flow.definition.node_map().get(node_id or flow.definition.start)
        if node is None:
            for run in runs:
                self.note(
                    run, node_id, "error", "exited", f"node {node_id!r} is not in version {flow.version}"
                )
                self.end(run, "exited", f"exited: node {node_id!r} missing")
            return out
        if node_id is None:
            for run in runs:
                run.current_node = node.id
        if isinstance(node, WaitNode):
            self._wait(node, runs, out)
        elif isinstance(node, WaitUntilNode):
            self._wait_until(node, runs, out)
        elif isinstance(node, WaitForEventNode):
            self._wait_for_event(node, runs, out)
        elif isinstance(node, ConditionNode):
            hits = conditions.evaluate(
                self.session,
                node.condition,
                [(r.id, r.contact_id, r.started_at, r.trigger) for r in runs],
                self.now,
            )
            for run in runs:
                yes = run.id in hits
                self.note(run, node.id, "condition", "yes" if yes else "no", None)
                self.move(run, node.yes if yes else node.no, out)
        elif isinstance(node, RandomSplitNode):
            weights = [b.weight for b in node.branches]

            def weighted(run_id: int) -> int:
                return pick_weighted(run_id, node.id, weights)

            if node.mode == "thompson":
                picks = bandit.choose(self.session, flow.id, node, [r.id for r in runs], self.now, weighted)
            else:
                indexes = [weighted(r.id) for r in runs]
                picks = [(i, f"branch {bandit.branch_label(node.branches[i])}") for i in indexes]
            for run, (index, why) in zip(runs, picks, strict=True):
                branch = node.branches[index]
                self.note(run, node.id, "split", "holdout" if branch.holdout else "branch", why)
                self.move(run, branch.next, out)
        elif isinstance(node, SendEmailNode):
            self._send(flow, node, runs, out)
        elif isinstance(node, UpdateProfileNode):
            self.sink.update_profile(self.uow, runs, node)
            for run in runs:
                self.note(run, node.id, "update_profile", "done", _describe_update(node))
                self.move(run, node.next, out)
        elif isinstance(node, WebhookNode):
            for run in runs:
                self.note(run, node.id, "webhook", "queued", self.sink.webhook(self.uow, run, flow, node))
                self.move(run, node.next, out)
        elif isinstance(node, ExitNode):
            for run in runs:
                self.note(run, node.id, "exit", "completed", node.reason)
                self.end(run, "completed", node.reason)
        return out

    def _resuming(self, runs: list[RunState]) -> tuple[list[RunState], list[RunState]]:
        entering = [r for r in runs if r.waiting_since is None]
        resuming = [r for r in runs if r.waiting_since is not None]
        return entering, resuming

    def _wait(self, node: WaitNode, runs: list[RunState], out: list[RunState]) -> None:
        entering, resuming = self._resuming(runs)
        for run in entering:
            until = self.arrival(run) + timedelta(seconds=node.seconds())
            if until <= self.now:
                self.move(run, node.next, out)
                continue
            self.wait(run, until)
            self.note(run, node.id, "wait", "waiting", f"until {until.isoformat()}")
        for run in resuming:
            self.move(run, node.next, out)

    def _zones(self, contact_ids: Sequence[int]) -> dict[int, str | None]:
        rows = self.session.execute(
            select(Contact.id, Contact.timezone).where(in_values(self.session, Contact.id, list(contact_ids)))
        )
        return {int(cid): tz for cid, tz in rows}

    def _wait_until(self, node: WaitUntilNode, runs: list[RunState], out: list[RunState]) -> None:
        entering, resuming = self._resuming(runs)
        zones = self._zones([r.contact_id for r in entering]) if entering else {}
        for run in entering:
            zone = _zone(zones.get(run.contact_id), self.default_zone)
            until = next_local_time(self.now, zone, node.time, node.weekdays)
            if until <= self.now:
                self.move(run, node.next, out)
                continue
            self.wait(run, until)
            self.note(
                run, node.id, "wait_until", "waiting", f"until {node.time} {zone.key} ({until.isoformat()})"
            )
        for run in resuming:
            self.move(run, node.next, out)

    def _wait_for_event(self, node: WaitForEventNode, runs: list[RunState], out: list[RunState]) -> None:
        entering, resuming = self._resuming(runs)
        for run in entering:
            until = self.arrival(run) + timedelta(hours=node.timeout_hours)
            self.wait(run, until, waiting_for=node.event)
            self.note(
                run, node.id, "wait_for_event", "waiting", f"for {node.event} until {until.isoformat()}"
            )
        if resuming:
            # The event may have been stored but not yet handed to the flows handler: look before timing out.
            since = {r.contact_id: r.waiting_since for r in resuming if r.waiting_since is not None}
            seen = conditions.performed_since(self.session, since, [node.event], node.where, self.now)
            for run in resuming:
                came = (
                    run.contact_id in seen
                    and run.waiting_since is not None
                    and seen[run.contact_id] > run.waiting_since
                )
                self.note(run, node.id, "wait_for_event", "event" if came else "timeout", node.event)
                self.move(run, node.on_event if came else node.on_timeout, out)

    def _send(self, flow: LoadedFlow, node: SendEmailNode, runs: list[RunState], out: list[RunState]) -> None:
        live = runs
        if flow.definition.filters is not None:
            members = conditions.segment_matches(
                self.session, flow.definition.filters, sorted({r.contact_id for r in runs}), self.now
            )
            live = []
            for run in runs:
                if run.contact_id in members:
                    live.append(run)
                    continue
                self.note(run, node.id, "send_email", "skipped", "exited: no longer matches the flow filters")
                self.end(run, "exited", "exited: no longer matches the flow filters")
        if flow.group is not None and live:
            blockers = higher_priority_runs(self.session, flow, [r.contact_id for r in live])
            kept = []
            for run in live:
                blocker = blockers.get(run.contact_id)
                if blocker is None:
                    kept.append(run)
                    continue
                why = f"skipped: in higher-priority flow {blocker}"
                self.note(run, node.id, "send_email", "skipped", why)
                self.end(run, "exited", why)
                self.report.collisions += 1
                if len(self.report.collision_notes) < 20:
                    self.report.collision_notes.append(f"contact {run.contact_id}: {flow.name} {why}")
            live = kept
        names = [node.template] if node.template else []
        weights = [1.0] if node.template else []
        names += [v.template for v in node.variants]
        weights += [v.weight for v in node.variants]
        percent = flow.definition.holdout_percent
        picks = []
        for run in live:
            if held_out(flow.id, run.contact_id, percent):
                # The control group: the run goes on exactly as if it had been sent this email.
                self.note(
                    run, node.id, "send_email", "held_out", f"holdout ({percent:g} % of runs): not sent"
                )
                self.report.held_out += 1
                self.move(run, node.next, out)
                continue
            picks.append(
                (run, names[pick_weighted(run.id, node.id, weights)] if len(names) > 1 else names[0])
            )
        notes = self.sink.send(self.uow, flow, node, picks) if picks else []
        for (run, _), note in zip(picks, notes, strict=True):
            self.note(run, node.id, "send_email", "queued", note)
            self.report.sent += 1
            self.report.per_node[(flow.id, node.id)] += 1
            self.move(run, node.next, out)


def higher_priority_runs(session: Session, flow: LoadedFlow, contact_ids: Sequence[int]) -> dict[int, str]:
    """Per contact, the name of an active flow of the same group that outranks `flow` (collision rule)."""
    if flow.group is None:
        return {}
    found: dict[int, tuple[int, str]] = {}
    for other in repository.active_in_group(session, flow.group, contact_ids):
        if other.flow_id == flow.id or other.priority <= flow.priority:
            continue
        best = found.get(other.contact_id)
        if best is None or other.priority > best[0]:
            found[other.contact_id] = (other.priority, other.flow_name)
    return {cid: name for cid, (_, name) in found.items()}


def _describe_update(node: UpdateProfileNode) -> str:
    parts = [f"set {k}" for k in node.set]
    parts += [f"tag {t}" for t in node.add_tags]
    if node.unsubscribe:
        parts.append("unsubscribed")
    if node.suppress:
        parts.append("suppressed")
    return ", ".join(parts) or "nothing to change"
