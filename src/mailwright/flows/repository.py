"""Queries of the flows domain: flows and versions, runs, history, and the engine's bulk writes."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from mailwright.core.db import allocate_ids, in_values, table_of
from mailwright.flows.models import Flow, FlowMark, FlowRun, FlowRunStep, FlowVersion
from mailwright.flows.schemas import FlowDefinition

RUNS = table_of(FlowRun)
HISTORY = table_of(FlowRunStep)
FLOWS = table_of(Flow)


@dataclass(frozen=True)
class LoadedFlow:
    """A flow's identity and collision settings with one parsed version of its definition."""

    id: int
    name: str
    status: str
    group: str | None
    priority: int
    version: int
    definition: FlowDefinition
    activated_at: datetime | None


def flow_by_name(session: Session, name: str) -> Flow | None:
    """A flow by its name."""
    return session.scalars(select(Flow).where(Flow.name == name)).first()


def flow_by_name_or_id(session: Session, key: str) -> Flow | None:
    """A flow by name, or by id when the key is a number."""
    flow = flow_by_name(session, key)
    if flow is None and key.isdecimal():
        flow = session.get(Flow, int(key))
    return flow


def list_flows(session: Session) -> list[Flow]:
    """Every flow by name."""
    return list(session.scalars(select(Flow).order_by(Flow.name)))


def version_definition(session: Session, flow_id: int, version: int) -> dict[str, Any] | None:
    """The stored JSON of one version."""
    return session.scalars(
        select(FlowVersion.definition).where(FlowVersion.flow_id == flow_id, FlowVersion.version == version)
    ).first()


def load_version(session: Session, flow_id: int, version: int) -> LoadedFlow:
    """A flow with one version parsed (cached on the session: versions never change)."""
    cache: dict[tuple[int, int], LoadedFlow] = session.info.setdefault("flow_versions", {})
    key = (flow_id, version)
    loaded = cache.get(key)
    if loaded is None:
        row = session.execute(
            select(
                Flow.name, Flow.status, Flow.group, Flow.priority, Flow.activated_at, FlowVersion.definition
            )
            .join(FlowVersion, FlowVersion.flow_id == Flow.id)
            .where(Flow.id == flow_id, FlowVersion.version == version)
        ).first()
        if row is None:
            raise LookupError(f"flow {flow_id} has no version {version}")
        name, status, group, priority, activated_at, data = row
        loaded = LoadedFlow(
            id=flow_id,
            name=name,
            status=status,
            group=group,
            priority=priority,
            version=version,
            definition=_parse(data),
            activated_at=activated_at,
        )
        cache[key] = loaded
    return loaded


# Parsed definitions by their JSON text: a version never changes, and parsing is the costly part.
_PARSED: dict[str, FlowDefinition] = {}


def _parse(data: dict[str, Any]) -> FlowDefinition:
    text = json.dumps(data, sort_keys=True)
    parsed = _PARSED.get(text)
    if parsed is None:
        if len(_PARSED) > 500:
            _PARSED.clear()
        parsed = _PARSED[text] = FlowDefinition.model_validate(data)
    return parsed


def active_flows(session: Session) -> list[LoadedFlow]:
    """Every active flow with its current version."""
    rows = session.execute(
        select(Flow.id, Flow.current_version).where(Flow.status == "active").order_by(Flow.id)
    )
    return [load_version(session, fid, version) for fid, version in rows]


def forget_cached(session: Session) -> None:
    """Drop the session's parsed versions (a flow's status or current version changed)."""
    session.info.pop("flow_versions", None)


def run_counts(session: Session, flow_id: int) -> dict[str, int]:
    """Runs of a flow by status, plus converted."""
    counts = {
        status: int(n)
        for status, n in session.execute(
            select(FlowRun.status, func.count()).where(FlowRun.flow_id == flow_id).group_by(FlowRun.status)
        )
    }
    counts["converted"] = int(
        session.scalar(
            select(func.count())
            .select_from(FlowRun)
            .where(FlowRun.flow_id == flow_id, FlowRun.converted.is_(True))
        )
        or 0
    )
    return counts


@dataclass(frozen=True)
class PriorRun:
    """What entry rules need to know about a contact's earlier runs of a flow."""

    contact_id: int
    status: str
    started_at: datetime
    entry_key: str


def prior_runs(session: Session, flow_id: int, contact_ids: Sequence[int]) -> list[PriorRun]:
    """Earlier runs of a flow for these contacts."""
    if not contact_ids:
        return []
    rows = session.execute(
        select(RUNS.c.contact_id, RUNS.c.status, RUNS.c.started_at, RUNS.c.entry_key).where(
            RUNS.c.flow_id == flow_id, in_values(session, RUNS.c.contact_id, list(contact_ids))
        )
    )
    return [PriorRun(*row) for row in rows]


@dataclass(frozen=True)
class ActiveRun:
    """An active run of a contact in a grouped flow (for collision rules)."""

    run_id: int
    flow_id: int
    contact_id: int
    flow_name: str
    priority: int
    group: str


def active_in_group(session: Session, group: str, contact_ids: Sequence[int]) -> list[ActiveRun]:
    """Active runs of these contacts in flows of a priority group."""
    if not contact_ids:
        return []
    rows = session.execute(
        select(RUNS.c.id, RUNS.c.flow_id, RUNS.c.contact_id, FLOWS.c.name, FLOWS.c.priority, FLOWS.c.group)
        .join(FLOWS, FLOWS.c.id == RUNS.c.flow_id)
        .where(
            RUNS.c.status == "active",
            FLOWS.c.group == group,
            in_values(session, RUNS.c.contact_id, list(contact_ids)),
        )
    )
    return [ActiveRun(*row) for row in rows]


def insert_runs(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert runs in one statement; returns their ids in order."""
    if not rows:
        return []
    ids = allocate_ids(session, RUNS, len(rows))
    for run_id, row in zip(ids, rows, strict=True):
        row["id"] = run_id
    session.execute(insert(RUNS), rows)
    return ids


def insert_history(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append history lines in one statement."""
    if rows:
        session.execute(insert(HISTORY), rows)


_RUN_FIELDS = (
    "current_node",
    "status",
    "wake_at",
    "waiting_for",
    "waiting_since",
    "ended_at",
    "exit_reason",
    "converted",
    "steps",
    "updated_at",
)


def update_runs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write back many runs' state in one executemany (keyed by `run_id`)."""
    if not rows:
        return
    stmt = (
        update(RUNS)
        .where(RUNS.c.id == bindparam("run_id"))
        .values({name: bindparam(f"v_{name}") for name in _RUN_FIELDS})
    )
    session.connection().execute(
        stmt, [{"run_id": r["id"], **{f"v_{name}": r[name] for name in _RUN_FIELDS}} for r in rows]
    )


def end_runs(
    session: Session, run_ids: Iterable[int], *, status: str, reason: str, converted: bool, now: datetime
) -> None:
    """End active runs (goal, exit event, collision) with a reason."""
    ids = list(run_ids)
    if not ids:
        return
    session.execute(
        update(RUNS)
        .where(in_values(session, RUNS.c.id, ids), RUNS.c.status == "active")
        .values(
            status=status,
            exit_reason=reason,
            converted=converted,
            ended_at=now,
            wake_at=None,
            waiting_for=None,
            updated_at=now,
        )
    )


def marks(session: Session, flow_id: int) -> dict[int, str | None]:
    """The values a trigger last recorded per contact for a flow."""
    return {
        int(cid): value
        for cid, value in session.execute(
            select(FlowMark.contact_id, FlowMark.value).where(FlowMark.flow_id == flow_id)
        )
    }


def write_marks(
    session: Session, flow_id: int, values: dict[int, str | None], now: datetime, *, new: bool
) -> None:
    """Record (insert or update) the values a trigger saw."""
    if not values:
        return
    table = table_of(FlowMark)
    if new:
        session.execute(
            insert(table),
            [{"flow_id": flow_id, "contact_id": c, "value": v, "updated_at": now} for c, v in values.items()],
        )
        return
    session.connection().execute(
        update(table)
        .where(table.c.flow_id == flow_id, table.c.contact_id == bindparam("c"))
        .values(value=bindparam("v"), updated_at=now),
        [{"c": c, "v": v} for c, v in values.items()],
    )


def runs_of_flow(
    session: Session, flow_id: int, *, status: str | None, contact_id: int | None, limit: int, offset: int
) -> list[FlowRun]:
    """Runs of a flow, newest first."""
    stmt = select(FlowRun).where(FlowRun.flow_id == flow_id)
    if status:
        stmt = stmt.where(FlowRun.status == status)
    if contact_id is not None:
        stmt = stmt.where(FlowRun.contact_id == contact_id)
    return list(session.scalars(stmt.order_by(FlowRun.id.desc()).limit(limit).offset(offset)))


def history_of(session: Session, run_id: int) -> list[FlowRunStep]:
    """A run's history, oldest first."""
    return list(
        session.scalars(select(FlowRunStep).where(FlowRunStep.run_id == run_id).order_by(FlowRunStep.id))
    )
