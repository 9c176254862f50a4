"""Flows: save (validated, versioned), activate and pause, list runs and their history, start, tick."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailwright.core.errors import Conflict, InvalidInput, NotFound
from mailwright.core.uow import UnitOfWork
from mailwright.flows import engine, repository, scans, triggers, validation
from mailwright.flows.models import Flow, FlowVersion
from mailwright.flows.schemas import (
    ApiTrigger,
    FlowDefinition,
    FlowIn,
    FlowOut,
    HistoryOut,
    RunOut,
    StartIn,
    StartResult,
    ValidationReport,
)
from mailwright.templates import service as templates


def _template_checker(session: Session) -> Callable[[str], bool]:
    known: dict[str, bool] = {}

    def exists(name: str) -> bool:
        if name not in known:
            try:
                templates.get_template(session, name)
                known[name] = True
            except NotFound:
                known[name] = False
        return known[name]

    return exists


def validate_flow(uow: UnitOfWork, definition: dict[str, Any]) -> ValidationReport:
    """Every save-time check (shape, graph, templates) without saving."""
    return validation.validate(definition, _template_checker(uow.session))


def _out(session: Session, flow: Flow, *, with_counts: bool = True) -> FlowOut:
    definition = repository.version_definition(session, flow.id, flow.current_version) or {}
    return FlowOut(
        id=flow.id,
        name=flow.name,
        description=flow.description,
        status=flow.status,
        builtin=flow.builtin,
        group=flow.group,
        priority=flow.priority,
        version=flow.current_version,
        definition=definition,
        activated_at=flow.activated_at,
        created_at=flow.created_at,
        updated_at=flow.updated_at,
        runs=repository.run_counts(session, flow.id) if with_counts else {},
    )


def save_flow(uow: UnitOfWork, data: FlowIn, *, builtin: str | None = None) -> FlowOut:
    """Create a flow, or add a version when the definition changed; refused with the node named when invalid.

    Runs in flight stay on the version they started with; new runs get the new one.
    """
    session = uow.session
    now = uow.now()
    report = validate_flow(uow, data.definition)
    if not report.ok:
        first = report.issues[0]
        where = f" (node {first.node})" if first.node else ""
        raise InvalidInput(
            f"flow {data.name!r} refused: {first.message}{where}",
            field=f"definition.{first.field}",
            details=[i.model_dump() for i in report.issues],
        )
    definition = FlowDefinition.model_validate(data.definition)
    stored = definition.model_dump(mode="json", exclude_none=True)
    flow = repository.flow_by_name(session, data.name)
    if flow is None:
        flow = Flow(
            name=data.name,
            description=data.description,
            status="draft",
            builtin=builtin,
            group=definition.group,
            priority=definition.priority,
            current_version=0,
            created_at=now,
            updated_at=now,
        )
        session.add(flow)
        session.flush()
    elif repository.version_definition(session, flow.id, flow.current_version) == stored:
        if data.description and data.description != flow.description:
            flow.description = data.description
        return _out(session, flow)
    flow.current_version += 1
    flow.group = definition.group
    flow.priority = definition.priority
    flow.updated_at = now
    if data.description:
        flow.description = data.description
    session.add(FlowVersion(flow_id=flow.id, version=flow.current_version, definition=stored, created_at=now))
    session.flush()
    repository.forget_cached(session)
    return _out(session, flow)


def _flow(session: Session, key: str) -> Flow:
    flow = repository.flow_by_name_or_id(session, key)
    if flow is None:
        raise NotFound(f"no flow named {key!r}", field="name")
    return flow


def get_flow(session: Session, key: str) -> FlowOut:
    """One flow (by name or id) with its current definition and run counts."""
    return _out(session, _flow(session, key))


def list_flows(session: Session) -> list[FlowOut]:
    """Every flow with its status and run counts."""
    return [_out(session, f) for f in repository.list_flows(session)]


def activate(uow: UnitOfWork, key: str) -> FlowOut:
    """Switch a flow on (or resume a paused one: its runs continue where they were held)."""
    flow = _flow(uow.session, key)
    if flow.status != "active":
        flow.status = "active"
        if flow.activated_at is None:
            flow.activated_at = uow.now()
        flow.updated_at = uow.now()
        repository.forget_cached(uow.session)
    out = _out(uow.session, flow)
    return out.model_copy(update={"warnings": activation_warnings(uow.session, out)})


def activation_warnings(session: Session, flow: FlowOut) -> list[str]:
    """What will fail once the flow runs: emails whose templates take codes from an empty coupon pool."""
    names = [
        name
        for node in flow.definition.get("nodes", [])
        if node.get("type") == "send_email"
        for name in [node.get("template")] + [v.get("template") for v in node.get("variants", [])]
        if name
    ]
    return [
        f"template {template!r} takes a code from coupon pool {pool!r}, which is empty: its emails fail until "
        f"codes are uploaded (mailwright templates coupons {pool} FILE)"
        for template, pools in templates.empty_coupon_pools(session, names).items()
        for pool in pools
    ]


def pause(uow: UnitOfWork, key: str) -> FlowOut:
    """Pause a flow: no new runs, and runs in flight are held where they are until it is resumed."""
    flow = _flow(uow.session, key)
    if flow.status != "paused":
        flow.status = "paused"
        flow.updated_at = uow.now()
        repository.forget_cached(uow.session)
    return _out(uow.session, flow)


def list_runs(
    session: Session,
    key: str,
    *,
    status: str | None = None,
    contact_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[RunOut]:
    """Runs of a flow, newest first."""
    flow = _flow(session, key)
    return [
        RunOut.model_validate(r)
        for r in repository.runs_of_flow(
            session, flow.id, status=status, contact_id=contact_id, limit=limit, offset=offset
        )
    ]


def get_run(session: Session, run_id: int) -> RunOut:
    """One run with its history."""
    from mailwright.flows.models import FlowRun

    run = session.get(FlowRun, run_id)
    if run is None:
        raise NotFound(f"no flow run {run_id}", field="run_id")
    out = RunOut.model_validate(run)
    out.history = [HistoryOut.model_validate(h) for h in repository.history_of(session, run_id)]
    return out


def start(uow: UnitOfWork, key: str, data: StartIn, *, request_key: str | None = None) -> StartResult:
    """Start an API-triggered flow for contacts (idempotent on `request_key`)."""
    flow = _flow(uow.session, key)
    if flow.status != "active":
        raise Conflict(f"flow {flow.name!r} is {flow.status}, not active", field="name")
    loaded = repository.load_version(uow.session, flow.id, flow.current_version)
    if not isinstance(loaded.definition.trigger, ApiTrigger):
        raise Conflict(f"flow {flow.name!r} is not started by the API", field="name")
    report = triggers.start_for_contacts(
        uow, loaded, data.contact_ids, data.properties, request_key or uuid.uuid4().hex
    )
    return StartResult(started=report.started, refused=dict(report.refused))


def tick(
    uow_factory: Callable[[], Any], now: datetime, *, default_zone: str = "UTC", limit: int = 1000
) -> engine.BatchReport:
    """Do all flow work due at `now`: periodic triggers, then every due run (each batch its own transaction)."""
    with uow_factory() as uow:
        scans.scan(uow, now, default_zone=default_zone)
    return engine.advance_all(uow_factory, now, limit=limit)
